package planner

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	corev1 "k8s.io/api/core/v1"
)

// WriteJSON writes the report as indented JSON (see the package doc).
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report as tables for people.
func WriteTable(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	in := r.Input
	var src []string
	if in.Example != "" {
		src = append(src, "example "+in.Example)
	}
	if in.Workload != "" {
		src = append(src, "workload "+in.Workload)
	}
	if in.Nodes != "" {
		src = append(src, "nodes "+in.Nodes)
	}
	pre := "off"
	if in.Preemption {
		pre = "on"
	}
	ew.printf("Workload: %d pods, %d distinct shapes", in.PodCount, r.Shapes)
	if r.ShapesUsed < r.Shapes {
		ew.printf(" (stranding judged against the %d most frequent)", r.ShapesUsed)
	}
	if len(src) > 0 {
		ew.printf(" (%s)", strings.Join(src, ", "))
	}
	ew.printf("; preemption %s.\n", pre)
	if in.ScoreAllNodes {
		ew.printf("Nodes scored: every feasible node in each cycle (--score-all-nodes).\n")
	} else {
		ew.printf("Nodes scored: a sample above 100 nodes, as kube-scheduler takes it with each profile's percentageOfNodesToScore.\n")
	}

	if r.Profiles != nil {
		ew.printf("Cluster: %d nodes. Pods are submitted one at a time in file order.\n\n", in.NodeCount)
		writeSummary(ew, r.Profiles, in.Preemption)
		ew.printf("\nAllocation (requests / allocatable) and stranded capacity (free capacity no pod shape of the workload can use):\n")
		writeResources(ew, r.Profiles)
		writeFailures(ew, r.Profiles)
	}
	if r.Sizing != nil {
		if r.Profiles != nil {
			ew.printf("\n")
		}
		writeSizing(ew, r)
	}
	return ew.err
}

func writeSummary(ew *errWriter, profiles []ProfileReport, preemption bool) {
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	hdr := "PROFILE\tSOURCE\tPODS\tPLACED\tFAILED"
	if preemption {
		hdr += "\tPREEMPTED"
	}
	fmt.Fprintln(tw, hdr+"\tNODES USED")
	for _, p := range profiles {
		row := fmt.Sprintf("%s\t%s\t%d\t%d\t%d", p.Profile, p.Source, p.Pods, p.Placed, p.Failed)
		if preemption {
			row += fmt.Sprintf("\t%d", p.Preempted)
		}
		fmt.Fprintf(tw, "%s\t%d/%d\n", row, p.NodesUsed, p.Nodes)
	}
	tw.Flush()
}

func writeResources(ew *errWriter, profiles []ProfileReport) {
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tRESOURCE\tREQUESTED\tALLOCATABLE\tALLOCATED\tSTRANDED\tSTRANDED %")
	for _, p := range profiles {
		for i, u := range p.Resources {
			name := p.Profile
			if i > 0 {
				name = ""
			}
			rn := corev1.ResourceName(u.Resource)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, u.Resource,
				formatQuantity(rn, u.Requested), formatQuantity(rn, u.Allocatable), pctString(u.AllocatedPercent),
				formatQuantity(rn, u.Stranded), pctString(u.StrandedPercent))
		}
	}
	tw.Flush()
}

func writeFailures(ew *errWriter, profiles []ProfileReport) {
	for _, p := range profiles {
		if p.Failed == 0 {
			continue
		}
		ew.printf("\n%s: %d of %d pods did not fit; the first %d:\n", p.Profile, p.Failed, p.Pods, len(p.Failures))
		for _, f := range p.Failures {
			ew.printf("  %s: %s\n", f.Pod, f.Reason)
		}
	}
}

func writeSizing(ew *errWriter, r *Report) {
	s := r.Sizing
	var shape []string
	for _, k := range sortedKeys(s.Node.Allocatable) {
		shape = append(shape, k+"="+formatQuantity(corev1.ResourceName(k), s.Node.Allocatable[k]))
	}
	ew.printf("Sizing: fewest nodes of shape %s (%s) that host the workload.\n", s.Node.Source, strings.Join(shape, ", "))
	ew.printf("Lower bound: max over resources of ceil(total requests / node allocatable), pods included.\n\n")
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	hdr := "PROFILE\tPODS SIZED\tUNPLACEABLE\tLOWER BOUND\tFEWEST NODES\tPROBES"
	for _, res := range r.Resources {
		hdr += "\t" + strings.ToUpper(res)
	}
	fmt.Fprintln(tw, hdr)
	for _, p := range s.Profiles {
		fewest := fmt.Sprint(p.Nodes)
		if p.Error != "" {
			fewest = fmt.Sprintf("> %d", p.MaxNodes)
		}
		row := fmt.Sprintf("%s\t%d\t%d\t%d (%s)\t%s\t%d", p.Profile, p.Pods, p.Unplaceable, p.LowerBound, p.BoundBy, fewest, len(p.Probes))
		for _, res := range r.Resources {
			cell := "-"
			if p.Result != nil {
				for _, u := range p.Result.Resources {
					if u.Resource == res {
						cell = pctString(u.AllocatedPercent)
					}
				}
			}
			row += "\t" + cell
		}
		fmt.Fprintln(tw, row)
	}
	tw.Flush()
	ew.printf("(resource columns: allocation at the fewest nodes)\n")
	for _, p := range s.Profiles {
		var probes []string
		for _, pr := range p.Probes {
			verdict := "hosted"
			if !pr.Hosted {
				verdict = fmt.Sprintf("%d placed", pr.Placed)
			}
			probes = append(probes, fmt.Sprintf("%d nodes: %s", pr.Nodes, verdict))
		}
		if len(probes) > 0 {
			ew.printf("%s probes: %s\n", p.Profile, strings.Join(probes, "; "))
		}
	}
	for _, p := range s.Profiles {
		if p.Error != "" {
			ew.printf("\n%s: %s\n", p.Profile, p.Error)
		}
		if p.Unplaceable > 0 {
			ew.printf("\n%s: %d pods fit no empty node of this shape and were left out; the first %d:\n", p.Profile, p.Unplaceable, len(p.Unfit))
			for _, f := range p.Unfit {
				ew.printf("  %s: %s\n", f.Pod, f.Reason)
			}
		}
	}
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }
