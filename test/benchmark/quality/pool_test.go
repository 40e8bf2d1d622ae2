package quality

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/snug-sched/snug/pkg/workload"
)

// poolNodes: G2 (most common 96c/384Gi/8), T4 (a tie of one node each:
// the one with more GPUs wins), P100; nodes without GPUs or without a
// model are not the pool's.
const poolNodes = `sn,cpu_milli,memory_mib,gpu,model
g0,96000,393216,8,G2
g1,96000,393216,8,G2
g2,64000,262144,8,G2
t0,104000,524288,2,T4
t1,96000,393216,4,T4
p0,16000,122880,2,P100
c0,32000,131072,0,
u0,32000,131072,4,
z0,8000,32768,0,Z
`

func TestPoolShapes(t *testing.T) {
	shapes := PoolShapes(nodesCSV(t, poolNodes))
	want := []PoolShape{
		{NodeShape: NodeShape{CPUMilli: 96000, MemBytes: 384 << 30, GPUs: 8, Pods: 110, Model: "G2"}, Nodes: 2, ModelNodes: 3, TraceShare: 24.0 / 32},
		{NodeShape: NodeShape{CPUMilli: 16000, MemBytes: 120 << 30, GPUs: 2, Pods: 110, Model: "P100"}, Nodes: 1, ModelNodes: 1, TraceShare: 2.0 / 32},
		{NodeShape: NodeShape{CPUMilli: 96000, MemBytes: 384 << 30, GPUs: 4, Pods: 110, Model: "T4"}, Nodes: 1, ModelNodes: 2, TraceShare: 6.0 / 32},
	}
	if !slices.Equal(shapes, want) {
		t.Errorf("pool shapes\n got %+v\nwant %+v", shapes, want)
	}
}

// gpuPods returns n pods of 1 core, 4 GiB and gpus GPUs bound to spec ("":
// any model), named prefix-0, prefix-1, ...
func gpuPods(t *testing.T, prefix string, n, gpus int, spec string) []*corev1.Pod {
	var rows []string
	milli := 1000
	if gpus == 0 {
		milli = 0
	}
	for i := range n {
		rows = append(rows, fmt.Sprintf("%s-%02d,1000,4096,%d,%d,%s,LS,Running,0,1,0", prefix, i, gpus, milli, spec))
	}
	return podsCSV(t, rows...)
}

func shapeIndex(p *Pool, model string) int {
	return slices.IndexFunc(p.Shapes, func(s PoolShape) bool { return s.Model == model })
}

