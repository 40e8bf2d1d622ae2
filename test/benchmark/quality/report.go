package quality

import (
	"fmt"
	"math"
	"strings"

	"github.com/snug-sched/snug/pkg/workload"
	"github.com/snug-sched/snug/test/benchmark/docsection"
)

// SectionHeading is the heading of the section Render writes and Replace
// replaces in docs/benchmarks.md.
const SectionHeading = "## Placement quality"

// CTarget is the target distance of snug's node count from the lower bound
// in protocol C.
const CTarget = 0.03

// Verdict of one target.
type Verdict struct {
	Target, Result string
	Met            bool
}

// headlines of protocol A: checkpoints (1-based) at 100% and beyond.
func aHeadlineSteps(a *AResult) []int {
	var out []int
	for i, p := range a.Points {
		if p.Target >= 1-1e-9 {
			out = append(out, i)
		}
	}
	return out
}

// best returns the policies with the lowest value (NaN skipped) and it.
func best(names []string, vals []float64) ([]string, float64) {
	lo := math.Inf(1)
	for _, v := range vals {
		if !math.IsNaN(v) && v < lo {
			lo = v
		}
	}
	var out []string
	for i, v := range vals {
		if v == lo {
			out = append(out, names[i])
		}
	}
	return out, lo
}

// judge says whether snug is best (ties count) on vals, lower is better.
func judge(names []string, vals []float64, format string) (bool, string) {
	si := -1
	for i, n := range names {
		if n == SnugPolicy {
			si = i
		}
	}
	if si < 0 {
		return false, "snug not run"
	}
	winners, lo := best(names, vals)
	sv := vals[si]
	if math.IsNaN(sv) {
		return false, "snug: no result"
	}
	if sv == lo {
		if len(winners) > 1 {
			return true, fmt.Sprintf("snug "+format+", tied best with %s", sv, strings.Join(without(winners, SnugPolicy), ", "))
		}
		// runner-up
		second := math.Inf(1)
		var who string
		for i, v := range vals {
			if i != si && !math.IsNaN(v) && v < second {
				second, who = v, names[i]
			}
		}
		if math.IsInf(second, 1) {
			return true, fmt.Sprintf("snug "+format, sv)
		}
		return true, fmt.Sprintf("snug "+format+", next best %s "+format, sv, who, second)
	}
	gap := sv - lo
	rel := ""
	if lo > 0 {
		rel = fmt.Sprintf(", %+.0f%%", 100*gap/lo)
	}
	return false, fmt.Sprintf("snug "+format+", best %s "+format+" (snug worse by "+format+"%s)", sv, strings.Join(winners, ", "), lo, gap, rel)
}

