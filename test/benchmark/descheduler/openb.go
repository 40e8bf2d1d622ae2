package descheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	core "k8s.io/client-go/testing"

	"github.com/snug-sched/snug/pkg/simulator"
	"github.com/snug-sched/snug/pkg/strategies/highnodeutilization"
	"github.com/snug-sched/snug/pkg/strategies/lownodeutilization"
	"github.com/snug-sched/snug/pkg/strategies/simgate"
	"github.com/snug-sched/snug/pkg/workload"
	"github.com/snug-sched/snug/test/benchmark/quality"
)

// TraceHNUThresholds are HighNodeUtilization's thresholds on the trace: a
// node is emptied when its cpu, memory and GPU requests are all below half
// its allocatable.
var TraceHNUThresholds = map[corev1.ResourceName]float64{corev1.ResourceCPU: 50, corev1.ResourceMemory: 50, workload.GPUResource: 50}

// TraceOptions of the trace benchmark.
type TraceOptions struct {
	// MaxShapes of the stranding model (bench-quality's 64).
	MaxShapes int
	// Log receives progress lines (may be nil).
	Log func(format string, args ...any)
}

// ClusterState is the trace cluster at one point.
type ClusterState struct {
	// StrandedGPUs and FragGPUs: test/benchmark/quality's metrics (Model).
	StrandedGPUs, FragGPUs float64
	// NodesInUse hold at least one pod; GPUNodesInUse are GPU nodes that do.
	NodesInUse, GPUNodesInUse int
	// GPUsRequested over the cluster's GPUs.
	GPUsRequested, ClusterGPUs float64
	Pods                       int
}

// TraceResult of the trace benchmark.
type TraceResult struct {
	Nodes, TracePods int
	// K is protocol B's compression, StopAt the replay second the replay
	// was stopped at (the end of its busy window: offered GPU load falls
	// below 50% for the last time), Peak the peak offered GPU load.
	K, StopAt, Peak float64
	// Running and Pending pods when the replay stopped (pending pods are
	// left out of the descheduled cluster).
	Running, Pending int
	ReplaySeconds    float64
	Thresholds       map[corev1.ResourceName]float64
	LNU              string
	Before           ClusterState
	// After: the evicted pods gone, then their replacements scheduled one
	// by one in eviction order by their own profile (default-scheduler),
	// on the nodes as the run left them (HighNodeUtilization's taints).
	// AfterSequential: each evicted pod's replacement scheduled right after
	// its eviction, before the next eviction (the gate's own model).
	After, AfterSequential ClusterState
	// Moves the gate approved and that were evicted, by strategy.
	Moves                    map[string]int
	Evicted                  int
	Refused                  int // planned moves whose eviction failed
	TaintedNodes             int
	DescheduleSecs           float64
	Differ, DifferSequential int
	// NotTied: the actual node is not even among the gate's tied nodes.
	NotTied, NotTiedSequential int
	// Unplaced replacements (fit nowhere).
	Unplaced, UnplacedSequential int
	// OntoLaterEmptied: approved HighNodeUtilization moves whose
	// destination is a node the same run empties later (from the plan).
	OntoLaterEmptied int
	// TaintedInUse: nodes the run tainted to empty them that still hold
	// pods after the sequential re-placement.
	TaintedInUse int
	// Examples of differing destinations (up to 5).
	Examples []string
}

