package quality

import (
	"math"
	"strings"
	"testing"

	"github.com/snug-sched/snug/test/benchmark/quality/mix"
)

// smallOptions run every protocol on the testdata traces quickly.
func smallOptions(model string) Options {
	opts := DefaultOptions()
	opts.Parallel = 2
	opts.Shape = NodeShape{CPUMilli: 16000, MemBytes: 64 << 30, GPUs: 4, Pods: 110, Model: model}
	return opts
}

// An openb pod list without its optional columns runs A and C; B, which
// replays creation and deletion times, is skipped with a note.
func TestMissingTimeColumns(t *testing.T) {
	tr, err := LoadTraceFiles("testdata/nodes.csv", "testdata/pods_no_times.csv", 1)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Pods[0].Name != "p0" || tr.Pods[7].Name != "p7" {
		t.Errorf("pods without times are not in the list's order")
	}
	res, err := Run(t.Context(), tr, smallOptions("B"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.A) != 8 || len(res.C) != 8 || res.B != nil || res.BInfo != nil {
		t.Fatalf("A %d, B %d, C %d results; want B skipped only", len(res.A), len(res.B), len(res.C))
	}
	if len(res.Skipped) != 1 || res.Skipped[0].Protocol != "B" || !strings.Contains(res.Skipped[0].Reason, "8 of 8 pods have no creation and deletion time") {
		t.Fatalf("skipped %+v", res.Skipped)
	}
	section := Render(res, Meta{Command: "test", Every: 1})
	for _, want := range []string{"**Protocol B skipped** on this input: 8 of 8 pods", "No pod has a `gpu_spec`", "Pods without a creation time come first", "### Protocol A", "### Protocol C"} {
		if !strings.Contains(section, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(section, "### Protocol B") || strings.Contains(section, "B: fewest pending") {
		t.Errorf("report has protocol B")
	}
}

// The report says what the loaded list has: gpu_spec or not; with pods
// bound to GPU models protocol C sizes a pool of the node list's models.
func TestGPUSpecInput(t *testing.T) {
	tr, err := LoadTraceFiles("testdata/nodes.csv", "testdata/pods_gpu_spec.csv", 1)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(t.Context(), tr, smallOptions("B"))
	if err != nil {
		t.Fatal(err)
	}
	ti := res.Trace
	if ti.GPUPods != 6 || ti.Constrained != 3 || strings.Join(ti.ConstrainedModels, ",") != "A,B" || ti.Untimed != 0 {
		t.Errorf("trace info %+v", ti)
	}
	if len(res.A) != 8 || len(res.B) != 8 || len(res.C) != 8 || len(res.Skipped) != 0 {
		t.Fatalf("A %d, B %d, C %d results, skipped %+v; want all three", len(res.A), len(res.B), len(res.C), res.Skipped)
	}
	ci := res.CInfo
	if ci.Pool == nil || len(ci.Pool.Shapes) != 2 || ci.Pool.Shapes[0].Model != "A" || ci.Pool.Shapes[0].CPUMilli != 8000 ||
		ci.Pool.Shapes[1].Model != "B" || ci.Pool.Shapes[1].GPUs != 4 || ci.Shape != (NodeShape{}) {
		t.Fatalf("protocol C setup %+v", ci)
	}
	for _, r := range res.C {
		if r.Nodes != 0 && r.Nodes < ci.LowerBound.Nodes || r.LowerBound.Nodes != ci.LowerBound.Nodes { // 0: none up to 2x the bound
			t.Errorf("%s: %d nodes, lower bound %d", r.Policy, r.Nodes, ci.LowerBound.Nodes)
		}
	}
	section := Render(res, Meta{Command: "test", Every: 1})
	for _, want := range []string{"3 of the 6 GPU pods\nhave a `gpu_spec`", "(A, B)", "### Protocol C", "the nodes follow the trace's GPU models",
		"| A | 8 cores / 32 GiB / 2 GPUs, 110 pods | 2 of 2 |", "pool at that size", "binding:", "that accepts the node's GPU model",
		"distinct pair of request vector and accepted GPU models"} {
		if !strings.Contains(section, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, bad := range []string{"No pod has a `gpu_spec`", "Neither metric knows", "issue 20, item 2"} {
		if strings.Contains(section, bad) {
			t.Errorf("report says %q", bad)
		}
	}
	// A pod bound to a model without nodes: C cannot be sized, and says why.
	tr.Pods[0].Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Values = []string{"Z"}
	res, err = Run(t.Context(), tr, smallOptions("B"))
	if err != nil {
		t.Fatal(err)
	}
	if res.C != nil || len(res.Skipped) != 1 || res.Skipped[0].Protocol != "C" ||
		!strings.Contains(res.Skipped[0].Reason, "1 pods accept no node of the pool, whose node shapes are the node list's GPU models (A, B)") {
		t.Errorf("C %d results, skipped %+v", len(res.C), res.Skipped)
	}
}

func TestRunFamily(t *testing.T) {
	nodes, err := mix.ReadTableFile("mix/testdata/nodes.csv")
	if err != nil {
		t.Fatal(err)
	}
	pods, err := mix.ReadTableFile("mix/testdata/pods.csv")
	if err != nil {
		t.Fatal(err)
	}
	fo := FamilyOptions{Options: smallOptions("A"), Seed: 1, Every: 1,
		Mixes: []mix.Mix{{Name: "openb"}, {Name: "gpu-spec", ConstrainedShare: 0.5}, {Name: "no-donor", MultiGPUShare: 0.5, Pool: mix.Pool{HomogeneousGPU: true}}}}
	fo.Shape = NodeShape{CPUMilli: 96000, MemBytes: 384 << 30, GPUs: 8, Pods: 110, Model: "A"}
	fo.TargetPeak = 0.25 // 10 GPUs asked for, 28 in the pool
	// no-donor: its pods are fine, but drop every multi-GPU pod so the
	// generator has none to copy.
	var kept [][]string
	for i, r := range pods.Rows {
		if pods.Get(i, "num_gpu") == "1" || pods.Get(i, "num_gpu") == "0" {
			kept = append(kept, r)
		}
	}
	pods.Rows = kept
	fr, err := RunFamily(t.Context(), nodes, pods, fo)
	if err != nil {
		t.Fatal(err)
	}
	if len(fr.Mixes) != 3 || fr.Mixes[0].Results == nil || fr.Mixes[1].Results == nil || fr.Mixes[2].Err == "" {
		t.Fatalf("mixes %+v", fr.Mixes)
	}
	if r := fr.Mixes[1].Results; r.Trace.Constrained != 5 || len(r.C) != 8 || r.CInfo.Pool == nil || len(r.B) != 8 {
		t.Errorf("gpu-spec: %d constrained, C %d results, B %d", r.Trace.Constrained, len(r.C), len(r.B))
	}
	doc := RenderFamily(fr, Meta{Command: "make bench-quality-family"})
	for _, want := range []string{FamilySectionHeading + "\n", "### openb\n", "### gpu-spec\n", "of a pool of the trace's GPU models (", "*margin (snug − best other)*",
		"| snug |", "| least-allocated |", "**no-donor**: **not run**: multi-GPU share: the pod list has no multi-GPU pod", "make bench-quality-family"} {
		if !strings.Contains(doc, want) {
			t.Errorf("family report lacks %q", want)
		}
	}
	if got := ReplaceFamily("", doc); !strings.HasPrefix(got, FamilyDocTitle+"\n\n"+FamilySectionHeading) {
		t.Errorf("new report starts %q", got[:min(len(got), 80)])
	}
	docWas := FamilyDocTitle + "\n\nHand-written.\n\n" + FamilySectionHeading + "\n\nold\n\n## After\n\nkept\n"
	if got := ReplaceFamily(docWas, doc); !strings.Contains(got, "Hand-written.") || strings.Contains(got, "\nold\n") || !strings.HasSuffix(got, "## After\n\nkept\n") {
		t.Errorf("replaced report:\n%s", got)
	}
	if m := margin(fr.Mixes[0].Results, Headlines[2]); len(m.Others) == 0 || m.Diff() != m.Snug-m.Best {
		t.Errorf("margin %+v", m)
	}
}

// A family run completed by a second run of the missing (or failed) mixes
// renders as one family, in the family's order.
func TestFamilyMerge(t *testing.T) {
	ran := func(name string, seconds float64) *MixResult {
		return &MixResult{Name: name, Results: &Results{Seconds: seconds}, Seconds: seconds}
	}
	first := &FamilyResults{Seed: 1, Every: 1, Seconds: 700, LoadEnd: "first",
		Mixes: []*MixResult{ran("openb", 300), {Name: "cpu-x2.5", Err: "interrupted"}, ran("gpu-spec", 400)}}
	second := &FamilyResults{Seed: 1, Every: 1, Seconds: 900, LoadEnd: "second",
		Mixes: []*MixResult{ran("cpu-x2.5", 500), ran("cpu-x0.5", 200), ran("my-mix", 200)}}
	if err := first.Merge(second); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range first.Mixes {
		names = append(names, m.Name)
	}
	if got := strings.Join(names, ","); got != "openb,cpu-x0.5,cpu-x2.5,gpu-spec,my-mix" {
		t.Errorf("mixes %s", got)
	}
	if m := first.Mix("cpu-x2.5"); m.Err != "" || m.Results == nil || m.Seconds != 500 {
		t.Errorf("cpu-x2.5 not replaced: %+v", m)
	}
	if first.Seconds != 1600 || first.LoadEnd != "second" || first.Mix("cpu-x1.5") != nil {
		t.Errorf("seconds %v, load at the end %q", first.Seconds, first.LoadEnd)
	}
	for _, other := range []*FamilyResults{{Seed: 2, Every: 1}, {Seed: 1, Every: 8}} {
		if err := first.Merge(other); err == nil {
			t.Errorf("merged a run with seed %d, every %d into seed 1, every 1", other.Seed, other.Every)
		}
	}
}

// A margin where snug has no value but another policy has one (protocol C
// found no size for snug only) is a loss and must read as one.
func TestMarginString(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name string
		m    Margin
		want string
	}{
		{"better", Margin{Snug: 933, Best: 945}, "-12 (-1%)"},
		{"worse", Margin{Snug: 9, Best: 0}, "**+9**"},
		{"tie", Margin{Snug: 5, Best: 5}, "0"},
		{"snug none", Margin{Snug: nan, Best: 2079}, "**none (best other 2079)**"},
		{"all none", Margin{Snug: nan, Best: nan}, "—"},
		{"others none", Margin{Snug: 199, Best: nan}, "—"},
	} {
		if got := tc.m.String("%.0f"); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