// Targets: a pod bound to one model counts for it, an unconstrained pod is
// split by the trace's GPU share per model. The sequence starts with one
// node of each model a constrained pod accepts, largest target first, then
// follows the targets, and every pool is a prefix of the next.
func TestPoolSequence(t *testing.T) {
	nodes := nodesCSV(t, poolNodes)
	var pods []*corev1.Pod
	pods = append(pods, gpuPods(t, "t4", 4, 1, "T4")...)
	pods = append(pods, gpuPods(t, "p100", 1, 1, "P100")...)
	pods = append(pods, gpuPods(t, "any", 16, 1, "")...)
	pods = append(pods, gpuPods(t, "cpu", 5, 0, "")...)
	p, fit, over, err := NewPool(nodes, pods)
	if err != nil {
		t.Fatal(err)
	}
	if len(fit) != len(pods) || len(over) != 0 {
		t.Fatalf("%d fit, %d oversize", len(fit), len(over))
	}
	g2, p100, t4 := shapeIndex(p, "G2"), shapeIndex(p, "P100"), shapeIndex(p, "T4")
	// 21 GPUs: G2 16*24/32 = 12, T4 4 + 16*6/32 = 7, P100 1 + 16*2/32 = 2.
	for k, want := range map[int][2]float64{g2: {0, 12}, t4: {4, 7}, p100: {1, 2}} {
		s := p.Shapes[k]
		if s.ConstrainedGPUs != want[0] || math.Abs(s.DemandGPUs-want[1]) > 1e-9 || math.Abs(s.Target-want[1]/21) > 1e-9 {
			t.Errorf("%s: constrained %v, demand %v, target %v; want %v, %v, %v", s.Model, s.ConstrainedGPUs, s.DemandGPUs, s.Target, want[0], want[1], want[1]/21)
		}
		if s.Demanded != (k != g2) {
			t.Errorf("%s: demanded %v", s.Model, s.Demanded)
		}
	}
	seq := p.Sequence(400)
	// First round: T4 (target 7/21), then P100 (2/21). Then the largest
	// gap, target - GPUs/pool GPUs, by hand (G2 .571, T4 .333, P100 .095):
	//   n=3: G=6   G2 .571-0     T4 .333-.667  P100 .095-.333 -> G2
	//   n=4: G=14  G2 .571-.571  T4 .333-.286  P100 .095-.143 -> T4
	//   n=5: G=18  G2 .571-.444  T4 .333-.444  P100 .095-.111 -> G2
	//   n=6: G=26  G2 .571-.615  T4 .333-.308  P100 .095-.077 -> T4 (.026 > .018)
	if want := []int{t4, p100, g2, t4, g2, t4}; !slices.Equal(seq[:6], want) {
		t.Errorf("sequence starts %v, want %v (G2 %d, P100 %d, T4 %d)", seq[:6], want, g2, p100, t4)
	}
	maxGPUs := 8.0
	for n := 1; n <= len(seq); n++ {
		if got := p.Sequence(n); !slices.Equal(got, seq[:n]) {
			t.Fatalf("pool(%d) is not a prefix of pool(%d)", n, len(seq))
		}
		c := p.Composition(n)
		var gpus float64
		for k, s := range p.Shapes {
			gpus += float64(c[k]) * float64(s.GPUs)
		}
		if n < 3 {
			continue
		}
		for k, s := range p.Shapes {
			if d := float64(c[k])*float64(s.GPUs) - s.Target*gpus; math.Abs(d) > maxGPUs {
				t.Errorf("pool(%d): %s has %v GPUs, %v off its target share", n, s.Model, float64(c[k])*float64(s.GPUs), d)
			}
		}
	}
	if got := p.CompositionString(6); got != "T4 3, G2 2, P100 1" {
		t.Errorf("composition of 6: %q", got)
	}
}

// bruteLowerBound is the smallest n whose pool covers every demand,
// checked pool by pool.
func bruteLowerBound(t *testing.T, p *Pool, pods []*corev1.Pod) int {
	masks, err := p.accepts(pods)
	if err != nil {
		t.Fatal(err)
	}
	var total Vec3
	for _, pod := range pods {
		v := PodVec(pod)
		for i := range total {
			total[i] += v[i]
		}
	}
	for n := 1; n < 10000; n++ {
		c := p.Composition(n)
		var have [4]float64
		ok := true
		for k, s := range p.Shapes {
			have[0] += float64(c[k] * int(s.CPUMilli))
			have[1] += float64(c[k]) * float64(s.MemBytes)
			have[2] += float64(c[k] * int(s.GPUs))
			have[3] += float64(c[k] * int(s.Pods))
		}
		if have[0] < total[CPU] || have[1] < total[Mem] || have[2] < total[GPU] || have[3] < float64(len(pods)) {
			ok = false
		}
		for _, set := range masks {
			var demand, gpus float64
			for i, pod := range pods {
				if masks[i]&^set == 0 {
					demand += PodVec(pod)[GPU]
				}
			}
			for k, s := range p.Shapes {
				if set&(1<<k) != 0 {
					gpus += float64(c[k] * int(s.GPUs))
				}
			}
			if gpus < demand {
				ok = false
			}
		}
		if ok {
			return n
		}
	}
	t.Fatal("no pool covers the demand")
	return 0
}

