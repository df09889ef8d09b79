package latency

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteMarkdown writes the summary for a CI job page.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	outcome := "PASS"
	if !r.Passed {
		outcome = "FAIL"
	}
	fmt.Fprintf(&b, "## Latency: %s\n\n", outcome)
	fmt.Fprintf(&b, "Rig `%s`, %s", orDash(r.Run.Rig), r.Run.Mode)
	if r.Sheet != nil {
		fmt.Fprintf(&b, ", budget sheet `%s`", r.Sheet.Name)
	}
	if r.Run.Label != "" {
		fmt.Fprintf(&b, ", %s", r.Run.Label)
	}
	if r.SoftwareOnly() {
		b.WriteString(", **" + r.SoftwareMessage() + "**")
	} else if len(r.Profiles) > 0 {
		fmt.Fprintf(&b, ", profiles %s", strings.Join(r.Profiles, ", "))
	}
	b.WriteString(". Percentiles are nearest-rank; floor is the wire time of the frames that crossed the bus; " +
		"compute is the devices' modelled crypto; rest is what neither explains.\n\n")
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "> ⚠️ %s\n\n", w)
	}
	b.WriteString("| operation | n | p50 | p95 | p99 | max | floor p50 | compute p50 | rest p50 | fidelity | budget | verdict |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |\n")
	for _, o := range r.Operations {
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			o.Key, o.Measured.Count, msCell(o.Measured.P50, o.Measured.Count), msCell(o.Measured.P95, o.Measured.Count),
			msCell(o.Measured.P99, o.Measured.Count), msCell(o.Measured.Max, o.Measured.Count),
			msCell(o.Floor.P50, o.Floor.Count), msCell(o.Compute.P50, o.Compute.Count),
			msCell(o.Remainder.P50, o.Remainder.Count), fidelityCell(o.Fidelity), budgetCell(o.Budget), verdictCell(o.Verdict))
	}
	var notes []string
	for _, o := range r.Operations {
		if o.Verdict.Status != StatusPass && o.Verdict.Status != StatusNoBudget {
			notes = append(notes, fmt.Sprintf("- **%s** (%s): %s", o.Key, o.Verdict.Status, o.Verdict.Reason))
		}
		if o.Fidelity.Checked && !o.Fidelity.OK {
			notes = append(notes, fmt.Sprintf("- **%s**: emulation fidelity %.3f above the %.2f target (measured / floor at p50)",
				o.Key, o.Fidelity.Ratio, o.Fidelity.Target))
		}
	}
	if len(notes) > 0 {
		b.WriteString("\n" + strings.Join(notes, "\n") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func msCell(d time.Duration, n int) string {
	if n == 0 {
		return "—"
	}
	return ms(d)
}

func fidelityCell(f Fidelity) string {
	if f.Samples == 0 {
		return "—"
	}
	s := fmt.Sprintf("%.2f", f.Ratio)
	if f.Checked && !f.OK {
		s += " ⚠"
	}
	return s
}

func budgetCell(b *Budget) string {
	if b == nil {
		return "—"
	}
	st := b.Statistic
	if st == "" {
		st = StatP99
	}
	s := fmt.Sprintf("%s < %s", st, ms(time.Duration(b.Target)))
	if b.Per == PerFrame {
		s += " per frame"
	}
	if b.Kind != "" {
		s += " (" + b.Kind + ")"
	}
	return s
}

func verdictCell(v Verdict) string {
	switch v.Status {
	case StatusPass:
		return "✅ pass"
	case StatusFail:
		return "❌ fail"
	case StatusImpossible:
		return "❌ impossible on real silicon"
	case StatusWaived:
		return "⚠️ waived (impossible on real silicon)"
	case StatusSoftwareOnly:
		return "ℹ️ software-only"
	case StatusNotMeasured:
		return "— not measured"
	}
	return v.Status
}
