// Command bench-descheduler measures snug's descheduler for issue 17 and
// writes docs/descheduler-benchmarks.md (make bench-descheduler):
//
//   - scale: one dry run of all six strategies over a synthetic cluster
//     (-nodes, -pods; 5,000 and 50,000), planning time and peak memory;
//   - trace: one HighNodeUtilization + LowNodeUtilization pass over the
//     openb trace left fragmented by a default-profile churn replay
//     (-openb; skipped when empty).
//
// The scale run comes first in the process, so the process's VmHWM is that
// run's (plus the synthetic cluster and the fake API server's objects).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/snug-sched/snug/test/benchmark/descheduler"
	"github.com/snug-sched/snug/test/benchmark/quality"
)

// ScaleResult is the scale run.
type ScaleResult struct {
	Nodes, Pods              int
	DefaultPods, SnugPods    int
	Over, Under, GPUNodes    int
	Planted                  map[string]int
	BuildSeconds             float64
	SetupSeconds, RunSeconds float64
	// CPUSeconds: user+sys CPU time of the process during the run (all
	// threads; less sensitive than wall time to other load on the machine).
	CPUSeconds       float64
	Strategies       []descheduler.StrategyResult
	Args             map[string]string
	Memory           descheduler.Memory
	TotalMoves       int
	MovesOntoOwnNode int
	MovesPerStrategy map[string]int
}

// Results are everything the report shows.
type Results struct {
	quality.Meta
	Scale *ScaleResult
	Trace *descheduler.TraceResult `json:",omitempty"`
	// TraceError says why the trace part did not run.
	TraceError string `json:",omitempty"`
	OpenbDir   string
	Revision   string
}

