package descheduler

import (
	"context"
	"flag"
	"fmt"
	"io"
	"k8s.io/klog/v2"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	core "k8s.io/client-go/testing"
	"sigs.k8s.io/descheduler/pkg/api"
	"sigs.k8s.io/descheduler/pkg/descheduler/evictions"
	"sigs.k8s.io/descheduler/pkg/framework/plugins/defaultevictor"
	frameworktesting "sigs.k8s.io/descheduler/pkg/framework/testing"
	frameworktypes "sigs.k8s.io/descheduler/pkg/framework/types"

	"github.com/snug-sched/snug/pkg/strategies/highnodeutilization"
	"github.com/snug-sched/snug/pkg/strategies/lownodeutilization"
	"github.com/snug-sched/snug/pkg/strategies/nodeaffinity"
	"github.com/snug-sched/snug/pkg/strategies/podantiaffinity"
	"github.com/snug-sched/snug/pkg/strategies/removeduplicates"
	"github.com/snug-sched/snug/pkg/strategies/simgate"
	"github.com/snug-sched/snug/pkg/strategies/topologyspread"
)

// Builder is a strategy's New.
type Builder func(ctx context.Context, args runtime.Object, h frameworktypes.Handle) (frameworktypes.Plugin, error)

// Strategy is one enabled plugin of the policy, with its args (defaults
// applied).
type Strategy struct {
	Name  string
	Build Builder
	Args  runtime.Object
	// Desc describes the args for the report.
	Desc string
}

// Thresholds builds upstream's percentage map.
func Thresholds(kv map[corev1.ResourceName]float64) api.ResourceThresholds {
	out := api.ResourceThresholds{}
	for k, v := range kv {
		out[k] = api.Percentage(v)
	}
	return out
}

// LNUArgs are manifests/descheduler/policy.yaml's LowNodeUtilization args:
// thresholds cpu, memory, pods 20; targetThresholds 50 (strandingAware by
// default).
func LNUArgs() *lownodeutilization.Args {
	a := &lownodeutilization.Args{}
	a.Thresholds = Thresholds(map[corev1.ResourceName]float64{corev1.ResourceCPU: 20, corev1.ResourceMemory: 20, corev1.ResourcePods: 20})
	a.TargetThresholds = Thresholds(map[corev1.ResourceName]float64{corev1.ResourceCPU: 50, corev1.ResourceMemory: 50, corev1.ResourcePods: 50})
	lownodeutilization.SetDefaults(a)
	return a
}

// HNUArgs are HighNodeUtilization args with thresholds (defaults applied:
// the emptied-node taint snug.io/emptied, ttl 10m).
func HNUArgs(thresholds map[corev1.ResourceName]float64) *highnodeutilization.Args {
	a := &highnodeutilization.Args{}
	a.Thresholds = Thresholds(thresholds)
	highnodeutilization.SetDefaults(a)
	return a
}

// AllStrategies are the six strategies in the order the descheduler runs
// them for a profile that enables all six: the Deschedule extension point
// (node affinity, inter-pod anti-affinity) before Balance (duplicates,
// HighNodeUtilization, LowNodeUtilization, topology spread). Args are the
// shipped policy's (manifests/descheduler/policy.yaml) with each package's
// SetDefaults; HighNodeUtilization, which the shipped policy does not
// enable, gets thresholds cpu 20, memory 20.
func AllStrategies() []Strategy {
	rd := &removeduplicates.Args{}
	removeduplicates.SetDefaults(rd)
	na := &nodeaffinity.Args{NodeAffinityType: []string{"requiredDuringSchedulingIgnoredDuringExecution"}}
	nodeaffinity.SetDefaults(na)
	pa := &podantiaffinity.Args{}
	podantiaffinity.SetDefaults(pa)
	ts := &topologyspread.Args{}
	topologyspread.SetDefaults(ts)
	return []Strategy{
		{nodeaffinity.PluginName, nodeaffinity.New, na, "nodeAffinityType [requiredDuringSchedulingIgnoredDuringExecution]"},
		{podantiaffinity.PluginName, podantiaffinity.New, pa, "defaults"},
		{removeduplicates.PluginName, removeduplicates.New, rd, "defaults"},
		{highnodeutilization.PluginName, highnodeutilization.New, HNUArgs(map[corev1.ResourceName]float64{corev1.ResourceCPU: 20, corev1.ResourceMemory: 20}), "thresholds cpu 20, memory 20"},
		{lownodeutilization.PluginName, lownodeutilization.New, LNUArgs(), "thresholds cpu/memory/pods 20, targetThresholds 50 (shipped policy)"},
		{topologyspread.PluginName, topologyspread.New, ts, "defaults (DoNotSchedule constraints)"},
	}
}

// Options of a run.
type Options struct {
	// DryRun plans without evicting (the evictor's and the gate's dry run,
	// as --dry-run), else evictions go to the fake clientset.
	DryRun bool
	// Progress, if set, is called after each strategy.
	Progress func(name string, d time.Duration)
}

