package latency

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// Histogram geometry, in SVG user units.
const (
	svgW, svgH                         = 640, 230
	marginL, marginR, marginT, marginB = 48, 32, 28, 42
)

// histogramSVG draws a row's measured samples as a histogram, with the floor, p50, p99 and the
// ceiling marked. It returns "" for a row without samples.
func histogramSVG(o *Operation) string {
	n := len(o.Samples)
	if n == 0 {
		return ""
	}
	lo, hi := o.Measured.Min, o.Measured.Max
	if o.Floor.Count > 0 && o.Floor.P50 > 0 && o.Floor.P50 < lo {
		lo = o.Floor.P50
	}
	var ceiling time.Duration
	if o.Budget != nil && o.Budget.Per != PerFrame {
		ceiling = time.Duration(o.Budget.Target)
	}
	ceilingShown := ceiling > 0 && ceiling <= 3*hi
	if ceilingShown && ceiling > hi {
		hi = ceiling
	}
	if ceilingShown && ceiling < lo {
		lo = ceiling
	}
	span := float64(hi - lo)
	if span <= 0 {
		span = math.Max(float64(hi)*0.1, 1000)
	}
	x0, x1 := float64(lo)-span*0.05, float64(hi)+span*0.05
	if x0 < 0 {
		x0 = 0
	}
	bins := int(math.Ceil(math.Sqrt(float64(n))))
	bins = min(max(bins, 5), 40)
	counts := make([]int, bins)
	mlo, mhi := float64(o.Measured.Min), float64(o.Measured.Max)
	width := (mhi - mlo) / float64(bins)
	if width <= 0 {
		width = span / float64(bins) / 4
		if width <= 0 {
			width = 1
		}
	}
	for _, s := range o.Samples {
		i := int((float64(s.Measured) - mlo) / width)
		i = min(max(i, 0), bins-1)
		counts[i]++
	}
	top := 1
	for _, c := range counts {
		top = max(top, c)
	}
	pw, ph := float64(svgW-marginL-marginR), float64(svgH-marginT-marginB)
	xs := func(v float64) float64 { return float64(marginL) + (v-x0)/(x1-x0)*pw }
	ys := func(c int) float64 { return float64(marginT) + ph - float64(c)/float64(top)*ph }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11" role="img">`, svgW, svgH, svgW, svgH)
	fmt.Fprintf(&b, `<title>%s: %d samples</title>`, html.EscapeString(o.Key), n)
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="#fff"/>`, svgW, svgH)
	for i, c := range counts {
		if c == 0 {
			continue
		}
		a, z := xs(mlo+float64(i)*width), xs(mlo+float64(i+1)*width)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#7a9cc6" stroke="#345" stroke-width="0.5"/>`,
			a, ys(c), math.Max(z-a, 1), ys(0)-ys(c))
	}
	// Axes and ticks.
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#000"/>`, marginL, ys(0), svgW-marginR, ys(0))
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%.1f" stroke="#000"/>`, marginL, marginT, marginL, ys(0))
	step := niceStep((x1 - x0) / 5)
	first := math.Ceil(x0/step) * step
	for i := 0; i <= 12; i++ { // bounded: at huge values adding step may not move a float64
		v := first + float64(i)*step
		if v > x1 {
			break
		}
		x := xs(v)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000"/>`, x, ys(0), x, ys(0)+4)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x, ys(0)+16, html.EscapeString(ms(time.Duration(v))))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%d</text>`, marginL-4, ys(top)+4, top)
	fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">0</text>`, marginL-4, ys(0)+4)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">measured (samples per bin)</text>`, float64(marginL)+pw/2, svgH-6)
	// Markers, each with a label in the top margin.
	type mark struct {
		v      time.Duration
		color  string
		label  string
		dashed bool
	}
	marks := []mark{}
	if o.Floor.Count > 0 && o.Floor.P50 > 0 {
		marks = append(marks, mark{o.Floor.P50, "#1f77b4", "floor", true})
	}
	marks = append(marks, mark{o.Measured.P50, "#222", "p50", false}, mark{o.Measured.P99, "#e67e22", "p99", false})
	if ceilingShown {
		marks = append(marks, mark{ceiling, "#c0392b", "ceiling", true})
	}
	for i, m := range marks {
		x := xs(float64(m.v))
		dash := ""
		if m.dashed {
			dash = ` stroke-dasharray="4 3"`
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5"%s/>`, x, marginT, x, ys(0), m.color, dash)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="%s" text-anchor="middle">%s</text>`, x, 11+(i%2)*12, m.color, m.label)
	}
	if ceiling > 0 && !ceilingShown {
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#c0392b" text-anchor="end">ceiling %s →</text>`, svgW-marginR, 11, html.EscapeString(ms(ceiling)))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// niceStep rounds a tick spacing up to 1, 2 or 5 times a power of ten.
func niceStep(rough float64) float64 {
	if rough <= 0 {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(rough)))
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= rough {
			return m * mag
		}
	}
	return 10 * mag
}