func main() {
	nodes := flag.Int("nodes", 5000, "synthetic cluster: nodes")
	pods := flag.Int("pods", 50000, "synthetic cluster: pods")
	openb := flag.String("openb", "", "openb trace directory (empty: skip the trace part)")
	doc := flag.String("doc", "", "Markdown report to write")
	jsonOut := flag.String("json", "", "results as JSON")
	command := flag.String("command", "", "the command that produced the report (for the report)")
	revision := flag.String("revision", "", "git revision (for the report)")
	cpuprofile := flag.String("cpuprofile", "", "CPU profile of the scale run")
	memprofile := flag.String("memprofile", "", "heap profile at the end of the scale run")
	doScale := flag.Bool("scale", true, "run the scale part")
	analysis := flag.String("analysis", "", "hand-written Markdown appended to the report")
	from := flag.String("from", "", "render the report from a -json file of an earlier run instead of running")
	flag.Parse()
	descheduler.QuietLogs()
	ctx := context.Background()
	start := time.Now()
	res := &Results{Meta: quality.MachineMeta(), OpenbDir: *openb, Revision: *revision}
	res.Command = *command
	args := make([]string, len(os.Args))
	for i, a := range os.Args {
		args[i] = a
		if strings.ContainsAny(a, " \t'\"") {
			args[i] = "'" + a + "'"
		}
	}
	res.Expanded = strings.Join(args, " ")
	if *analysis != "" {
		data, err := os.ReadFile(*analysis)
		if err != nil {
			log.Fatal(err)
		}
		res.Analysis = string(data)
	}
	if *from != "" {
		data, err := os.ReadFile(*from)
		if err != nil {
			log.Fatal(err)
		}
		var old Results
		if err := json.Unmarshal(data, &old); err != nil {
			log.Fatal(err)
		}
		old.Analysis = res.Analysis
		render(&old, *doc)
		return
	}

	if *doScale {
		sc, err := scale(ctx, *nodes, *pods, *cpuprofile, *memprofile)
		if err != nil {
			log.Fatalf("scale: %v", err)
		}
		res.Scale = sc
	}
	if *openb != "" {
		tr, err := quality.LoadTrace(*openb, 1)
		if err != nil {
			res.TraceError = err.Error()
			log.Printf("trace: %v", err)
		} else if res.Trace, err = descheduler.RunTrace(ctx, tr, descheduler.TraceOptions{Log: log.Printf}); err != nil {
			log.Fatalf("trace: %v", err)
		}
	}
	res.Seconds = time.Since(start).Seconds()
	if *jsonOut != "" {
		data, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(*jsonOut, append(data, '\n'), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	render(res, *doc)
}

func render(res *Results, doc string) {
	if doc != "" {
		f, err := os.Create(doc)
		if err != nil {
			log.Fatal(err)
		}
		write(f, res)
		if err := f.Close(); err != nil {
			log.Fatal(err)
		}
		log.Printf("wrote %s", doc)
	} else {
		write(os.Stdout, res)
	}
}

func scale(ctx context.Context, nodes, pods int, cpuprofile, memprofile string) (*ScaleResult, error) {
	t0 := time.Now()
	c, err := descheduler.Synthetic(nodes, pods)
	if err != nil {
		return nil, err
	}
	sr := &ScaleResult{Nodes: nodes, Pods: pods, DefaultPods: c.DefaultPods, SnugPods: c.SnugPods, Over: c.Over, Under: c.Under,
		GPUNodes: c.GPUNodes, Planted: c.Planted, BuildSeconds: time.Since(t0).Seconds(), Args: map[string]string{}}
	strategies := descheduler.AllStrategies()
	for _, s := range strategies {
		sr.Args[s.Name] = s.Desc
	}
	log.Printf("scale: %d nodes, %d pods (%d default-scheduler, %d snug-scheduler) built in %.1fs", nodes, pods, c.DefaultPods, c.SnugPods, sr.BuildSeconds)
	objs := c.Objects()
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	cpu0 := cpuSeconds()
	sampler := descheduler.StartSampler(50 * time.Millisecond)
	run, err := descheduler.RunStrategies(ctx, objs, strategies, descheduler.Options{DryRun: true,
		Progress: func(name string, d time.Duration) { log.Printf("scale: %s %.2fs", name, d.Seconds()) }})
	sr.Memory = sampler.Stop()
	sr.CPUSeconds = cpuSeconds() - cpu0
	if err != nil {
		return nil, err
	}
	if memprofile != "" {
		f, err := os.Create(memprofile)
		if err != nil {
			return nil, err
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			return nil, err
		}
		f.Close()
	}
	sr.SetupSeconds, sr.RunSeconds, sr.Strategies = run.SetupSeconds, run.RunSeconds, run.Strategies
	sr.MovesPerStrategy = run.Moves()
	for _, m := range run.Plan {
		sr.TotalMoves++
		if m.To == m.From {
			sr.MovesOntoOwnNode++
		}
	}
	log.Printf("scale: setup %.1fs, run %.1fs, %d moves, peak heap in use %s, VmHWM %s", sr.SetupSeconds, sr.RunSeconds, sr.TotalMoves,
		gib(sr.Memory.PeakHeapInuse), gib(sr.Memory.HWM))
	runtime.KeepAlive(objs)
	return sr, nil
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func gib(b uint64) string { return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30)) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func perCycle(seconds float64, cycles int) string {
	if cycles == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", 1000*seconds/float64(cycles))
}

func write(w io.Writer, r *Results) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	s := r.Scale
	p("# Descheduler benchmarks")
	p("")
	p("Issue 17's two measured numbers for snug's descheduler (`pkg/strategies`, every")
	p("eviction judged by the simulation gate `pkg/strategies/simgate`). Generated by")
	p("`test/benchmark/descheduler/cmd/bench-descheduler`; do not edit by hand.")
	p("")
	p("Reproduce: `%s` (expanded: `%s`).", r.Command, r.Expanded)
	p("Machine: %s, %d CPUs (shared), %s; %s, Kubernetes libraries %s; revision %s; %s; whole run %.0f s.",
		r.CPUModel, r.CPUs, r.Memory, r.GoVersion, r.KubernetesVersion, orDash(r.Revision), r.Date, r.Seconds)
	p("")
	if s != nil {
		p("## Planning time and peak memory: %d nodes, %d pods, all six strategies", s.Nodes, s.Pods)
		p("")
		p("| | measured | target | |")
		p("| --- | ---: | ---: | --- |")
		p("| planning time (snapshot + all strategies + plan report) | %.1f s | < 10 s | %s |", s.RunSeconds, verdict(s.RunSeconds < 10))
		if s.CPUSeconds > 0 {
			p("| CPU time during the planning run (user + sys, all threads) | %.1f s | | |", s.CPUSeconds)
		}
		p("| peak memory of the process (VmHWM) | %s | < 2 GiB | %s |", gib(s.Memory.HWM), verdict(s.Memory.HWM < 2<<30))
		p("| peak Go heap in use during the run (sampled every 50 ms) | %s | | |", gib(s.Memory.PeakHeapInuse))
		p("| live heap before the run (the synthetic cluster's objects) | %s | | |", gib(s.Memory.BaselineHeap))
		p("| peak RSS during the run (sampled) | %s | | |", gib(s.Memory.PeakRSS))
		p("| setup: fake clientset, framework handle, plugins, informer sync (not in planning time) | %.1f s | | |", s.SetupSeconds)
		p("| building the synthetic cluster (not measured) | %.1f s | | |", s.BuildSeconds)
		p("")
		p("VmHWM is the whole process's high-water mark at the end of the run: it also holds")
		p("the synthetic cluster as Go objects and the fake API server's copy of every object")
		p("(client-go's object tracker), which a real descheduler does not; the descheduler's")
		p("own share (informer caches, the gate's simulators) is below it.")
		p("")
		p("| strategy (run order) | args | time | moves planned | scheduling cycles simulated | ms per cycle |")
		p("| --- | --- | ---: | ---: | ---: | ---: |")
		cycles := 0
		for _, st := range s.Strategies {
			p("| %s | %s | %.2f s | %d | %d | %s |", st.Name, s.Args[st.Name], st.Seconds, st.Moves, st.Cycles, perCycle(st.Seconds, st.Cycles))
			cycles += st.Cycles
		}
		p("")
		p("%d scheduling cycles in all, %s ms each on average (wall time over cycles, everything", cycles, perCycle(s.RunSeconds, cycles))
		p("else the strategies do included); each candidate the gate judges costs one cycle of its")
		p("profile over the %d nodes, sampling nodes as kube-scheduler does (percentageOfNodesToScore,", s.Nodes)
		p("adaptive when unset), with the pod's own node always in the sample.")
		p("")
		p("Each strategy's time includes what it is the first to need: the first")
		p("(RemovePodsViolatingNodeAffinity) takes the run's snapshot from the informers,")
		p("and a scheduler profile's simulator is built (every node and pod added) the")
		p("first time a pod of that profile is judged. %d moves in all, %d onto the node they leave.", s.TotalMoves, s.MovesOntoOwnNode)
		p("")
		p("The cluster (`descheduler.Synthetic`): %d nodes in three zones, %d of them GPU nodes (64 cores, 256 GiB,", s.Nodes, s.GPUNodes)
		p("8 GPUs; the others 32 cores, 128 GiB); %d overutilized (56%% of cpu and memory requested)", s.Over)
		p("and %d underutilized (6%%) nodes, the rest near 31%%; %d pods of ReplicaSets of 10,", s.Under, s.Pods)
		p("one replica per node, %d with `schedulerName: default-scheduler` (upstream's default", s.DefaultPods)
		p("profile judges them) and %d with `snug-scheduler` (snug's shipped profile). Planted", s.SnugPods)
		p("candidates: %s (RemoveDuplicates and topology spread: the excess replicas of ReplicaSets", planted(s.Planted))
		p("stacked on one node or one zone; node affinity: the misplaced pods; inter-pod")
		p("anti-affinity: both pods of each pair, one move per pair resolves it).")
		p("The run is `--dry-run` style through the descheduler framework as the command runs")
		p("a profile (`descheduler.RunStrategies`): `frameworktesting.InitFrameworkHandle` with the")
		p("DefaultEvictor and a dry-run pod evictor, a fresh gate (`simgate.New`, `DryRun: true`,")
		p("profiles from `simgate.LoadProfiles(nil)`) installed with `simgate.SetShared`, each")
		p("plugin built by its package's `New` with the args above, Deschedule then Balance")
		p("over every node, `gate.Finish`, moves read from `gate.LastPlan()`. HighNodeUtilization is")
		p("not enabled by the shipped policy; it runs here so that all six strategies are timed.")
		p("")
	}
	p("## openb trace: one HighNodeUtilization + LowNodeUtilization pass after churn")
	p("")
	if r.Trace == nil {
		if r.TraceError != "" {
			p("Not run: %s.", r.TraceError)
		} else {
			p("Not run (no `-openb` directory).")
		}
		return
	}
	t := r.Trace
	p("| | before | after | after (sequential) |")
	p("| --- | ---: | ---: | ---: |")
	p("| stranded GPUs | %.0f | %.0f | %.0f |", t.Before.StrandedGPUs, t.After.StrandedGPUs, t.AfterSequential.StrandedGPUs)
	p("| fragmented GPUs (ATC'23 style) | %.0f | %.0f | %.0f |", t.Before.FragGPUs, t.After.FragGPUs, t.AfterSequential.FragGPUs)
	p("| nodes in use | %d | %d | %d |", t.Before.NodesInUse, t.After.NodesInUse, t.AfterSequential.NodesInUse)
	p("| GPU nodes in use | %d | %d | %d |", t.Before.GPUNodesInUse, t.After.GPUNodesInUse, t.AfterSequential.GPUNodesInUse)
	p("| pods running | %d | %d | %d |", t.Before.Pods, t.After.Pods, t.AfterSequential.Pods)
	p("| GPUs requested / cluster GPUs | %.0f / %.0f | %.0f / %.0f | %.0f / %.0f |", t.Before.GPUsRequested, t.Before.ClusterGPUs,
		t.After.GPUsRequested, t.After.ClusterGPUs, t.AfterSequential.GPUsRequested, t.AfterSequential.ClusterGPUs)
	p("")
	var names []string
	for n := range t.Moves {
		names = append(names, n)
	}
	sort.Strings(names)
	var mv []string
	for _, n := range names {
		mv = append(mv, fmt.Sprintf("%s %d", n, t.Moves[n]))
	}
	p("Moves evicted: %d (%s); %d approved moves whose eviction failed; %d nodes tainted `snug.io/emptied`",
		t.Evicted, orDash(strings.Join(mv, ", ")), t.Refused, t.TaintedNodes)
	p("by HighNodeUtilization. Descheduling run (snapshot, planning, fake-client evictions): %.1f s.", t.DescheduleSecs)
	p("")
	p("Planned destination vs. actual re-placement (the replacement scheduled by its own")
	p("profile, default-scheduler, in the simulator, on the nodes as the run left them):")
	p("")
	p("- **after**: every evicted pod gone first, then the replacements scheduled one by one")
	p("  in eviction order (a ReplicaSet controller recreating them while the descheduler")
	p("  runs): %d of %d land elsewhere than the gate's predicted node, %d of them outside", t.Differ, t.Evicted, t.NotTied)
	p("  the nodes the gate saw tied at the best score; %d fit nowhere.", t.Unplaced)
	p("- **after (sequential)**: each replacement scheduled right after its own eviction,")
	p("  before the next, with the run's node patches (every node to empty tainted before the")
	p("  first eviction, released when it cannot be emptied) applied in the order the API saw")
	p("  them (the gate's model of the run): %d differ, %d outside the tied nodes,", t.DifferSequential, t.NotTiedSequential)
	p("  %d fit nowhere.", t.UnplacedSequential)
	p("")
	p("HighNodeUtilization moves planned onto a node that the same run empties later: %d;", t.OntoLaterEmptied)
	p("nodes tainted to be emptied that still hold pods after the sequential re-placement: %d.", t.TaintedInUse)
	if len(t.Examples) > 0 {
		p("")
		p("Examples of differing destinations:")
		p("")
		for _, e := range t.Examples {
			p("- %s", e)
		}
	}
	p("")
	p("Setup: the openb trace (%d nodes, %d pods; read from `%s`, never copied), loaded", t.Nodes, t.TracePods, r.OpenbDir)
	p("and replayed as `make bench-quality`'s protocol B (`quality.LoadTrace`, `quality.RunB`,")
	p("same compression rule: K = %g, peak offered GPU load %.0f%%) with the default profile,", t.K, 100*t.Peak)
	p("stopped at replay second %.0f, the end of the busy window (the last time the offered", t.StopAt)
	p("GPU load falls below 50%%): load has decayed and departures have left the cluster")
	p("fragmented. %d pods were running then (loaded into a fake clientset, each owned by a", t.Running)
	p("ReplicaSet of its own so that the evictor accepts it, `schedulerName: default-scheduler`)")
	p("and %d pending (left out). Stranded and fragmented GPUs are bench-quality's metrics", t.Pending)
	p("(`quality.Model`, the trace's 64 most frequent shapes). The pass runs through the gate")
	p("with evictions (not a dry run): HighNodeUtilization (thresholds cpu, memory and")
	p("nvidia.com/gpu 50: a node whose requests are all below half its allocatable is emptied")
	p("whole or not at all), then LowNodeUtilization (%s).", t.LNU)
	if r.Analysis != "" {
		p("")
		fmt.Fprint(w, r.Analysis)
	}
}

func planted(m map[string]int) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(out, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
