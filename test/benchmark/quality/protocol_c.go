package quality

import (
	"context"
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/snug-sched/snug/pkg/workload"
)

// NodeShape is the one node shape of protocol C.
type NodeShape struct {
	CPUMilli, MemBytes, GPUs, Pods int64
	Model                          string
}

// DefaultNodeShape is openb's most common node: 96 cores, 384 GiB, 8 GPUs
// (G2), 110 pods.
var DefaultNodeShape = NodeShape{CPUMilli: 96000, MemBytes: 384 << 30, GPUs: 8, Pods: 110, Model: "G2"}

// Vec returns the shape's (cpu, memory, GPU) vector.
func (s NodeShape) Vec() Vec3 {
	return Vec3{float64(s.CPUMilli), float64(s.MemBytes), float64(s.GPUs)}
}

// Node returns node i of the shape, named c-00000, c-00001, ...
func (s NodeShape) Node(i int) *corev1.Node {
	name := fmt.Sprintf("c-%05d", i)
	rl := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewMilliQuantity(s.CPUMilli, resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(s.MemBytes, resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(s.Pods, resource.DecimalSI),
	}
	if s.GPUs > 0 {
		rl[workload.GPUResource] = *resource.NewQuantity(s.GPUs, resource.DecimalSI)
	}
	labels := map[string]string{corev1.LabelHostname: name}
	if s.Model != "" {
		labels[workload.LabelGPUModel] = s.Model
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Status: corev1.NodeStatus{Capacity: rl, Allocatable: rl.DeepCopy()}}
}

// Fits reports whether a pod of vector v fits an empty node of the shape.
func (s NodeShape) Fits(v Vec3) bool {
	c := s.Vec()
	return v[CPU] <= c[CPU] && v[Mem] <= c[Mem] && v[GPU] <= c[GPU]
}

// LowerBound is max over cpu, memory, GPUs and pod slots of
// ceil(total demand / node capacity) for one node shape; for a Pool, the
// smallest pool covering each resource and each set of accepted GPU
// models (Pool.LowerBound).
type LowerBound struct {
	PerResource [4]int // cpu, memory, GPUs, pods
	// Sets are a pool's terms per set of accepted GPU models.
	Sets  []SetBound `json:",omitempty"`
	Nodes int
}

// ComputeLowerBound of pods on nodes of shape s.
func ComputeLowerBound(pods []*corev1.Pod, s NodeShape) LowerBound {
	var total Vec3
	for _, p := range pods {
		v := PodVec(p)
		for i := range total {
			total[i] += v[i]
		}
	}
	var lb LowerBound
	c := s.Vec()
	for i := range total {
		if c[i] > 0 {
			lb.PerResource[i] = int(math.Ceil(total[i]/c[i] - 1e-9))
		} else if total[i] > 0 {
			lb.PerResource[i] = math.MaxInt32
		}
	}
	lb.PerResource[3] = int(math.Ceil(float64(len(pods)) / float64(s.Pods)))
	for _, n := range lb.PerResource {
		lb.Nodes = max(lb.Nodes, n)
	}
	return lb
}

// CConfig is protocol C: the fewest nodes of Shape (or of Pool) that host
// every pod of Pods at once (all created, then scheduled in creation
// order), by search per policy.
type CConfig struct {
	Pods  []*corev1.Pod // pods that fit an empty node of Shape (see SplitOversize)
	Shape NodeShape
	// Pool, if set, replaces Shape: the pool of n nodes is the first n of
	// its sequence.
	Pool *Pool
	// MaxFactor bounds the search: give up above MaxFactor x the lower bound.
	MaxFactor float64
	// ExactFactor: below ExactFactor x the lower bound the bisection runs
	// to the exact node count; above it, it stops once the bracket is within
	// 1% of the bound (probes there are slow and the policy far off anyway).
	ExactFactor float64
}

// SplitOversize separates the pods that fit an empty node of s from those
// that fit none.
func SplitOversize(pods []*corev1.Pod, s NodeShape) (fit, oversize []*corev1.Pod) {
	for _, p := range pods {
		if s.Fits(PodVec(p)) {
			fit = append(fit, p)
		} else {
			oversize = append(oversize, p)
		}
	}
	return fit, oversize
}

// Probe is one trial of protocol C.
type Probe struct {
	Nodes int
	OK    bool
	// Placed pods before the first failure (all of them when OK), and the
	// first pod that failed.
	Placed      int
	FirstFailed string
	// FailedVec is the first failed pod's request vector.
	FailedVec Vec3
}

// CResult is one policy's run of protocol C.
type CResult struct {
	Policy     string
	LowerBound LowerBound
	// Nodes is the fewest nodes found that host every pod (0: none up to
	// MaxFactor x the lower bound). Below it, Failed nodes failed; the
	// search is exact (Failed = Nodes-1) up to ExactFactor x the lower
	// bound and stops within 1% of the bound above that.
	Nodes, Failed int
	Probes        []Probe
	// Used is the number of non-empty nodes in the successful run with
	// Nodes nodes, and Stranded its stranded capacity.
	Used     int
	Cluster  Cluster
	Seconds  float64
	MaxTried int
}

// AboveLowerBound is Nodes / lower bound - 1.
func (c *CResult) AboveLowerBound() float64 {
	if c.Nodes == 0 || c.LowerBound.Nodes == 0 {
		return math.NaN()
	}
	return float64(c.Nodes)/float64(c.LowerBound.Nodes) - 1
}

// RunC runs protocol C for one policy: a probe with the lower bound, then
// growing steps (1%, 2%, 4%, ... of the bound) until a probe succeeds, then
// bisection between the largest failed and smallest successful probe. Each
// probe is a fresh simulator; it stops at the first pod that fits nowhere.
// The result is exact if success is monotone in the number of nodes (it
// need not be for every policy; the probes are reported).
func RunC(ctx context.Context, pol Policy, cfg CConfig, model *Model) (*CResult, error) {
	start := time.Now()
	lb := ComputeLowerBound(cfg.Pods, cfg.Shape)
	if cfg.Pool != nil {
		var err error
		if lb, err = cfg.Pool.LowerBound(cfg.Pods); err != nil {
			return nil, err
		}
	}
	res := &CResult{Policy: pol.Name, LowerBound: lb}
	limit := int(math.Ceil(float64(lb.Nodes) * cfg.MaxFactor))
	res.MaxTried = limit
	var seq []int // the pool's shapes of nodes 0 to limit-1
	if cfg.Pool != nil {
		seq = cfg.Pool.Sequence(limit)
	}
	probe := func(n int) (bool, error) {
		ok, placed, c, used, err := runProbe(ctx, pol, cfg, seq, n, model)
		if err != nil {
			return false, err
		}
		pr := Probe{Nodes: n, OK: ok, Placed: placed}
		if !ok {
			pr.FirstFailed, pr.FailedVec = cfg.Pods[placed].Name, PodVec(cfg.Pods[placed])
		}
		res.Probes = append(res.Probes, pr)
		if ok && (res.Nodes == 0 || n < res.Nodes) {
			res.Nodes, res.Cluster, res.Used = n, c, used
		}
		return ok, nil
	}
	bad, good := lb.Nodes-1, -1
	if lb.Nodes == 0 {
		return nil, fmt.Errorf("protocol C: no demand")
	}
	step := max(1, lb.Nodes/100)
	for n := lb.Nodes; ; {
		n = min(n, limit)
		ok, err := probe(n)
		if err != nil {
			return nil, err
		}
		if ok {
			good = n
			break
		}
		bad = n
		if n == limit {
			break
		}
		n = lb.Nodes + step
		step *= 2
	}
	if good < 0 {
		res.Seconds = time.Since(start).Seconds()
		return res, nil
	}
	tolerance := 1
	if float64(good) > cfg.ExactFactor*float64(lb.Nodes) {
		tolerance = max(1, lb.Nodes/100)
	}
	for good-bad > tolerance {
		mid := bad + (good-bad)/2
		ok, err := probe(mid)
		if err != nil {
			return nil, err
		}
		if ok {
			good = mid
		} else {
			bad = mid
		}
	}
	res.Failed = bad
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// runProbe schedules cfg.Pods in order on n fresh nodes (of cfg.Shape, or
// of cfg.Pool's shapes seq) and stops at the first pod that fits nowhere;
// placed is the number placed before it.
func runProbe(ctx context.Context, pol Policy, cfg CConfig, seq []int, n int, model *Model) (ok bool, placed int, c Cluster, used int, err error) {
	sim, err := pol.NewSimulator(ctx)
	if err != nil {
		return false, 0, c, 0, err
	}
	defer sim.Close()
	for i := 0; i < n; i++ {
		node := cfg.Shape.Node(i)
		if cfg.Pool != nil {
			node = cfg.Pool.Node(i, seq[i])
		}
		if err := sim.AddNode(node); err != nil {
			return false, 0, c, 0, err
		}
	}
	// The list is created at once: a real scheduler's informer reports
	// every pod pending before most are scheduled, and learning plugins
	// (snug's shape learner) see the whole list from the first cycle.
	sim.Observe(cfg.Pods)
	for _, p := range cfg.Pods {
		r, err := sim.Schedule(ctx, p)
		if err != nil {
			return false, 0, c, 0, err
		}
		if r.Node == "" {
			return false, placed, c, 0, nil
		}
		placed++
	}
	for _, ni := range sim.Nodes() {
		if len(ni.GetPods()) > 0 {
			used++
		}
	}
	return true, placed, model.Measure(sim.Nodes()), used, nil
}