func TestPoolLowerBound(t *testing.T) {
	nodes := nodesCSV(t, poolNodes)
	// T4-bound pods ask for 10 GPUs: 3 T4 nodes, the third of which is
	// node 4 of the sequence (T4, G2, T4, T4: T4's target is 10.4/12).
	pods := append(gpuPods(t, "t4", 10, 1, "T4"), gpuPods(t, "any", 2, 1, "")...)
	nodesNoP100 := nodes[:5] // G2 and T4 only
	p, fit, _, err := NewPool(nodesNoP100, pods)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := p.LowerBound(fit)
	if err != nil {
		t.Fatal(err)
	}
	if lb.Nodes != 4 || lb.PerResource != [4]int{1, 1, 2, 1} || len(lb.Sets) != 1 || lb.Sets[0].Nodes != 4 || lb.Sets[0].GPUs != 10 ||
		!slices.Equal(lb.Sets[0].Models, []string{"T4"}) || !slices.Equal(lb.Binding(), []string{"GPUs of pods accepting only T4"}) {
		t.Errorf("lower bound %+v, binding %v", lb, lb.Binding())
	}
	if got := p.CompositionString(4); got != "T4 3, G2 1" {
		t.Errorf("pool(4) %q", got)
	}
	if n := bruteLowerBound(t, p, fit); n != lb.Nodes {
		t.Errorf("lower bound %d, brute force %d", lb.Nodes, n)
	}

	// Three models and sets of one and two models; CPU-heavy pods too.
	var mixed []*corev1.Pod
	mixed = append(mixed, gpuPods(t, "p", 7, 1, "P100")...)
	mixed = append(mixed, gpuPods(t, "pt", 9, 2, "P100|T4")...)
	mixed = append(mixed, gpuPods(t, "t", 3, 4, "T4")...)
	mixed = append(mixed, gpuPods(t, "g", 5, 8, "G2")...)
	mixed = append(mixed, gpuPods(t, "any", 30, 1, "")...)
	mixed = append(mixed, gpuPods(t, "cpu", 40, 0, "")...)
	p, fit, over, err := NewPool(nodes, mixed)
	if err != nil || len(over) != 0 {
		t.Fatal(err, len(over))
	}
	lb, err = p.LowerBound(fit)
	if err != nil {
		t.Fatal(err)
	}
	if n := bruteLowerBound(t, p, fit); n != lb.Nodes {
		t.Errorf("lower bound %+v, brute force %d", lb, n)
	}
	if len(lb.Sets) != 4 { // P100, T4, P100|T4, G2
		t.Errorf("sets %+v", lb.Sets)
	}
	for _, s := range lb.Sets {
		if strings.Join(s.Models, "|") == "P100|T4" && s.GPUs != 7+18+12 {
			t.Errorf("P100|T4 set: %v GPUs, want 37 (its own pods and those bound to P100 or to T4)", s.GPUs)
		}
	}
	if len(lb.Binding()) == 0 {
		t.Error("no binding term")
	}
}

// A pod is oversize when no pool shape it accepts fits it empty; a pod
// that accepts no shape at all stops the pool with the reason.
func TestPoolOversize(t *testing.T) {
	nodes := nodesCSV(t, poolNodes)
	pods := podsCSV(t,
		"t4-8,1000,4096,8,1000,T4,LS,Running,0,1,0",         // T4 nodes have 4 GPUs
		"any-8,1000,4096,8,1000,,LS,Running,0,1,0",          // a G2 node fits
		"p100-big,32000,4096,1,1000,P100,LS,Running,0,1,0",  // 16-core P100 nodes
		"t4p100,32000,4096,1,1000,T4|P100,LS,Running,0,1,0", // a T4 node fits
		"huge,200000,4096,0,0,,BE,Running,0,1,0",
	)
	p, fit, over, err := NewPool(nodes, pods)
	if err != nil {
		t.Fatal(err)
	}
	names := func(ps []*corev1.Pod) (out []string) {
		for _, x := range ps {
			out = append(out, x.Name)
		}
		return out
	}
	if !slices.Equal(names(fit), []string{"any-8", "t4p100"}) || !slices.Equal(names(over), []string{"t4-8", "p100-big", "huge"}) {
		t.Errorf("fit %v, oversize %v", names(fit), names(over))
	}
	fit2, over2, err := p.SplitOversize(pods)
	if err != nil || !slices.Equal(fit2, fit) || !slices.Equal(over2, over) {
		t.Errorf("SplitOversize: %v %v %v", names(fit2), names(over2), err)
	}
	// Oversize pods do not count for the targets: only any-8 and t4p100.
	if s := p.Shapes[shapeIndex(p, "P100")]; s.DemandGPUs <= 0 || !s.Demanded || s.ConstrainedGPUs != 0 {
		t.Errorf("P100 %+v", s)
	}

	_, _, _, err = NewPool(nodes, append(pods, podsCSV(t, "v100,1000,4096,1,1000,V100,LS,Running,0,1,0")...))
	var pe *PoolError
	if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "1 pods accept no node of the pool") || !strings.Contains(pe.Reason, "G2, P100, T4") || !strings.Contains(pe.Reason, "GPU models they accept: V100") {
		t.Errorf("pod bound to a model without nodes: %v", err)
	}
	_, _, _, err = NewPool(nodesCSV(t, "sn,cpu_milli,memory_mib,gpu,model\nc0,32000,131072,0,\n"), pods)
	if !errors.As(err, &pe) || !strings.Contains(pe.Reason, workload.LabelGPUModel) {
		t.Errorf("node list without GPU models: %v", err)
	}
}

