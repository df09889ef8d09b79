package latency

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestReadReportErrors(t *testing.T) {
	good, err := os.ReadFile("testdata/modelled.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ReadReport(bytes.NewReader(good)); err != nil {
		t.Fatalf("golden report: %v", err)
	}
	tests := map[string]string{
		"empty":          "",
		"not json":       "latency",
		"wrong schema":   `{"schema":"other/1","operations":[]}`,
		"no schema":      `{"operations":[]}`,
		"trailing":       `{"schema":"hilrun-latency/1"} {}`,
		"empty key":      `{"schema":"hilrun-latency/1","operations":[{"key":""}]}`,
		"duplicate key":  `{"schema":"hilrun-latency/1","operations":[{"key":"a"},{"key":"a"}]}`,
		"negative count": `{"schema":"hilrun-latency/1","operations":[{"key":"a","measured":{"count":-1}}]}`,
		"disorder":       `{"schema":"hilrun-latency/1","operations":[{"key":"a","measured":{"count":2,"min_ns":5,"p50_ns":1,"max_ns":9,"mean_ns":5,"p95_ns":9,"p99_ns":9}}]}`,
		"negative floor": `{"schema":"hilrun-latency/1","operations":[{"key":"a","floor":{"count":1,"min_ns":-1,"p50_ns":-1,"max_ns":-1,"mean_ns":-1,"p95_ns":-1,"p99_ns":-1}}]}`,
		"bad sample":     `{"schema":"hilrun-latency/1","operations":[{"key":"a","samples":[{"measured_ns":-4}]}]}`,
		"wrong type":     `{"schema":"hilrun-latency/1","operations":{"key":"a"}}`,
	}
	for name, in := range tests {
		if _, err := ReadReport(strings.NewReader(in)); !errors.Is(err, ErrBadReport) {
			t.Errorf("%s: %v, want ErrBadReport", name, err)
		}
	}
	// Newer fields are ignored, so releases compare across schema additions.
	if _, err := ReadReport(strings.NewReader(`{"schema":"hilrun-latency/1.1","later":1,"operations":[{"key":"a","later":2}]}`)); err != nil {
		t.Errorf("unknown fields: %v", err)
	}
}

func FuzzReadReport(f *testing.F) {
	// Small seeds: the golden reports hold hundreds of samples, which makes each execution slow.
	for _, r := range []*Report{modelledRun(f), zeroRun(f)} {
		for i := range r.Operations {
			r.Operations[i].Samples = r.Operations[i].Samples[:min(1, len(r.Operations[i].Samples))]
		}
		var b bytes.Buffer
		if err := r.WriteJSON(&b); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
	}
	f.Add([]byte(`{"schema":"hilrun-latency/1","operations":[{"key":"a","measured":{"count":1,"p50_ns":1,"p95_ns":1,"p99_ns":1,"max_ns":1,"min_ns":1,"mean_ns":1}}]}`))
	f.Add([]byte(`{"schema":"hilrun-latency/1","operations":[{"key":"a","per_frame":null,"verdict":{"prediction":{"steps":[{}]}}}]}`))
	f.Add([]byte(`{"schema":"hilrun-latency/1","operations":[{"key":"a","samples":[{"operation":"a","nodes":[96,64,1],"paced":true}]}]}`))
	f.Add([]byte(`{"schema":"hilrun-latency/1","operations":[{"key":"a","samples":[{"operation":"a","nodes":"YEAB"}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ReadReport(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrBadReport) {
				t.Fatalf("error does not wrap ErrBadReport: %v", err)
			}
			return
		}
		// Whatever it accepts, every writer and the comparison take without panicking.
		var out bytes.Buffer
		if err := r.WriteJSON(&out); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadReport(&out); err != nil {
			t.Fatalf("re-read of an accepted report: %v", err)
		}
		r.WriteMarkdown(&out)
		r.WriteHTML(&out)
		r.WriteJUnit(&out)
		Compare(r, r, 0.1).WriteMarkdown(&out)
	})
}

func TestNodesJSON(t *testing.T) {
	b, err := json.Marshal(Sample{Operation: "op", Nodes: Nodes{0x60, 0x40, 0x01}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"nodes":[96,64,1]`)) {
		t.Errorf("nodes not an array of numbers: %s", b)
	}
	for in, want := range map[string]Nodes{
		`{"nodes":[96,64,1]}`: {0x60, 0x40, 0x01},
		`{"nodes":"YEAB"}`:    {0x60, 0x40, 0x01}, // base64, as earlier reports wrote them
		`{"nodes":[]}`:        {},
		`{"nodes":null}`:      nil,
		`{}`:                  nil,
	} {
		var s Sample
		if err := json.Unmarshal([]byte(in), &s); err != nil || !bytes.Equal(s.Nodes, want) || (want == nil) != (s.Nodes == nil) {
			t.Errorf("%s: %v %v", in, s.Nodes, err)
		}
	}
	for _, in := range []string{`{"nodes":[256]}`, `{"nodes":[-1]}`, `{"nodes":"!!"}`, `{"nodes":{}}`, `{"nodes":[1.5]}`} {
		var s Sample
		if err := json.Unmarshal([]byte(in), &s); err == nil {
			t.Errorf("%s accepted: %v", in, s.Nodes)
		}
	}
	doc := `{"schema":"hilrun-latency/1","operations":[{"key":"a","samples":[{"operation":"a","nodes":[300]}]}]}`
	if _, err := ReadReport(strings.NewReader(doc)); !errors.Is(err, ErrBadReport) {
		t.Errorf("out-of-range node: %v", err)
	}
}
