package planner

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// palette colours the profiles, in profile order (Okabe-Ito, colour-blind safe).
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"}

// series is one profile's allocation curve.
type series struct {
	label string
	curve []CurvePoint
}

// WriteSVG draws the allocation curves: one panel per reported resource
// (cpu, memory, nvidia.com/gpu, ...), x the share of the workload submitted
// (0-100% in 10% steps), y the share of the cluster's allocatable requested
// by placed pods, one polyline per profile (class "series", data-profile
// the profile's name). Without a comparison, the curves of sizing mode's
// result (at the fewest nodes) are drawn.
func WriteSVG(w io.Writer, r *Report) error {
	var ss []series
	for _, p := range r.Profiles {
		ss = append(ss, series{label: p.Profile, curve: p.Curve})
	}
	if len(ss) == 0 && r.Sizing != nil {
		for _, p := range r.Sizing.Profiles {
			var curve []CurvePoint
			if p.Result != nil {
				curve = p.Result.Curve
			}
			ss = append(ss, series{label: fmt.Sprintf("%s (%d nodes)", p.Profile, p.Nodes), curve: curve})
		}
	}
	const (
		plotW, plotH = 320, 220
		left, right  = 56, 24
		top, bottom  = 84, 56
		panelW       = left + plotW + right
		panelH       = top + plotH + bottom
	)
	width := panelW * max(1, len(r.Resources))
	ew := &errWriter{w: w}
	ew.printf(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	ew.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n", width, panelH, width, panelH)
	title := "Allocation against offered load"
	ew.printf("<title>%s</title>\n", esc(title))
	ew.printf(`<style>text{font-family:sans-serif;font-size:12px;fill:#222}.grid{stroke:#ddd;stroke-width:1}.frame{fill:none;stroke:#888}.series{fill:none;stroke-linejoin:round;stroke-opacity:0.9}</style>` + "\n")
	ew.printf(`<rect width="%d" height="%d" fill="#fff"/>`+"\n", width, panelH)
	ew.printf(`<text x="12" y="22" style="font-size:15px;font-weight:bold">%s</text>`+"\n", esc(title))
	// Legend.
	ew.printf(`<g class="legend">` + "\n")
	x := 12
	for i, s := range ss {
		c := palette[i%len(palette)]
		ew.printf(`<line x1="%d" y1="42" x2="%d" y2="42" stroke="%s" stroke-width="%d"/>`, x, x+24, c, strokeWidth(i, len(ss)))
		ew.printf(`<text x="%d" y="46">%s</text>`+"\n", x+30, esc(s.label))
		x += 30 + 8*len(s.label) + 24
	}
	ew.printf("</g>\n")
	for pi, res := range r.Resources {
		ox := pi * panelW
		ew.printf(`<g class="panel" data-resource="%s" transform="translate(%d,%d)">`+"\n", esc(res), ox+left, top)
		ew.printf(`<text x="%d" y="-10" text-anchor="middle" style="font-weight:bold">%s allocated</text>`+"\n", plotW/2, esc(res))
		for t := 0; t <= 100; t += 10 {
			px := t * plotW / 100
			ew.printf(`<line class="grid" x1="%d" y1="0" x2="%d" y2="%d"/>`, px, px, plotH)
			if t%20 == 0 {
				ew.printf(`<text x="%d" y="%d" text-anchor="middle">%d%%</text>`, px, plotH+16, t)
			}
			ew.printf("\n")
		}
		for t := 0; t <= 100; t += 25 {
			py := plotH - t*plotH/100
			ew.printf(`<line class="grid" x1="0" y1="%d" x2="%d" y2="%d"/><text x="-6" y="%d" text-anchor="end">%d%%</text>`+"\n", py, plotW, py, py+4, t)
		}
		ew.printf(`<rect class="frame" width="%d" height="%d"/>`+"\n", plotW, plotH)
		ew.printf(`<text x="%d" y="%d" text-anchor="middle">workload submitted</text>`+"\n", plotW/2, plotH+38)
		for i, s := range ss {
			var pts []string
			for _, pt := range s.curve {
				v := pt.AllocatedPercent[res]
				if v == nil {
					continue
				}
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", float64(pt.SubmittedPercent)*plotW/100, plotH-*v*plotH/100))
			}
			// Earlier profiles draw wider, so that equal curves stay visible.
			ew.printf(`<polyline class="series" data-profile="%s" stroke="%s" stroke-width="%d" points="%s"/>`+"\n",
				esc(s.label), palette[i%len(palette)], strokeWidth(i, len(ss)), strings.Join(pts, " "))
		}
		ew.printf("</g>\n")
	}
	ew.printf("</svg>\n")
	return ew.err
}

func strokeWidth(i, n int) int { return min(10, 2+3*(n-1-i)) }

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