// Protocol C on a pool: every policy's answer is at least the lower bound
// and was probed, and its pool is the sequence's prefix.
func TestProtocolCPool(t *testing.T) {
	nodes := nodesCSV(t, poolNodes)
	var pods []*corev1.Pod
	pods = append(pods, gpuPods(t, "t4", 6, 1, "T4")...)
	pods = append(pods, gpuPods(t, "p100", 3, 1, "P100")...)
	pods = append(pods, gpuPods(t, "any", 12, 2, "")...)
	p, fit, _, err := NewPool(nodes, pods)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := p.LowerBound(fit)
	if err != nil {
		t.Fatal(err)
	}
	pols, err := Policies(1)
	if err != nil {
		t.Fatal(err)
	}
	m := NewModel(fit, 64)
	for _, pol := range pols {
		r, err := RunC(t.Context(), pol, CConfig{Pods: fit, Pool: p, MaxFactor: 3, ExactFactor: 3}, m)
		if err != nil {
			t.Fatal(err)
		}
		if r.LowerBound.Nodes != lb.Nodes || r.Nodes < lb.Nodes || r.Used > r.Nodes {
			t.Errorf("%s: %d nodes (%d used), lower bound %d", pol.Name, r.Nodes, r.Used, lb.Nodes)
		}
		if r.Nodes > 0 && r.Cluster.Allocatable[GPU] != float64(poolGPUs(p, r.Nodes)) {
			t.Errorf("%s: %v GPUs measured, pool(%d) has %d", pol.Name, r.Cluster.Allocatable[GPU], r.Nodes, poolGPUs(p, r.Nodes))
		}
	}
}

func poolGPUs(p *Pool, n int) int {
	var g int
	for k, c := range p.Composition(n) {
		g += c * int(p.Shapes[k].GPUs)
	}
	return g
}

// Protocol C creates the whole list before scheduling it, as a real
// scheduler's informer would report it: snug's learner knows from the
// first cycle that P100-only pods need whole P100 nodes, so the small
// unconstrained pods that come first leave those nodes whole.
func TestProtocolCLearnsTheWholeList(t *testing.T) {
	nodes := nodesCSV(t, poolNodes)
	var rows []string
	for i := range 6 {
		rows = append(rows, fmt.Sprintf("any-%02d,3000,8192,1,1000,,LS,Running,%d,100000,%d", i, i, i))
	}
	for i := range 3 {
		rows = append(rows, fmt.Sprintf("p100-%02d,16000,102400,1,1000,P100,LS,Running,%d,100000,%d", i, 10+i, 10+i))
	}
	pods := podsCSV(t, rows...)
	p, fit, _, err := NewPool(nodes, pods)
	if err != nil {
		t.Fatal(err)
	}
	pols, err := Policies(1)
	if err != nil {
		t.Fatal(err)
	}
	var snug Policy
	for _, pol := range pols {
		if pol.Name == SnugPolicy {
			snug = pol
		}
	}
	r, err := RunC(t.Context(), snug, CConfig{Pods: fit, Pool: p, MaxFactor: 4, ExactFactor: 4}, NewModel(fit, 64))
	if err != nil {
		t.Fatal(err)
	}
	p100 := p.Composition(r.Nodes)[shapeIndex(p, "P100")]
	t.Logf("%d nodes (lower bound %d), %d P100; probes %+v", r.Nodes, r.LowerBound.Nodes, p100, r.Probes)
	if r.Nodes == 0 || p100 != 3 {
		t.Errorf("snug: %d nodes with %d P100 nodes, want the 3 the P100-only pods need whole", r.Nodes, p100)
	}
}