// RunTrace replays the trace's churn (test/benchmark/quality protocol B,
// same compression rule) with the default profile up to the end of the
// busy window, loads the running pods (each given a ReplicaSet owner, so
// the evictor accepts them) into a fake clientset, runs HighNodeUtilization
// (TraceHNUThresholds) then LowNodeUtilization (the shipped policy's args)
// through the simulation gate with real (fake-client) evictions, and
// measures stranded GPUs and nodes in use before and after the replacement
// pods are scheduled.
func RunTrace(ctx context.Context, tr *quality.Trace, opts TraceOptions) (*TraceResult, error) {
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if opts.MaxShapes == 0 {
		opts.MaxShapes = 64
	}
	res := &TraceResult{Nodes: len(tr.Nodes), TracePods: len(tr.Pods), Thresholds: TraceHNUThresholds,
		LNU: "thresholds cpu/memory/pods 20, targetThresholds 50 (shipped policy)", Moves: map[string]int{}}
	model := quality.NewModel(tr.Pods, opts.MaxShapes)
	var gpus float64
	for _, n := range tr.Nodes {
		q := n.Status.Allocatable[workload.GPUResource]
		gpus += float64(q.Value())
	}
	k, err := quality.ChooseCompression(tr.Pods, gpus, 1.0)
	if err != nil {
		return nil, err
	}
	rp, err := quality.NewReplay(tr.Pods, k, gpus)
	if err != nil {
		return nil, err
	}
	res.K, res.StopAt, res.Peak = k, rp.Offered.BusyEnd, rp.Offered.Peak
	def, err := simulator.DefaultProfile()
	if err != nil {
		return nil, err
	}
	pol := quality.Policy{Name: corev1.DefaultSchedulerName, Source: "simulator.DefaultProfile()", Profile: def}
	state := &quality.BState{}
	logf("churn replay (default profile), compression %g, stopping at %.0fs (end of the busy window)", k, res.StopAt)
	b, err := quality.RunB(ctx, pol, quality.BConfig{Nodes: tr.Nodes, Pods: tr.Pods, Model: model, Replay: rp, StopAt: res.StopAt, State: state})
	if err != nil {
		return nil, err
	}
	res.ReplaySeconds = b.Seconds
	res.Running, res.Pending = len(state.Running), len(state.Pending)
	logf("replay: %.0fs, %d pods running, %d pending", b.Seconds, res.Running, res.Pending)

	// The cluster as the descheduler sees it.
	var objs []runtime.Object
	var nodes []*corev1.Node
	for _, n := range tr.Nodes {
		n = n.DeepCopy()
		if len(n.Status.Conditions) == 0 {
			n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
		}
		nodes = append(nodes, n)
		objs = append(objs, n)
	}
	pods := map[string]*corev1.Pod{}
	var running []*corev1.Pod
	for _, pl := range state.Running {
		p := bound(pl.Pod, pl.Node)
		pods[p.Namespace+"/"+p.Name] = p
		running = append(running, p)
		objs = append(objs, p)
	}
	measure := func(s *simulator.Simulator) ClusterState {
		c := model.Measure(s.Nodes())
		st := ClusterState{StrandedGPUs: c.Stranded[quality.GPU], FragGPUs: c.FragGPU, GPUsRequested: c.Requested[quality.GPU], ClusterGPUs: c.Allocatable[quality.GPU]}
		for _, ni := range s.Nodes() {
			if n := len(ni.GetPods()); n > 0 {
				st.NodesInUse++
				st.Pods += n
				if a := ni.GetAllocatable().GetScalarResources()[workload.GPUResource]; a > 0 {
					st.GPUNodesInUse++
				}
			}
		}
		return st
	}
	newSim := func() (*simulator.Simulator, error) {
		s, err := pol.NewSimulator(ctx)
		if err != nil {
			return nil, err
		}
		for _, n := range nodes {
			if err := s.AddNode(n); err != nil {
				return nil, err
			}
		}
		for _, p := range running {
			if err := s.AddPod(p); err != nil {
				return nil, err
			}
		}
		return s, nil
	}
	before, err := newSim()
	if err != nil {
		return nil, err
	}
	res.Before = measure(before)
	before.Close()

	strategies := []Strategy{
		{highnodeutilization.PluginName, highnodeutilization.New, HNUArgs(TraceHNUThresholds), "thresholds cpu, memory, nvidia.com/gpu 50"},
		{lownodeutilization.PluginName, lownodeutilization.New, LNUArgs(), res.LNU},
	}
	run, err := RunStrategies(ctx, objs, strategies, Options{DryRun: false})
	if err != nil {
		return nil, err
	}
	res.DescheduleSecs = run.RunSeconds
	var evicted []simgate.Move
	for _, m := range run.Plan {
		switch m.Status {
		case "evicted":
			evicted = append(evicted, m)
			res.Moves[m.Strategy]++
		case "failed":
			res.Refused++
		}
	}
	res.Evicted = len(evicted)
	if len(run.Evicted) != len(evicted) {
		return nil, fmt.Errorf("the client saw %d evictions, the gate reports %d evicted moves", len(run.Evicted), len(evicted))
	}
	logf("descheduler: %.1fs, %d evictions %v", run.RunSeconds, len(evicted), res.Moves)
	// The nodes as the run left them (the emptied-node taint stays).
	after, err := run.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var updated []*corev1.Node
	tainted := map[string]*corev1.Node{}
	for i := range after.Items {
		n := &after.Items[i]
		for _, t := range n.Spec.Taints {
			if t.Key == highnodeutilization.DefaultTaintKey {
				res.TaintedNodes++
				updated = append(updated, n)
				tainted[n.Name] = n
			}
		}
	}

	byName := map[string]simgate.Move{}
	for _, m := range evicted {
		byName[m.Namespace+"/"+m.Name] = m
	}
	replay := func(sequential bool) (ClusterState, int, int, int, []string, error) {
		s, err := newSim()
		if err != nil {
			return ClusterState{}, 0, 0, 0, nil, err
		}
		defer s.Close()
		var differ, notTied, unplaced int
		var examples []string
		place := func(m simgate.Move) error {
			r, err := s.Schedule(ctx, simgate.Replacement(pods[m.Namespace+"/"+m.Name]))
			if err != nil {
				return err
			}
			switch {
			case r.Node == "":
				unplaced++
			case r.Node != m.To:
				differ++
				if !slices.Contains(m.Tied, r.Node) {
					notTied++
				}
				if len(examples) < 5 {
					examples = append(examples, fmt.Sprintf("%s/%s (%s): planned %s %v, placed on %s", m.Namespace, m.Name, m.Strategy, m.To, m.Tied, r.Node))
				}
			}
			return nil
		}
		if !sequential {
			// Batch: the replacements come after the run, on the nodes as
			// the run left them.
			for _, n := range updated {
				if err := s.UpdateNode(n); err != nil {
					return ClusterState{}, 0, 0, 0, nil, err
				}
			}
			for _, m := range evicted {
				if err := s.RemovePod(pods[m.Namespace+"/"+m.Name]); err != nil {
					return ClusterState{}, 0, 0, 0, nil, err
				}
			}
			for _, m := range evicted {
				if err := place(m); err != nil {
					return ClusterState{}, 0, 0, 0, nil, err
				}
			}
			return measure(s), differ, notTied, unplaced, examples, nil
		}
		// Sequential: the descheduler's writes in the order the API saw
		// them, taints set and released included, each replacement
		// scheduled right after its eviction.
		for _, a := range run.Client.Actions() {
			switch {
			case a.GetResource().Resource == "nodes" && a.GetVerb() == "patch":
				pa := a.(core.PatchAction)
				var body struct {
					Spec struct {
						Taints []corev1.Taint `json:"taints"`
					} `json:"spec"`
				}
				if err := json.Unmarshal(pa.GetPatch(), &body); err != nil {
					return ClusterState{}, 0, 0, 0, nil, err
				}
				ni, ok := s.NodeInfo(pa.GetName())
				if !ok {
					return ClusterState{}, 0, 0, 0, nil, fmt.Errorf("patch of unknown node %s", pa.GetName())
				}
				n := ni.Node().DeepCopy()
				n.Spec.Taints = body.Spec.Taints
				if err := s.UpdateNode(n); err != nil {
					return ClusterState{}, 0, 0, 0, nil, err
				}
			case a.GetSubresource() == "eviction":
				name := a.GetNamespace() + "/" + a.(core.CreateAction).GetObject().(metav1.Object).GetName()
				m := byName[name]
				if err := s.RemovePod(pods[name]); err != nil {
					return ClusterState{}, 0, 0, 0, nil, err
				}
				if err := place(m); err != nil {
					return ClusterState{}, 0, 0, 0, nil, err
				}
			}
		}
		for name := range tainted {
			if ni, ok := s.NodeInfo(name); ok && len(ni.GetPods()) > 0 {
				res.TaintedInUse++
			}
		}
		return measure(s), differ, notTied, unplaced, examples, nil
	}
	emptiedAt := map[string]int{}
	for i, m := range evicted {
		if _, ok := emptiedAt[m.From]; !ok && m.Strategy == highnodeutilization.PluginName {
			emptiedAt[m.From] = i
		}
	}
	for i, m := range evicted {
		if at, ok := emptiedAt[m.To]; ok && m.Strategy == highnodeutilization.PluginName && at > i {
			res.OntoLaterEmptied++
		}
	}
	if res.After, res.Differ, res.NotTied, res.Unplaced, res.Examples, err = replay(false); err != nil {
		return nil, err
	}
	var ex []string
	if res.AfterSequential, res.DifferSequential, res.NotTiedSequential, res.UnplacedSequential, ex, err = replay(true); err != nil {
		return nil, err
	}
	if len(res.Examples) == 0 {
		res.Examples = ex
	}
	return res, nil
}

// bound is a running copy of a trace pod on node, owned by a ReplicaSet of
// its own (trace pods have no owner; the evictor and the gate refuse
// ownerless pods).
func bound(p *corev1.Pod, node string) *corev1.Pod {
	out := p.DeepCopy()
	out.Spec.NodeName = node
	if out.Spec.SchedulerName == "" {
		out.Spec.SchedulerName = corev1.DefaultSchedulerName
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	out.Labels["app"] = p.Name
	if len(out.OwnerReferences) == 0 {
		out.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: p.Name,
			UID: types.UID("rs-" + p.Name), Controller: ptr(true)}}
	}
	out.Status.Phase = corev1.PodRunning
	return out
}
