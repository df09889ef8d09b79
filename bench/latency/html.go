package latency

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"
)

var pageTmpl = template.Must(template.New("latency").Funcs(template.FuncMap{
	"ms":     func(d time.Duration) string { return ms(d) },
	"cell":   msCell,
	"anchor": func(key string) string { return "op-" + strings.ReplaceAll(key, "/", "--") },
	"roles": func(m map[string]string) []string {
		rs := make([]string, 0, len(m))
		for r := range m {
			rs = append(rs, r)
		}
		sort.Strings(rs)
		return rs
	},
	"budget":   budgetCell,
	"fidelity": fidelityCell,
	"svg": func(o Operation) template.HTML {
		return template.HTML(histogramSVG(&o)) // built from numbers and escaped text only
	},
	"rows": func(o Operation) []statRow {
		rs := []statRow{{"measured", o.Measured}, {"wire floor", o.Floor}, {"modelled compute", o.Compute}, {"rest", o.Remainder}}
		if o.PerFrame != nil {
			rs = append(rs, statRow{"measured per frame", *o.PerFrame})
		}
		return rs
	},
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Latency report{{with .Run.Rig}}: {{.}}{{end}}</title>
<style>
body{font-family:sans-serif;margin:2em;max-width:72em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #bbb;padding:.25em .5em}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#eee}
.pass{color:#1e7d32}.fail,.impossible{color:#b71c1c;font-weight:bold}.waived,.software-only{color:#8a6d00}
.outcome{font-size:1.4em}section{margin-top:2em;border-top:1px solid #ccc}
</style></head><body>
<h1>Latency report</h1>
<p class="outcome {{if .Passed}}pass{{else}}fail{{end}}">{{if .Passed}}PASS{{else}}FAIL: {{len .Failures}} row(s) failed{{end}}</p>
<p>Rig <code>{{or .Run.Rig "—"}}</code>, {{.Run.Mode}}{{with .Sheet}}, budget sheet <code>{{.Name}}</code> ({{.Bitrate}} bit/s){{end}}{{with .Run.Label}}, {{.}}{{end}}{{if .SoftwareOnly}}, <strong>{{.SoftwareMessage}}</strong>{{else}}{{with .Profiles}}, profiles {{range $i, $p := .}}{{if $i}}, {{end}}{{$p}}{{end}}{{end}}{{end}}; generated {{.Generated.Format "2006-01-02 15:04:05 UTC"}}.
Percentiles are nearest-rank. The wire floor is the bit-accurate time of the frames that crossed the bus in each sample's window;
modelled compute is what the devices' cost profiles charged; the rest is the bench's own overhead on an emulated rig, the firmware's on a real one.
Predictions on real silicon use {{range $i, $role := roles .Silicon}}{{if $i}}, {{end}}{{$role}} {{index $.Silicon $role}}{{end}}.</p>
{{range .Warnings}}<p class="waived">⚠ {{.}}</p>
{{end}}<table><tr><th>operation</th><th>n</th><th>p50</th><th>p95</th><th>p99</th><th>max</th><th>floor p50</th><th>compute p50</th><th>rest p50</th><th>fidelity</th><th>budget</th><th>verdict</th></tr>
{{range .Operations}}<tr><td><a href="#{{anchor .Key}}">{{.Key}}</a></td><td class="n">{{.Measured.Count}}</td>
<td class="n">{{cell .Measured.P50 .Measured.Count}}</td><td class="n">{{cell .Measured.P95 .Measured.Count}}</td><td class="n">{{cell .Measured.P99 .Measured.Count}}</td><td class="n">{{cell .Measured.Max .Measured.Count}}</td>
<td class="n">{{cell .Floor.P50 .Floor.Count}}</td><td class="n">{{cell .Compute.P50 .Compute.Count}}</td><td class="n">{{cell .Remainder.P50 .Remainder.Count}}</td>
<td class="n">{{fidelity .Fidelity}}</td><td>{{budget .Budget}}</td><td class="{{.Verdict.Status}}">{{.Verdict.Status}}</td></tr>
{{end}}</table>
{{range .Operations}}<section id="{{anchor .Key}}"><h2>{{.Key}} <span class="{{.Verdict.Status}}">{{.Verdict.Status}}</span></h2>
<p>{{.Verdict.Reason}}</p>
{{with .Verdict.Prediction}}<p>On real silicon ({{.Source}}): wire floor {{ms .Floor}} + modelled compute {{ms .Compute}} = {{ms .Total}}{{if .PerFrame}} ({{ms .PerFrame}} per frame over {{.Frames}} frames){{end}}.{{range .Steps}} {{.Role}} ({{.Profile}}) {{.Units}}× {{.Op}}: {{ms .Cost}}.{{end}}</p>{{end}}
{{if .Samples}}{{svg .}}
<table><tr><th></th><th>n</th><th>min</th><th>mean</th><th>p50</th><th>p95</th><th>p99</th><th>max</th></tr>
{{range rows .}}<tr><td>{{.Name}}</td><td class="n">{{.S.Count}}</td><td class="n">{{ms .S.Min}}</td><td class="n">{{ms .S.Mean}}</td><td class="n">{{ms .S.P50}}</td><td class="n">{{ms .S.P95}}</td><td class="n">{{ms .S.P99}}</td><td class="n">{{ms .S.Max}}</td></tr>
{{end}}</table>{{end}}</section>
{{end}}</body></html>
`))

type statRow struct {
	Name string
	S    Stats
}

// WriteHTML writes a self-contained page: the summary table, then per operation its verdict,
// an inline SVG histogram and its statistics.
func (r *Report) WriteHTML(w io.Writer) error {
	if err := pageTmpl.Execute(w, r); err != nil {
		return fmt.Errorf("latency: html: %w", err)
	}
	return nil
}
