package quality

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/snug-sched/snug/pkg/workload"
	"github.com/snug-sched/snug/test/benchmark/quality/mix"
)

// Trace files in the openb directory.
const (
	NodeFile = mix.NodeFile
	PodFile  = mix.PodFile
)

// Trace is the input of a run.
type Trace struct {
	Nodes []*corev1.Node
	// Pods in creation order (stable).
	Pods []*corev1.Pod
}

// LoadTrace reads the openb node and pod lists from dir; every > 1 keeps
// every n-th node and pod (quick mode).
func LoadTrace(dir string, every int) (*Trace, error) {
	return LoadTraceFiles(filepath.Join(dir, NodeFile), filepath.Join(dir, PodFile), every)
}

// LoadTraceFiles reads a node list and a pod list (any format pkg/workload
// reads; openb's optional pod columns may be missing) as LoadTrace does.
func LoadTraceFiles(nodeFile, podFile string, every int) (*Trace, error) {
	nodes, err := workload.LoadNodes(nodeFile)
	if err != nil {
		return nil, err
	}
	pods, err := workload.LoadPods(podFile)
	if err != nil {
		return nil, err
	}
	return NewTrace(nodes, pods, every), nil
}

// NewTrace keeps every n-th node and pod and orders pods by creation time.
func NewTrace(nodes []*corev1.Node, pods []*corev1.Pod, every int) *Trace {
	if every < 1 {
		every = 1
	}
	t := &Trace{}
	for i := 0; i < len(nodes); i += every {
		t.Nodes = append(t.Nodes, nodes[i])
	}
	for i := 0; i < len(pods); i += every {
		t.Pods = append(t.Pods, pods[i])
	}
	sort.SliceStable(t.Pods, func(i, j int) bool {
		ci, _, _ := workload.Times(t.Pods[i])
		cj, _, _ := workload.Times(t.Pods[j])
		return ci < cj
	})
	return t
}

// Options of a run.
type Options struct {
	// Protocols to run: any of "A", "B", "C".
	Protocols []string
	// Policies to run by name; empty means all.
	Policies []string
	// Seed of the random policy.
	Seed uint64
	// SnugConfig, if set, is a KubeSchedulerConfiguration file whose
	// snug-scheduler profile replaces the shipped one as policy "snug", so
	// other args can be tried without a build.
	SnugConfig string
	// MaxShapes of the stranding model (64).
	MaxShapes int
	// Compression of protocol B; 0 picks it with ChooseCompression(TargetPeak).
	Compression, TargetPeak float64
	// Shape, MaxFactor and ExactFactor of protocol C; Shape only when no
	// pod is bound to GPU models (otherwise C sizes a Pool).
	Shape                  NodeShape
	MaxFactor, ExactFactor float64
	// Parallel runs this many (protocol, policy) jobs at once.
	Parallel int
	// Log receives progress lines (may be nil).
	Log func(format string, args ...any)
	// Done, if set, is called after every (protocol, policy) job with the
	// results so far (nil where a job has not finished), never concurrently.
	Done func(*Results)
}

// DefaultOptions are the benchmark's.
func DefaultOptions() Options {
	return Options{Protocols: []string{"A", "B", "C"}, Seed: 1, MaxShapes: 64, TargetPeak: 1.0,
		Shape: DefaultNodeShape, MaxFactor: 2, ExactFactor: 1.1, Parallel: 1}
}

// PolicyInfo names a policy and its source in the results.
type PolicyInfo struct {
	Name, Source string
	Heuristic    bool
}

// TraceInfo summarises the input.
type TraceInfo struct {
	Nodes, Pods int
	// Allocatable totals of the cluster (cpu millicores, memory bytes, GPUs)
	// and requested totals of one pass of the pod list.
	Allocatable, Demand Vec3
	// Shapes of the stranding model, the distinct vectors of the trace and
	// the pods the model's shapes cover; a node is judged by at most
	// MaxShapes of them (Model.Max).
	Shapes, Distinct, Covered int
	MaxShapes                 int `json:",omitempty"`
	// GPUPods request GPUs, MultiGPUPods more than one; Constrained pods
	// accept only some GPU models (workload.GPUModels: an openb gpu_spec),
	// ConstrainedModels are the models they name.
	GPUPods, MultiGPUPods, Constrained int
	ConstrainedModels                  []string `json:",omitempty"`
	// Untimed pods have no creation time, or no deletion time, to replay
	// (workload.Times); they keep the list's order.
	Untimed int
}

// BInfo is protocol B's time line, shared by all policies.
type BInfo struct {
	K       float64
	Zero    int
	Offered OfferedLoad
	// Timing of the pod list at trace speed, for the report.
	Timing Timing
}

