package latency

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Property is one JUnit property: name latency.<key>.<statistic>, values in milliseconds.
type Property struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// Properties lists the report's figures as JUnit properties, for merging into a suite's JUnit
// report or for WriteJUnit.
func (r *Report) Properties() []Property {
	ps := []Property{{"latency.passed", strconv.FormatBool(r.Passed)}}
	msv := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', -1, 64) }
	for _, o := range r.Operations {
		p := "latency." + o.Key + "."
		ps = append(ps, Property{p + "count", strconv.Itoa(o.Measured.Count)})
		if o.Measured.Count > 0 {
			ps = append(ps,
				Property{p + "p50_ms", msv(o.Measured.P50)},
				Property{p + "p95_ms", msv(o.Measured.P95)},
				Property{p + "p99_ms", msv(o.Measured.P99)},
				Property{p + "max_ms", msv(o.Measured.Max)},
				Property{p + "mean_ms", msv(o.Measured.Mean)},
				Property{p + "floor_p50_ms", msv(o.Floor.P50)},
				Property{p + "compute_p50_ms", msv(o.Compute.P50)},
				Property{p + "remainder_p50_ms", msv(o.Remainder.P50)},
			)
			if o.Fidelity.Samples > 0 {
				ps = append(ps, Property{p + "fidelity", strconv.FormatFloat(o.Fidelity.Ratio, 'f', -1, 64)})
			}
		}
		if o.Budget != nil {
			ps = append(ps, Property{p + "ceiling_ms", msv(time.Duration(o.Budget.Target))})
		}
		ps = append(ps, Property{p + "verdict", o.Verdict.Status})
	}
	return ps
}

type junitSuites struct {
	XMLName  xml.Name   `xml:"testsuites"`
	Name     string     `xml:"name,attr"`
	Tests    int        `xml:"tests,attr"`
	Failures int        `xml:"failures,attr"`
	Suites   []junitSet `xml:"testsuite"`
}

type junitSet struct {
	Name       string      `xml:"name,attr"`
	Tests      int         `xml:"tests,attr"`
	Failures   int         `xml:"failures,attr"`
	Errors     int         `xml:"errors,attr"`
	Skipped    int         `xml:"skipped,attr"`
	Properties []Property  `xml:"properties>property"`
	Cases      []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes a JUnit XML file: one test case per row (failed when its verdict fails the
// run, skipped when there is nothing to judge) and the figures as suite properties. The case's
// time is the judged statistic, in seconds.
func (r *Report) WriteJUnit(w io.Writer) error {
	set := junitSet{Name: "latency", Properties: r.Properties()}
	for _, o := range r.Operations {
		c := junitCase{Name: o.Key, Classname: "latency", SystemOut: o.Verdict.Reason,
			Time: strconv.FormatFloat(o.Verdict.Value.Seconds(), 'f', 6, 64)}
		switch {
		case o.Verdict.Failed:
			c.Failure = &junitMessage{Message: o.Verdict.Status + ": " + o.Verdict.Reason, Type: o.Verdict.Status, Text: o.Verdict.Reason}
			set.Failures++
		case o.Verdict.Status == StatusNotMeasured || o.Verdict.Status == StatusNoBudget:
			c.Skipped = &junitMessage{Message: o.Verdict.Reason}
			set.Skipped++
		}
		set.Tests++
		set.Cases = append(set.Cases, c)
	}
	doc := junitSuites{Name: "latency", Tests: set.Tests, Failures: set.Failures, Suites: []junitSet{set}}
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s%s\n", xml.Header, b)
	return err
}