func without(list []string, s string) []string {
	var out []string
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// Verdicts evaluates the targets (none unless snug and another policy ran).
func Verdicts(res *Results) []Verdict {
	var out []Verdict
	if len(res.Policies) < 2 {
		return nil
	}
	if len(res.A) > 0 && res.A[0] != nil {
		var names []string
		for _, a := range res.A {
			names = append(names, a.Policy)
		}
		for _, k := range aHeadlineSteps(res.A[0]) {
			var strandedV, failedV []float64
			for _, a := range res.A {
				strandedV = append(strandedV, a.Points[k].Cluster.Stranded[GPU])
				failedV = append(failedV, float64(a.Points[k].Failed))
			}
			pct := fmt.Sprintf("%.0f%%", 100*res.A[0].Points[k].Target)
			ok, s := judge(names, strandedV, "%.0f")
			out = append(out, Verdict{"A: fewest stranded GPUs at " + pct + " offered", s, ok})
			ok, s = judge(names, failedV, "%.0f")
			out = append(out, Verdict{"A: fewest failed pods at " + pct + " offered", s, ok})
		}
	}
	if len(res.B) > 0 {
		var names []string
		var vals []float64
		for _, b := range res.B {
			names = append(names, b.Policy)
			vals = append(vals, b.PendingPodSeconds)
		}
		ok, s := judge(names, vals, "%.0f")
		out = append(out, Verdict{"B: fewest pending pod-seconds", s, ok})
	}
	if len(res.C) > 0 {
		var names []string
		var vals []float64
		var snug *CResult
		for _, c := range res.C {
			names = append(names, c.Policy)
			v := float64(c.Nodes)
			if c.Nodes == 0 {
				v = math.NaN()
			}
			vals = append(vals, v)
			if c.Policy == SnugPolicy {
				snug = c
			}
		}
		ok, s := judge(names, vals, "%.0f")
		if snug != nil && snug.Nodes > 0 {
			s += " nodes"
		}
		out = append(out, Verdict{"C: fewest nodes", s, ok})
		if snug != nil {
			if snug.Nodes == 0 {
				out = append(out, Verdict{fmt.Sprintf("C: within %.0f%% of the lower bound", 100*CTarget), "snug: no size found", false})
			} else {
				above := snug.AboveLowerBound()
				out = append(out, Verdict{fmt.Sprintf("C: within %.0f%% of the lower bound", 100*CTarget),
					fmt.Sprintf("snug %d nodes, lower bound %d: %+.1f%%", snug.Nodes, snug.LowerBound.Nodes, 100*above), above <= CTarget+1e-12})
			}
		}
	}
	return out
}

func yes(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

func gib(bytes float64) float64 { return bytes / (1 << 30) }

func vecString(v Vec3) string {
	return fmt.Sprintf("%g cpu / %g GiB / %g GPU", v[CPU]/1000, math.Round(gib(v[Mem])*100)/100, v[GPU])
}

func ordinal(n int) string {
	switch {
	case n%100 >= 11 && n%100 <= 13:
		return fmt.Sprintf("%dth", n)
	case n%10 == 1:
		return fmt.Sprintf("%dst", n)
	case n%10 == 2:
		return fmt.Sprintf("%dnd", n)
	case n%10 == 3:
		return fmt.Sprintf("%drd", n)
	}
	return fmt.Sprintf("%dth", n)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func plural2(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func pct(x float64) string { return fmt.Sprintf("%.1f", 100*x) }

// duration renders seconds in the largest unit that keeps a number >= 2.
func duration(s float64) string {
	switch {
	case s < 120:
		return fmt.Sprintf("%.0f seconds", s)
	case s < 2*3600:
		return fmt.Sprintf("%.0f minutes", s/60)
	case s < 2*86400:
		return fmt.Sprintf("%.0f hours", s/3600)
	}
	return fmt.Sprintf("%.0f days", s/86400)
}

// Render returns the Placement quality section, heading included.
func Render(res *Results, m Meta) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	tr := res.Trace
	p("%s\n\n", SectionHeading)
	p("<!-- Generated by test/benchmark/quality (make bench-quality); edits inside this section are overwritten. -->\n\n")
	p("How well placement policies pack the Alibaba GPU cluster trace of the ATC'23 fragmentation\n")
	p("study (cluster-trace-gpu-v2023, \"openb\": %d nodes, %d pods) in snug's deterministic in-process\n", tr.Nodes, tr.Pods)
	p("simulator (`pkg/simulator`: the real kube-scheduler framework, every feasible node scored, ties\n")
	p("to the first node by name). Three protocols, eight policies, one run.\n")
	if m.Every > 1 {
		p("\n**Quick mode**: only every %s node and pod of the trace; not comparable with a full run.\n", ordinal(m.Every))
	}
	p("\nCluster: %.0f cores, %.0f GiB, %.0f GPUs (`nvidia.com/gpu`). One pass of the pod list asks for\n",
		tr.Allocatable[CPU]/1000, gib(tr.Allocatable[Mem]), tr.Allocatable[GPU])
	p("%.0f cores, %.0f GiB and %.0f GPUs. GPU-sharing pods (gpu_milli < 1000) ask for one whole GPU, as\n",
		tr.Demand[CPU]/1000, gib(tr.Demand[Mem]), tr.Demand[GPU])
	p("Kubernetes without a sharing device plugin allocates them (`pkg/workload`). ")
	if tr.Constrained == 0 {
		p("No pod has a `gpu_spec`,\nso none is bound to a GPU model.\n\n")
	} else {
		p("%d of the %d GPU pods\nhave a `gpu_spec`: they require a node labelled `%s` with one of their models (%s).\n\n",
			tr.Constrained, tr.GPUPods, workload.LabelGPUModel, strings.Join(tr.ConstrainedModels, ", "))
	}
	if m.Mix != "" {
		p("**Workload mix** generated from the trace (`test/benchmark/quality/mix`): %s.", m.Mix)
		for _, n := range m.MixNotes {
			p(" %s.", capitalise(n))
		}
		p(" The numbers above are the mix's.\n\n")
	}
	for _, sk := range res.Skipped {
		p("**Protocol %s skipped** on this input: %s.\n\n", sk.Protocol, sk.Reason)
	}

	p("### Policies\n\n")
	p("| Policy | Profile | Resource score |\n|---|---|---|\n")
	desc := map[string]string{
		"least-allocated":             "upstream default: NodeResourcesFit LeastAllocated (cpu, memory) + NodeResourcesBalancedAllocation",
		"most-allocated":              "NodeResourcesFit MostAllocated (cpu, memory, nvidia.com/gpu; weight 1 each) + BalancedAllocation",
		"requested-to-capacity-ratio": "NodeResourcesFit RequestedToCapacityRatio, shape 0→0, 100→10 (cpu, memory, nvidia.com/gpu) + BalancedAllocation",
		"balanced-allocation":         "NodeResourcesBalancedAllocation only (cpu, memory, nvidia.com/gpu); NodeResourcesFit does not score",
		"best-fit":                    "benchmark plugin: least leftover after placement, Σ over cpu, memory, GPU of free/allocatable",
		"tetris":                      "benchmark plugin: Tetris alignment (Grandl et al., SIGCOMM'14), demand · free, both / allocatable",
		"random":                      "benchmark plugin: seeded uniform score per (pod, node)",
		SnugPolicy:                    "StrandingAwarePacking (weight 10) with NodeResourcesFit, BalancedAllocation and PodTopologySpread scores off",
	}
	for _, pol := range res.Policies {
		p("| %s | `%s` | %s |\n", pol.Name, pol.Source, desc[pol.Name])
	}
	p("\nThe upstream and heuristic profiles are KubeSchedulerConfiguration files decoded with\n")
	p("`simulator.DecodeConfig`; the heuristics are score plugins that exist only in this benchmark\n")
	p("(`test/benchmark/quality/heuristics.go`), passed through `simulator.Options.Registry`, in the\n")
	p("default profile with the NodeResourcesFit and BalancedAllocation scores disabled. Their raw\n")
	p("scores are normalised so that the heuristic's best node always gets 100 and any other at most 99.\n")
	p("The remaining default scores (TaintToleration, NodeAffinity, PodTopologySpread, InterPodAffinity,\n")
	p("ImageLocality) are flat on this trace. No policy preempts.\n\n")

	p("### Metrics\n\n")
	p("- **Allocation** of a resource: requested / allocatable over the cluster (GPU, CPU, memory).\n")
	p("- **Stranded** GPUs, CPU, memory: free capacity that no pod shape of the trace can use, per node with\n")
	p("  `pkg/stranding` (`Stranded(layout, shapes, free)`, layout cpu, memory, nvidia.com/gpu) and summed.\n")
	if tr.Constrained == 0 {
		p("  Shapes are the trace's %d most frequent distinct request vectors (of %d; they cover %d of %d pods).\n",
			tr.Shapes, tr.Distinct, tr.Covered, tr.Pods)
	} else {
		p("  A shape is a distinct pair of request vector and accepted GPU models, and a node is judged only by\n")
		p("  the shapes that accept its GPU model (label `%s`; unconstrained shapes accept every\n", workload.LabelGPUModel)
		p("  node, a node without the label only them), the %d most frequent of them: a free GPU that only pods\n", tr.MaxShapes)
		p("  bound to other models want is stranded. %d shapes in all (of %d distinct pairs; they cover %d of %d\n", tr.Shapes, tr.Distinct, tr.Covered, tr.Pods)
		p("  pods).\n")
	}
	p("  Relaxation: a node's free capacity of a resource counts as usable up to what *one* shape, repeated\n")
	p("  as often as it fits, takes of it; a mix of shapes may use a little more, so stranded capacity is\n")
	p("  an upper bound on what no mix of these shapes could use (and ignores rarer shapes).\n")
	p("- **GPU fragmentation** (ATC'23 style, simplified): free GPUs on nodes where no GPU-requesting shape\n")
	if tr.Constrained > 0 {
		p("  of the model that accepts the node's GPU model fits at all. It is at most the stranded GPUs: those\n")
		p("  also count free GPUs beyond what the best fitting shape can take.\n")
	} else {
		p("  of the model fits at all. It is at most the stranded GPUs: those also count free GPUs beyond what\n")
		p("  the best fitting shape can take.\n")
	}
	p("- **Failed pods** (A): pods that fit no node when they arrive (never retried). **Pending pod-seconds**\n")
	p("  (B): Σ over pods of the time from arrival to placement, or to deletion for pods dropped while\n")
	if res.CInfo != nil && res.CInfo.Pool != nil {
		p("  pending. **Nodes** (C): the fewest nodes of a pool that follows the trace's GPU models that host\n")
		p("  every pod at once.\n\n")
	} else {
		p("  pending. **Nodes** (C): the fewest nodes of one shape that host every pod at once.\n\n")
	}

	renderA(&b, res, m)
	renderB(&b, res)
	renderC(&b, res)

	vs := Verdicts(res)
	if len(vs) > 0 {
		p("### Targets\n\n")
		p("Target: on every protocol snug's profile is the best policy on the headline metric (ties\n")
		p("count as best), and in C within %.0f%% of the lower bound.\n\n", 100*CTarget)
		p("| Target | Result | |\n|---|---|---|\n")
		for _, v := range vs {
			p("| %s | %s | %s |\n", v.Target, v.Result, yes(v.Met))
		}
		p("\n")
	}
	renderFacts(&b, res)
	if a := strings.TrimSpace(m.Analysis); a != "" {
		p("### Analysis\n\n%s\n\n", a)
	}
	p("### Reproduce\n\n")
	p("Machine: %d CPUs (shared with other jobs), %s, %s memory; %s; k8s.io/kubernetes %s; measured %s;\n",
		m.CPUs, m.CPUModel, m.Memory, m.GoVersion, m.KubernetesVersion, m.Date)
	p("%.0f minutes wall-clock for the whole run.\n\n", res.Seconds/60)
	p("Command, from the repository root:\n\n```sh\n%s\n```\n\n", m.Command)
	if m.Expanded != "" && m.Expanded != m.Command {
		p("The run reported here (the same program and defaults; this section and the chart were then\n")
		p("rendered from its JSON with `-from`):\n\n```sh\n%s\n```\n\n", m.Expanded)
	}
	p("`make bench-quality` reads the trace from `SNUG_OPENB_DIR` (default `../shared/data/alibaba-openb`,\n")
	p("never copied into the repository), writes the raw results to `bin/bench-quality/results.json`, this\n")
	p("section and `docs/quality-protocol-a.svg`. `make bench-quality BENCH_QUALITY_FLAGS=-quick` runs every\n")
	p("4th node and pod (under ten minutes) and writes its report to `bin/bench-quality/` instead;\n")
	p("`go test ./test/benchmark/quality/` runs a tiny synthetic version of each protocol and checks the\n")
	p("bookkeeping.\n")
	return b.String()
}

func renderA(b *strings.Builder, res *Results, m Meta) {
	if len(res.A) == 0 {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	a0 := res.A[0]
	p("### Protocol A: fill to 130%% of the GPUs\n\n")
	p("As in the ATC'23 fragmentation study: pods arrive in creation order, the list repeated (repeats\n")
	p("renamed `<name>-r<n>`), until the GPUs requested reach 130%% of the cluster's %.0f; no pod leaves,\n", a0.ClusterGPUs)
	p("a pod that fits nowhere fails for good. The state is recorded when the offered load (GPUs\n")
	p("requested so far / cluster GPUs) first reaches each 10%%. Headline: stranded GPUs and failed pods\n")
	p("at 100%% and beyond.")
	if res.Trace.Untimed > 0 {
		p(" Pods without a creation time come first, in the list's order.")
	}
	p("\n\n")
	heads := aHeadlineSteps(a0)
	p("| Policy |")
	for _, k := range heads {
		p(" failed pods @%.0f%% |", 100*a0.Points[k].Target)
	}
	for _, k := range heads {
		p(" stranded GPUs @%.0f%% |", 100*a0.Points[k].Target)
	}
	p(" GPU frag. @100%% | failed GPUs @130%% |\n|---|")
	for range 2*len(heads) + 2 {
		p("---:|")
	}
	p("\n")
	for _, a := range res.A {
		p("| %s |", a.Policy)
		for _, k := range heads {
			p(" %d |", a.Points[k].Failed)
		}
		for _, k := range heads {
			p(" %.0f |", a.Points[k].Cluster.Stranded[GPU])
		}
		p(" %.0f | %.0f |\n", a.Points[heads[0]].Cluster.FragGPU, a.Points[len(a.Points)-1].FailedGPUs)
	}
	p("\nContext (not a target): the GPUs the failed pods asked for, and all free GPUs (stranded or not).\n")
	p("Failed pods count an 8-GPU pod like a 1-GPU pod; failed GPUs weigh them by what they ask for.\n\n")
	p("| Policy |")
	for _, k := range heads {
		p(" failed GPUs @%.0f%% |", 100*a0.Points[k].Target)
	}
	for _, k := range heads {
		p(" free GPUs @%.0f%% |", 100*a0.Points[k].Target)
	}
	p("\n|---|")
	for range 2 * len(heads) {
		p("---:|")
	}
	p("\n")
	for _, a := range res.A {
		p("| %s |", a.Policy)
		for _, k := range heads {
			p(" %.0f |", a.Points[k].FailedGPUs)
		}
		for _, k := range heads {
			p(" %.0f |", a.Points[k].Cluster.Free[GPU])
		}
		p("\n")
	}
	p("\n")
	if m.Chart != "" {
		p("![GPU allocation vs offered load, protocol A](%s)\n\n", m.Chart)
	}
	matrix := func(title string, f func(APoint) string) {
		p("%s\n\n| Policy |", title)
		for _, pt := range a0.Points {
			p(" %.0f%% |", 100*pt.Target)
		}
		p("\n|---|")
		for range a0.Points {
			p("---:|")
		}
		p("\n")
		for _, a := range res.A {
			p("| %s |", a.Policy)
			for _, pt := range a.Points {
				p(" %s |", f(pt))
			}
			p("\n")
		}
		p("\n")
	}
	matrix("GPU allocation (%) by offered load:", func(pt APoint) string { return pct(pt.Cluster.Allocation(GPU)) })
	matrix("Failed pods by offered load:", func(pt APoint) string { return fmt.Sprint(pt.Failed) })
	matrix("Stranded GPUs by offered load:", func(pt APoint) string { return fmt.Sprintf("%.0f", pt.Cluster.Stranded[GPU]) })
	p("CPU and memory at 100%% and 130%% offered load (allocation in %%, stranded in cores and GiB):\n\n")
	p("| Policy | CPU alloc. @100%% | mem. alloc. @100%% | stranded cores @100%% | stranded GiB @100%% | CPU alloc. @130%% | mem. alloc. @130%% | stranded cores @130%% | stranded GiB @130%% |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, a := range res.A {
		p("| %s |", a.Policy)
		for _, k := range []int{heads[0], len(a.Points) - 1} {
			c := a.Points[k].Cluster
			p(" %s | %s | %.0f | %.0f |", pct(c.Allocation(CPU)), pct(c.Allocation(Mem)), c.Stranded[CPU]/1000, gib(c.Stranded[Mem]))
		}
		p("\n")
	}
	p("\n")
}

func renderB(b *strings.Builder, res *Results) {
	if len(res.B) == 0 || res.BInfo == nil {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	bi := res.BInfo
	o := bi.Offered
	p("### Protocol B: churn\n\n")
	p("Arrivals and departures replayed by the trace's creation and deletion times (`workload.Times`).\n")
	if tm := bi.Timing; tm.Span > 0 {
		p("At trace speed the pod list asks for at most %.1f%% of the cluster's GPUs at once; 99%% of the\n", 100*tm.PeakLoad)
		p("arrivals fall in the last %s of its %s, while the median pod lives %s and\n", duration(tm.Arrivals99), duration(tm.Span), duration(tm.MedianLife))
		p("the longest-lived 1%% for more than %s. Arrival gaps are therefore compressed\n", duration(tm.Life99))
	} else {
		p("Arrival gaps are compressed\n")
	}
	p("**%g times** (pod i arrives at created_i / %g) while lifetimes are kept (it is deleted\n", bi.K, bi.K)
	p("lifetime_i later), so a replay second is a trace second of pod lifetime. Because the lifetimes\n")
	p("are heavy-tailed no factor gives a steady load: the offered GPU load (GPUs requested by pods\n")
	p("between arrival and deletion, placed or not) ramps up while the list arrives and then decays.\n")
	p("The factor is the smallest (on a 2%% grid) at which the offered load peaks at the cluster's GPU\n")
	p("count: peak **%.1f%%**, at or above 90%% for %.0f s and above 100%% for %.0f s; it exceeds %.0f%% from\n",
		100*o.Peak, o.Above90, o.Above100, 100*o.BusyThreshold)
	p("t = %.0f s to %.0f s (the *busy window*, mean offered load %.1f%%). Arrivals span %.0f s.\n\n",
		o.BusyStart, o.BusyEnd, 100*o.BusyMean, o.LastArrival-o.FirstArrival)
	p("At every event time: departures, then pending pods whose deletion time has come are dropped, then\n")
	p("pending pods are retried in FIFO order, then the new arrivals are tried once each and queue if\n")
	p("they fit nowhere. A pending pod is only handed to the scheduler again when a node freed since its\n")
	p("last attempt has room for its requests (a necessary condition of NodeResourcesFit; nothing else\n")
	if res.Trace.Constrained > 0 {
		p("in these profiles can reject a pod but the GPU-model node affinity, which only makes some retries\n")
		p("futile), which skips futile cycles without changing the outcome.\n")
	} else {
		p("in these profiles can reject a pod), which skips futile cycles without changing the outcome.\n")
	}
	p("Placed pods leave at their (compressed) deletion time. Headline: pending pod-seconds.\n\n")
	if bi.Zero > 0 {
		p("%s with a zero lifetime %s not submitted.\n\n", plural(bi.Zero, "pod", "pods"), plural2(bi.Zero, "is", "are"))
	}
	p("| Policy | pending pod-s | pods that waited | dropped | max. queue | pending pod-s of 1-GPU / 8-GPU pods | stranded GPU-h (busy) | GPU frag. GPU-h (busy) | mean GPU alloc. (busy) |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	gpus := res.Trace.Allocatable[GPU]
	for _, r := range res.B {
		p("| %s | %.0f | %d | %d | %d | %.0f / %.0f | %.1f | %.1f | %s%% |\n", r.Policy, r.PendingPodSeconds, r.EverPending, r.Dropped, r.MaxPending,
			r.PendingByGPU[1], r.PendingByGPU[8], r.StrandedGPUHoursBusy, r.FragGPUHoursBusy, pct(r.MeanAllocationBusy(gpus)))
	}
	p("\n")
}

func renderC(b *strings.Builder, res *Results) {
	if len(res.C) == 0 || res.CInfo == nil {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	ci := res.CInfo
	lb := ci.LowerBound
	p("### Protocol C: compaction\n\n")
	if ci.Pool != nil {
		renderPool(b, ci)
	} else {
		s := ci.Shape
		p("The fewest nodes of one shape (%g cores / %g GiB / %d GPUs %s, %d pods) that host the whole pod list at\n",
			float64(s.CPUMilli)/1000, gib(float64(s.MemBytes)), s.GPUs, s.Model, s.Pods)
	}
	p("once (all created first, so policies that learn from pods see the whole list pending, as a real\n")
	p("scheduler's informer does; then scheduled in creation order), per policy: a probe at the lower\n")
	p("bound, then growing steps (1%%,\n")
	p("2%%, 4%%, ... of the bound) until a probe places every pod, then bisection; each probe is a fresh\n")
	p("simulator and stops at the first pod that fits nowhere. (The search assumes success is monotone in\n")
	if ci.Pool != nil {
		p("the node count; the probes are listed.) Lower bound = the smallest pool that has the total demand of\n")
		p("each resource: cpu %d, memory %d, GPUs %d, pod slots %d nodes", lb.PerResource[0], lb.PerResource[1], lb.PerResource[2], lb.PerResource[3])
		if len(lb.Sets) > 0 {
			p("; and, per set of GPU models pods accept, the GPUs of\nthe pods that accept only models of the set on the set's models:")
			for i, st := range lb.Sets {
				if i > 0 {
					p(",")
				}
				p(" %s: %.0f GPUs, %d nodes", strings.Join(st.Models, "|"), st.GPUs, st.Nodes)
			}
		}
		p(" → **%d nodes** (%s; binding: %s).", lb.Nodes, ci.Pool.CompositionString(lb.Nodes), strings.Join(lb.Binding(), ", "))
	} else {
		p("the node count; the probes are listed.) Lower bound = max over resources of ceil(total demand / node\n")
		p("capacity): cpu %d, memory %d, GPUs %d, pod slots %d → **%d nodes**.", lb.PerResource[0], lb.PerResource[1], lb.PerResource[2], lb.PerResource[3], lb.Nodes)
	}
	if len(ci.Oversize) > 0 {
		what := "no node of this shape"
		if ci.Pool != nil {
			what = "no node of the pool " + plural2(len(ci.Oversize), "it accepts", "they accept")
		}
		p(" %s %s and %s left out (", plural(len(ci.Oversize), "pod fits", "pods fit"), what, plural2(len(ci.Oversize), "is", "are"))
		for i, n := range ci.Oversize {
			if i > 0 {
				p(", ")
			}
			p("`%s` %s", n, vecString(ci.OversizeVecs[i]))
		}
		p(").")
	}
	p(" Search limit: %g × the lower bound; the bisection is exact below %g × the bound and stops within\n", ci.MaxFactor, ci.ExactFactor)
	p("1%% of the bound above it (shown as a range).\n\n")
	poolCol, poolSep := "", ""
	if ci.Pool != nil {
		poolCol, poolSep = " pool at that size |", "---|"
	}
	p("| Policy | nodes | above lower bound | free (stranded) GPUs at that size | stranded cores / GiB |%s probes (nodes: ✓ placed all, ✗ first failure after n pods) |\n", poolCol)
	p("|---|---:|---:|---:|---:|%s---|\n", poolSep)
	for _, r := range res.C {
		nodes, above, gpus, str := fmt.Sprintf("> %d", r.MaxTried), "—", "—", "—"
		if r.Nodes > 0 {
			nodes = fmt.Sprint(r.Nodes)
			if r.Failed < r.Nodes-1 {
				nodes = fmt.Sprintf("%d–%d", r.Failed+1, r.Nodes)
			}
			above = fmt.Sprintf("%+.1f%%", 100*r.AboveLowerBound())
			gpus = fmt.Sprintf("%.0f (%.0f)", r.Cluster.Free[GPU], r.Cluster.Stranded[GPU])
			str = fmt.Sprintf("%.0f / %.0f", r.Cluster.Stranded[CPU]/1000, gib(r.Cluster.Stranded[Mem]))
		}
		var probes []string
		for _, pr := range r.Probes {
			if pr.OK {
				probes = append(probes, fmt.Sprintf("%d ✓", pr.Nodes))
			} else {
				probes = append(probes, fmt.Sprintf("%d ✗%d", pr.Nodes, pr.Placed))
			}
		}
		pool := ""
		if ci.Pool != nil {
			pool = " — |"
			if r.Nodes > 0 {
				pool = " " + ci.Pool.CompositionString(r.Nodes) + " |"
			}
		}
		p("| %s | %s | %s | %s | %s |%s %s |\n", r.Policy, nodes, above, gpus, str, pool, strings.Join(probes, ", "))
	}
	p("\n")
}

// renderPool describes protocol C's pool: its rule and shapes.
func renderPool(b *strings.Builder, ci *CInfo) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("Pods are bound to GPU models, so the nodes follow the trace's GPU models: per model, the node list's\n")
	p("most common GPU-node shape of that model, labelled `%s`. The pool of N nodes is the first N of one\n", workload.LabelGPUModel)
	p("sequence (so it grows by one node at a time): one node of each model a constrained pod accepts, largest\n")
	p("target share first, then each next node of the model furthest below its target share of the pool's GPUs.\n")
	p("A model's target share is its share of the GPU demand: each pod's GPUs split over the models it accepts\n")
	p("by their share of the node list's GPUs (a pod bound to one model counts for it alone, an unconstrained\n")
	p("pod is split by the trace's GPU share per model).\n\n")
	p("| GPU model | node shape | nodes of that shape in the list | trace GPU share | GPUs of pods bound to it alone | target share |\n")
	p("|---|---|---:|---:|---:|---:|\n")
	for _, s := range ci.Pool.Shapes {
		p("| %s | %g cores / %g GiB / %d GPUs, %d pods | %d of %d | %s%% | %.0f | %s%% |\n", s.Model, float64(s.CPUMilli)/1000, gib(float64(s.MemBytes)), s.GPUs, s.Pods,
			s.Nodes, s.ModelNodes, pct(s.TraceShare), s.ConstrainedGPUs, pct(s.Target))
	}
	p("\nThe fewest nodes of this pool that host the whole pod list at\n")
}

// renderFacts writes the automatic breakdowns behind the analysis: which
// pods fail and where GPUs strand, for snug and the best other policy.
func renderFacts(b *strings.Builder, res *Results) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	var snugA *AResult
	for _, a := range res.A {
		if a.Policy == SnugPolicy {
			snugA = a
		}
	}
	if snugA == nil || len(snugA.Breakdowns) == 0 {
		return
	}
	p("### Breakdowns (snug, protocol A)\n\n")
	for _, bd := range snugA.Breakdowns {
		p("At %.0f%% offered load, failed pods by request vector (count; first pod and the scheduler's reason):\n\n", 100*bd.Target)
		if len(bd.Failed) == 0 {
			p("none.\n\n")
		} else {
			p("| request | failed | first | reason |\n|---|---:|---|---|\n")
			for i, f := range bd.Failed {
				if i == 8 {
					rest := 0
					for _, g := range bd.Failed[8:] {
						rest += g.Count
					}
					p("| %d other vectors | %d | | |\n", len(bd.Failed)-8, rest)
					break
				}
				p("| %s | %d | %s | %s |\n", vecString(f.V), f.Count, f.Example, strings.ReplaceAll(f.Reason, "|", "/"))
			}
			p("\n")
		}
		p("Node classes at %.0f%% (cores/GiB/GPUs model), most stranded GPUs first:\n\n", 100*bd.Target)
		p("| node class | nodes | empty | GPU alloc. | free GPUs | stranded GPUs | GPU frag. | free cores | stranded cores | free GiB | stranded GiB |\n")
		p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for i, c := range bd.Classes {
			if i == 10 {
				break
			}
			p("| %s | %d | %d | %s%% | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |\n", c.Key, c.Nodes, c.Empty, pct(c.Allocation(GPU)), c.Free[GPU], c.Stranded[GPU], c.FragGPU,
				c.Free[CPU]/1000, c.Stranded[CPU]/1000, gib(c.Free[Mem]), gib(c.Stranded[Mem]))
		}
		p("\n")
	}
}

// Replace returns doc with its Placement quality section replaced by
// section, or section appended if doc has none (docsection.Replace).
func Replace(doc, section string) string { return docsection.Replace(doc, SectionHeading, section) }