// CInfo is protocol C's setup.
type CInfo struct {
	// Shape is the one node shape, unless Pool is set: the pods are bound to
	// GPU models, and the nodes follow the node list's models.
	Shape      NodeShape
	Pool       *Pool `json:",omitempty"`
	LowerBound LowerBound
	Pods       int
	// Oversize pods fit no node of the shape (of the pool: no shape they
	// accept) and are left out.
	Oversize []string
	// OversizeVecs are their request vectors.
	OversizeVecs []Vec3
	MaxFactor    float64
	ExactFactor  float64
}

// Results of a run.
type Results struct {
	Trace    TraceInfo
	Policies []PolicyInfo
	A        []*AResult `json:",omitempty"`
	B        []*BResult `json:",omitempty"`
	BInfo    *BInfo     `json:",omitempty"`
	C        []*CResult `json:",omitempty"`
	CInfo    *CInfo     `json:",omitempty"`
	// Skipped are the protocols asked for that could not run on this
	// input, and why.
	Skipped []Skip `json:",omitempty"`
	Seconds float64
}

// Skip is a protocol that did not run and the reason.
type Skip struct {
	Protocol, Reason string
}

// Run runs the protocols for the policies on a trace.
func Run(ctx context.Context, tr *Trace, opts Options) (*Results, error) {
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	all, err := Policies(opts.Seed)
	if err != nil {
		return nil, err
	}
	if opts.SnugConfig != "" {
		if err := replaceSnugProfile(all, opts.SnugConfig); err != nil {
			return nil, err
		}
	}
	var pols []Policy
	for _, p := range all {
		if len(opts.Policies) == 0 || contains(opts.Policies, p.Name) {
			pols = append(pols, p)
		}
	}
	if len(pols) == 0 {
		return nil, fmt.Errorf("no policy matches %v", opts.Policies)
	}
	model := NewModel(tr.Pods, opts.MaxShapes)
	res := &Results{}
	res.Trace = TraceInfo{Nodes: len(tr.Nodes), Pods: len(tr.Pods), Shapes: len(model.List), Distinct: model.Distinct, Covered: model.Covered, MaxShapes: model.Max}
	for _, n := range tr.Nodes {
		for i, r := range ResourceNames {
			q := n.Status.Allocatable[r]
			if i == CPU {
				res.Trace.Allocatable[i] += float64(q.MilliValue())
			} else {
				res.Trace.Allocatable[i] += float64(q.Value())
			}
		}
	}
	traceInfo(&res.Trace, tr.Pods)
	for _, p := range pols {
		res.Policies = append(res.Policies, PolicyInfo{Name: p.Name, Source: p.Source, Heuristic: p.Heuristic})
	}

	type job struct {
		proto string
		i     int
		pol   Policy
	}
	var jobs []job
	var bcfg BConfig
	var ccfg CConfig
	for _, proto := range opts.Protocols {
		if reason := skipReason(proto, tr, res.Trace, opts.Shape); reason != "" {
			res.Skipped = append(res.Skipped, Skip{proto, reason})
			logf("protocol %s skipped: %s", proto, reason)
			continue
		}
		switch proto {
		case "A":
			res.A = make([]*AResult, len(pols))
		case "B":
			k := opts.Compression
			if k == 0 {
				if k, err = ChooseCompression(tr.Pods, res.Trace.Allocatable[GPU], opts.TargetPeak); err != nil {
					res.Skipped = append(res.Skipped, Skip{proto, err.Error()})
					logf("protocol B skipped: %v", err)
					continue
				}
			}
			rp, err := NewReplay(tr.Pods, k, res.Trace.Allocatable[GPU])
			if err != nil {
				return nil, err
			}
			timing, err := TraceTiming(tr.Pods, res.Trace.Allocatable[GPU])
			if err != nil {
				return nil, err
			}
			res.BInfo = &BInfo{K: k, Zero: rp.Zero, Offered: rp.Offered, Timing: timing}
			bcfg = BConfig{Nodes: tr.Nodes, Pods: tr.Pods, Model: model, Replay: rp}
			res.B = make([]*BResult, len(pols))
			logf("protocol B: compression %g, peak offered GPU load %.1f%%", k, 100*rp.Offered.Peak)
		case "C":
			var ci *CInfo
			if res.Trace.Constrained > 0 {
				// Pods bound to GPU models: a pool of the node list's models.
				if ci, ccfg, err = poolC(tr, opts); err != nil {
					var pe *PoolError
					if !errors.As(err, &pe) {
						return nil, err
					}
					res.Skipped = append(res.Skipped, Skip{proto, pe.Reason})
					logf("protocol C skipped: %s", pe.Reason)
					continue
				}
				logf("protocol C: pool of the GPU models %s; %d pods (%d oversize left out), lower bound %d nodes (%s) of %s",
					strings.Join(ci.Pool.models(ci.Pool.all()), ", "), ci.Pods, len(ci.Oversize), ci.LowerBound.Nodes,
					strings.Join(ci.LowerBound.Binding(), ", "), ci.Pool.CompositionString(ci.LowerBound.Nodes))
			} else {
				fit, over := SplitOversize(tr.Pods, opts.Shape)
				ci = &CInfo{Shape: opts.Shape, Pods: len(fit), LowerBound: ComputeLowerBound(fit, opts.Shape), MaxFactor: opts.MaxFactor, ExactFactor: opts.ExactFactor}
				for _, p := range over {
					ci.Oversize = append(ci.Oversize, p.Name)
					ci.OversizeVecs = append(ci.OversizeVecs, PodVec(p))
				}
				ccfg = CConfig{Pods: fit, Shape: opts.Shape, MaxFactor: opts.MaxFactor, ExactFactor: opts.ExactFactor}
				logf("protocol C: %d pods (%d oversize left out), lower bound %d nodes", len(fit), len(over), ci.LowerBound.Nodes)
			}
			res.CInfo = ci
			res.C = make([]*CResult, len(pols))
		default:
			return nil, fmt.Errorf("unknown protocol %q", proto)
		}
		for i, p := range pols {
			jobs = append(jobs, job{proto, i, p})
		}
	}
	aCfg := AConfig{Nodes: tr.Nodes, Pods: tr.Pods, Model: model, Steps: 13, Step: 0.1, BreakdownAt: []int{10, 13}}

	par := max(1, opts.Parallel)
	ch := make(chan job)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	store := func(set func()) {
		mu.Lock()
		defer mu.Unlock()
		set()
		if opts.Done != nil {
			opts.Done(res)
		}
	}
	for w := 0; w < par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				if ctx.Err() != nil {
					continue
				}
				var err error
				switch j.proto {
				case "A":
					var r *AResult
					if r, err = RunA(ctx, j.pol, aCfg); err == nil {
						store(func() { res.A[j.i] = r })
						last := r.Points[len(r.Points)-1]
						logf("A %-28s %6.1fs  failed %d of %d, stranded GPUs %.0f at %.0f%%", j.pol.Name, r.Seconds, last.Failed, last.Submitted, last.Cluster.Stranded[GPU], 100*last.Target)
					}
				case "B":
					var r *BResult
					if r, err = RunB(ctx, j.pol, bcfg); err == nil {
						store(func() { res.B[j.i] = r })
						logf("B %-28s %6.1fs  pending %.0f pod-s, dropped %d, stranded %.1f GPU-h (busy)", j.pol.Name, r.Seconds, r.PendingPodSeconds, r.Dropped, r.StrandedGPUHoursBusy)
					}
				case "C":
					var r *CResult
					if r, err = RunC(ctx, j.pol, ccfg, model); err == nil {
						store(func() { res.C[j.i] = r })
						logf("C %-28s %6.1fs  %d nodes (lower bound %d), %d probes", j.pol.Name, r.Seconds, r.Nodes, r.LowerBound.Nodes, len(r.Probes))
					}
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("protocol %s, %s: %w", j.proto, j.pol.Name, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	// Slowest protocol first, so the last jobs are short.
	rank := map[string]int{"C": 0, "B": 1, "A": 2}
	sort.SliceStable(jobs, func(a, b int) bool { return rank[jobs[a].proto] < rank[jobs[b].proto] })
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return res, ctx.Err()
}

// poolC sets protocol C up on a pool of the trace's GPU models (NewPool);
// a *PoolError says why the pods cannot be sized.
func poolC(tr *Trace, opts Options) (*CInfo, CConfig, error) {
	pool, fit, over, err := NewPool(tr.Nodes, tr.Pods)
	if err != nil {
		return nil, CConfig{}, err
	}
	lb, err := pool.LowerBound(fit)
	if err != nil {
		return nil, CConfig{}, err
	}
	if lb.Nodes == 0 {
		return nil, CConfig{}, &PoolError{"the pods request nothing"}
	}
	ci := &CInfo{Pool: pool, Pods: len(fit), LowerBound: lb, MaxFactor: opts.MaxFactor, ExactFactor: opts.ExactFactor}
	for _, p := range over {
		ci.Oversize = append(ci.Oversize, p.Name)
		ci.OversizeVecs = append(ci.OversizeVecs, PodVec(p))
	}
	return ci, CConfig{Pods: fit, Pool: pool, MaxFactor: opts.MaxFactor, ExactFactor: opts.ExactFactor}, nil
}

// Compact drops the results of jobs that did not finish (partial results).
func (r *Results) Compact() {
	r.A = slices.DeleteFunc(r.A, func(a *AResult) bool { return a == nil })
	r.B = slices.DeleteFunc(r.B, func(b *BResult) bool { return b == nil })
	r.C = slices.DeleteFunc(r.C, func(c *CResult) bool { return c == nil })
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
