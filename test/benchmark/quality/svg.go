package quality

import (
	"fmt"
	"html"
	"strings"
)

// chartStyle per policy: colour and dash pattern; snug is drawn last and
// thicker.
var chartStyle = map[string][2]string{
	"least-allocated":             {"#1f77b4", ""},
	"most-allocated":              {"#ff7f0e", "6 3"},
	"requested-to-capacity-ratio": {"#2ca02c", "2 2"},
	"balanced-allocation":         {"#9467bd", "8 3 2 3"},
	"best-fit":                    {"#8c564b", ""},
	"tetris":                      {"#e377c2", "6 3"},
	"random":                      {"#7f7f7f", "2 2"},
	SnugPolicy:                    {"#d62728", ""},
}

// ChartA returns a hand-written SVG of protocol A: GPU allocation against
// offered load per policy, the whole range on the left and the region past
// 80% offered load enlarged on the right.
func ChartA(res *Results) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	const W, H = 960, 470
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	p(`<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	title := "Protocol A: GPU allocation vs offered load (openb trace"
	if len(res.A) > 0 {
		title += fmt.Sprintf(", %.0f GPUs", res.A[0].ClusterGPUs)
	}
	title += ")"
	p(`<text x="%d" y="22" text-anchor="middle" font-size="15" font-weight="bold">%s</text>`+"\n", W/2, html.EscapeString(title))
	type panel struct {
		x, y, w, h             float64
		x0, x1, y0, y1, xs, ys float64 // data ranges and tick steps
		label                  string
	}
	panels := []panel{
		{60, 45, 380, 320, 0, 1.3, 0, 1, 0.1, 0.1, "full range"},
		{530, 45, 380, 320, 0.8, 1.3, 0.85, 1, 0.1, 0.025, "past 80% offered (enlarged)"},
	}
	for _, pn := range panels {
		X := func(v float64) float64 { return pn.x + (v-pn.x0)/(pn.x1-pn.x0)*pn.w }
		Y := func(v float64) float64 { return pn.y + pn.h - (v-pn.y0)/(pn.y1-pn.y0)*pn.h }
		p(`<g>` + "\n")
		p(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#444"/>`+"\n", pn.x, pn.y, pn.w, pn.h)
		for v := pn.x0; v <= pn.x1+1e-9; v += pn.xs {
			p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", X(v), pn.y, X(v), pn.y+pn.h)
			p(`<text x="%.1f" y="%.1f" text-anchor="middle">%.0f%%</text>`+"\n", X(v), pn.y+pn.h+16, 100*v)
		}
		for v := pn.y0; v <= pn.y1+1e-9; v += pn.ys {
			p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", pn.x, Y(v), pn.x+pn.w, Y(v))
			p(`<text x="%.1f" y="%.1f" text-anchor="end">%g%%</text>`+"\n", pn.x-5, Y(v)+4, 100*v)
		}
		// Ideal: allocation = offered up to 100%.
		lo, hi := pn.x0, min(1.0, pn.x1)
		if pn.y0 > lo {
			lo = pn.y0
		}
		p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000" stroke-opacity="0.35" stroke-dasharray="1 3"/>`+"\n", X(lo), Y(lo), X(hi), Y(hi))
		p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000" stroke-opacity="0.35" stroke-dasharray="1 3"/>`+"\n", X(1), Y(1), X(pn.x1), Y(1))
		p(`<text x="%.1f" y="%.1f" text-anchor="middle">offered load (GPUs requested / cluster GPUs) — %s</text>`+"\n", pn.x+pn.w/2, pn.y+pn.h+34, pn.label)
		p(`<text transform="translate(%.1f %.1f) rotate(-90)" text-anchor="middle">GPU allocation</text>`+"\n", pn.x-42, pn.y+pn.h/2)
		p(`<clipPath id="clip%.0f"><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f"/></clipPath>`+"\n", pn.x, pn.x, pn.y, pn.w, pn.h)
		order := append([]*AResult{}, res.A...)
		for i, a := range order { // snug on top
			if a.Policy == SnugPolicy && i != len(order)-1 {
				order = append(append(order[:i:i], order[i+1:]...), a)
				break
			}
		}
		for _, a := range order {
			st := chartStyle[a.Policy]
			if st[0] == "" {
				st[0] = "#000"
			}
			width := "1.6"
			if a.Policy == SnugPolicy {
				width = "2.8"
			}
			var pts []string
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", X(0), Y(0)))
			for _, pt := range a.Points {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", X(pt.Target), Y(pt.Cluster.Allocation(GPU))))
			}
			dash := ""
			if st[1] != "" {
				dash = fmt.Sprintf(` stroke-dasharray="%s"`, st[1])
			}
			p(`<polyline clip-path="url(#clip%.0f)" fill="none" stroke="%s" stroke-width="%s"%s points="%s"><title>%s</title></polyline>`+"\n",
				pn.x, st[0], width, dash, strings.Join(pts, " "), html.EscapeString(a.Policy))
		}
		p(`</g>` + "\n")
	}
	// Legend.
	lx, ly := 60.0, 420.0
	for i, a := range res.A {
		st := chartStyle[a.Policy]
		x := lx + float64(i%4)*220
		y := ly + float64(i/4)*20
		dash := ""
		if st[1] != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, st[1])
		}
		width := "1.6"
		if a.Policy == SnugPolicy {
			width = "2.8"
		}
		p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%s"%s/>`+"\n", x, y, x+30, y, st[0], width, dash)
		p(`<text x="%.1f" y="%.1f">%s</text>`+"\n", x+36, y+4, html.EscapeString(a.Policy))
	}
	p("</svg>\n")
	return b.String()
}