// StrategyResult is one strategy's part of a run.
type StrategyResult struct {
	Name    string
	Seconds float64
	// Moves the gate planned (dry run) or evicted for it.
	Moves int
	// Cycles: scheduling cycles the gate simulated for it.
	Cycles int
}

// Result of one descheduling run.
type Result struct {
	// SetupSeconds: fake clientset, framework handle, plugins, informer
	// sync. RunSeconds: the extension points (snapshot and planning) and
	// the gate's Finish.
	SetupSeconds, RunSeconds float64
	Strategies               []StrategyResult
	Plan                     []simgate.Move
	// Evicted pods (namespace/name) in order, from the clientset's eviction
	// calls (empty in a dry run).
	Evicted []string
	Client  *fake.Clientset
	Gate    *simgate.Gate
}

// Moves counts the plan's moves by strategy.
func (r *Result) Moves() map[string]int {
	out := map[string]int{}
	for _, m := range r.Plan {
		if m.Status == "planned" || m.Status == "evicted" {
			out[m.Strategy]++
		}
	}
	return out
}

// RunStrategies loads objs into a fake clientset and runs strategies once,
// as the descheduler command runs a profile: a framework handle with the
// DefaultEvictor (default args) and a pod evictor (dry run as asked), a
// fresh simulation gate with the default profiles (upstream's for
// default-scheduler, snug's shipped one for snug-scheduler) installed as
// the process's gate, every plugin built, the informers synced, each
// strategy's extension point called over every node, then the gate's run
// finished. The gate stays installed until the next call.
func RunStrategies(ctx context.Context, objs []runtime.Object, strategies []Strategy, opts Options) (*Result, error) {
	res := &Result{}
	start := time.Now()
	client := fake.NewClientset(objs...)
	res.Client = client
	evOpts := evictions.NewOptions().WithDryRun(opts.DryRun)
	h, _, err := frameworktesting.InitFrameworkHandle(ctx, client, evOpts, defaultevictor.DefaultEvictorArgs{}, nil)
	if err != nil {
		return nil, err
	}
	h.PluginInstanceIDImpl = "0"
	profiles, err := simgate.LoadProfiles(nil)
	if err != nil {
		return nil, err
	}
	g := simgate.New(simgate.Options{Profiles: profiles, DryRun: opts.DryRun})
	simgate.SetShared(g)
	res.Gate = g
	plugins := make([]frameworktypes.Plugin, len(strategies))
	for i, s := range strategies {
		if plugins[i], err = s.Build(ctx, s.Args, h); err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
	}
	// InitFrameworkHandle started the factory before the plugins and the
	// gate registered their informers.
	h.SharedInformerFactory().Start(ctx.Done())
	h.SharedInformerFactory().WaitForCacheSync(ctx.Done())
	nodes, err := h.SharedInformerFactory().Core().V1().Nodes().Lister().List(labels.Everything())
	if err != nil {
		return nil, err
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	res.SetupSeconds = time.Since(start).Seconds()

	start = time.Now()
	for i, p := range plugins {
		t0, c0 := time.Now(), g.Cycles()
		var st *frameworktypes.Status
		switch x := p.(type) {
		case frameworktypes.DeschedulePlugin:
			st = x.Deschedule(ctx, nodes)
		case frameworktypes.BalancePlugin:
			st = x.Balance(ctx, nodes)
		default:
			return nil, fmt.Errorf("%T is neither a deschedule nor a balance plugin", p)
		}
		if st != nil && st.Err != nil {
			return nil, fmt.Errorf("%s: %w", strategies[i].Name, st.Err)
		}
		d := time.Since(t0)
		res.Strategies = append(res.Strategies, StrategyResult{Name: strategies[i].Name, Seconds: d.Seconds(), Cycles: g.Cycles() - c0})
		if opts.Progress != nil {
			opts.Progress(strategies[i].Name, d)
		}
	}
	g.Finish(ctx)
	res.RunSeconds = time.Since(start).Seconds()
	res.Plan = g.LastPlan()
	moves := res.Moves()
	for i := range res.Strategies {
		res.Strategies[i].Moves = moves[res.Strategies[i].Name]
	}
	for _, a := range client.Actions() {
		if c, ok := a.(core.CreateAction); ok && a.GetSubresource() == "eviction" {
			res.Evicted = append(res.Evicted, a.GetNamespace()+"/"+c.GetObject().(metav1.Object).GetName())
		}
	}
	return res, nil
}

// QuietLogs silences klog (upstream's strategies log every node at the
// default verbosity; at 5,000 nodes that is most of the run).
func QuietLogs() {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("logtostderr", "false")
	_ = fs.Set("alsologtostderr", "false")
	_ = fs.Set("stderrthreshold", "FATAL")
	klog.SetOutput(io.Discard)
}
