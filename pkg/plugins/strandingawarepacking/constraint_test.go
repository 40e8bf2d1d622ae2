package strandingawarepacking

import (
	"fmt"
	"iter"
	"runtime"
	"slices"
	"strings"
	"testing"
	"weak"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/snug-sched/snug/pkg/apis/config"
	"github.com/snug-sched/snug/pkg/stranding"
)

const modelLabel = "snug.io/gpu-model"

// requireModel makes pod accept only nodes labelled with one of models.
func requireModel(pod *corev1.Pod, models ...string) *corev1.Pod {
	pod.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: modelLabel, Operator: corev1.NodeSelectorOpIn, Values: models}},
		}}},
	}}
	return pod
}

// Pods of one shape that require different nodes are different shapes;
// pods that require the same nodes share one, whatever map order their
// nodeSelector has.
func TestShapeLearnerKeepsConstraintsApart(t *testing.T) {
	l := NewShapeLearner(config.ShapeSource{Mode: config.ShapeSourceLearned, MaxLearned: 8})
	l.Observe(makePod("any", "", resGPU("4", "16Gi", "1")), 3)
	l.Observe(requireModel(makePod("t4", "", resGPU("4", "16Gi", "1")), "T4"), 2)
	l.Observe(requireModel(makePod("t4b", "", resGPU("4", "16Gi", "1")), "T4"), 1)
	sel := makePod("sel", "", resGPU("4", "16Gi", "1"))
	sel.Spec.NodeSelector = map[string]string{"pool": "a", "zone": "z"}
	l.Observe(sel, 1)
	sel2 := makePod("sel2", "", resGPU("4", "16Gi", "1"))
	sel2.Spec.NodeSelector = map[string]string{"zone": "z", "pool": "a"}
	l.Observe(sel2, 1)

	set := l.Set()
	shapes, weights, constraints := set.Shapes, set.Weights, set.Constraints
	if len(shapes) != 3 {
		t.Fatalf("got %d shapes, want 3 (any, T4, selector): %v", len(shapes), shapes)
	}
	t4 := makeNode("t4", resGPU("8", "32Gi", "4"), modelLabel, "T4")
	g2 := makeNode("g2", resGPU("8", "32Gi", "4"), modelLabel, "G2", "pool", "a", "zone", "z")
	for k := range shapes {
		c := constraints[k]
		switch {
		case c == nil:
			if weights[k] != 3 || !c.accepts(t4) || !c.accepts(g2) {
				t.Errorf("unconstrained shape: weight %v", weights[k])
			}
		case c.accepts(t4):
			if weights[k] != 3 || c.accepts(g2) {
				t.Errorf("T4 shape: weight %v, accepts g2 %v", weights[k], c.accepts(g2))
			}
		default:
			if weights[k] != 2 || !c.accepts(g2) {
				t.Errorf("selector shape: weight %v, accepts g2 %v", weights[k], c.accepts(g2))
			}
		}
	}
}

// A gated pod's node affinity may change: the learner moves it to the
// bucket of its new constraint, so its deletion later finds it there.
func TestShapeLearnerFollowsConstraintChange(t *testing.T) {
	l := NewShapeLearner(config.ShapeSource{Mode: config.ShapeSourceLearned, MaxLearned: 8})
	h := l.EventHandler()
	old := makePod("p", "", resGPU("4", "16Gi", "1"))
	h.OnAdd(old, false)
	updated := requireModel(old.DeepCopy(), "T4")
	h.OnUpdate(old, updated)
	set := l.Set()
	if len(set.Constraints) != 1 || set.Constraints[0] == nil {
		t.Fatalf("after the update: constraints %v, want one T4 shape", set.Constraints)
	}
	if len(set.Demand) != 1 || set.Demand[0].Constraint == nil || set.Demand[0].Pods != 1 {
		t.Fatalf("after the update: demand %+v, want one T4 pod", set.Demand)
	}
	h.OnDelete(updated)
	if set := l.Set(); len(set.Shapes) != 0 || len(set.Demand) != 0 {
		t.Errorf("after the deletion: %d shapes and demand %+v left, want none", len(set.Shapes), set.Demand)
	}
}

// A resize small enough to keep the pod in its shape bucket still moves its
// exact requests in the demand, so that its deletion takes away what it
// last added.
func TestShapeLearnerDemandFollowsResizeWithinBucket(t *testing.T) {
	l := NewShapeLearner(config.ShapeSource{Mode: config.ShapeSourceLearned, MaxLearned: 8})
	h := l.EventHandler()
	a := requireModel(makePod("a", "", res("1", "1Gi")), "T4")
	b := requireModel(makePod("b", "", res("1", "1Gi")), "T4")
	h.OnAdd(a, false)
	h.OnAdd(b, false)
	resized := b.DeepCopy()
	resized.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("1020m")
	if bucketKey(ShapeOf(b), constraintOf(b)) != bucketKey(ShapeOf(resized), constraintOf(resized)) {
		t.Fatal("the resize left the bucket; the test needs one that stays")
	}
	h.OnUpdate(b, resized)
	if d := l.Set().Demand; len(d) != 1 || d[0].Pods != 2 || cpuOf(d[0].Requests) != 2020 {
		t.Fatalf("after the resize: demand %+v, want 2 pods, 2020m", d)
	}
	h.OnDelete(resized)
	if d := l.Set().Demand; len(d) != 1 || d[0].Pods != 1 || cpuOf(d[0].Requests) != 1000 {
		t.Errorf("after the deletion: demand %+v, want 1 pod, 1000m", d)
	}
}

// The match cache answers for a node's current labels: a new node object
// with other labels under the same name is matched again, and a matched
// node object is not kept alive by the cache.
func TestConstraintMatchCache(t *testing.T) {
	c := constraintOf(requireModel(makePod("p", "", resGPU("4", "16Gi", "1")), "T4"))
	t4 := makeNode("n", resGPU("8", "32Gi", "4"), modelLabel, "T4")
	if first, cached := c.accepts(t4), c.accepts(t4); !first || !cached {
		t.Fatalf("a T4 node: accepted %v, then from the cache %v", first, cached)
	}
	relabelled := t4.DeepCopy()
	relabelled.Labels[modelLabel] = "G2"
	if c.accepts(relabelled) {
		t.Error("the node relabelled G2 is still accepted")
	}
	statusOnly := *relabelled // a status update: new object, same labels
	statusOnly.Status.Allocatable = nil
	if c.accepts(&statusOnly) {
		t.Error("the G2 node is accepted after a status update")
	}
	if c.accepts(makeNode("other", resGPU("8", "32Gi", "4"))) {
		t.Error("a node without labels is accepted")
	}

	gone := weak.Make(t4)
	t4 = nil
	runtime.GC()
	runtime.GC()
	if gone.Value() != nil {
		t.Error("the cache keeps a matched node object alive")
	}
	runtime.KeepAlive(c)
}

func cpuOf(s Shape) int64 {
	for _, q := range s {
		if q.Name == corev1.ResourceCPU {
			return q.Value
		}
	}
	return 0
}

func TestShapeModelsPerNode(t *testing.T) {
	l := NewShapeLearner(config.ShapeSource{Mode: config.ShapeSourceLearned, MaxLearned: 8})
	l.Observe(makePod("any", "", resGPU("4", "16Gi", "1")), 1)
	l.Observe(requireModel(makePod("t4", "", resGPU("4", "16Gi", "2")), "T4"), 1)
	l.Observe(requireModel(makePod("g2", "", resGPU("4", "16Gi", "4")), "G2", "G3"), 1)
	layout := stranding.NewLayout()
	for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, gpu} {
		layout.Add(n, 1, n == gpu)
	}
	m := l.Models(&layout, nil)
	if !m.Constrained() {
		t.Fatal("Constrained() = false")
	}
	gpus := func(s *stranding.Shapes) map[float64]bool {
		out := map[float64]bool{}
		for k := 0; k < s.N; k++ {
			out[s.V[k][2]] = true
		}
		return out
	}
	for _, tc := range []struct {
		node *corev1.Node
		want []float64 // GPU counts of the shapes the node accepts
	}{
		{makeNode("t4", resGPU("8", "32Gi", "4"), modelLabel, "T4"), []float64{1, 2}},
		{makeNode("g2", resGPU("8", "32Gi", "4"), modelLabel, "G2"), []float64{1, 4}},
		{makeNode("g3", resGPU("8", "32Gi", "4"), modelLabel, "G3"), []float64{1, 4}},
		{makeNode("bare", resGPU("8", "32Gi", "4")), []float64{1}},
		{nil, []float64{1, 2, 4}},
	} {
		got := gpus(m.For(tc.node))
		if len(got) != len(tc.want) {
			t.Errorf("%v: shapes with %v GPUs, want %v", tc.node.GetName(), got, tc.want)
			continue
		}
		for _, g := range tc.want {
			if !got[g] {
				t.Errorf("%v: shapes with %v GPUs, want %v", tc.node.GetName(), got, tc.want)
			}
		}
	}
	g2, g3 := makeNode("g2", resGPU("8", "32Gi", "4"), modelLabel, "G2"), makeNode("g3", resGPU("8", "32Gi", "4"), modelLabel, "G3")
	if m.For(g2) != m.For(g3) {
		t.Error("nodes that accept the same shapes get different models")
	}
}

// A pod that accepts any GPU keeps a pair of G2 GPUs free for the G2-only
// 2-GPU pods, and takes the T4 node's, where only 1-GPU pods go: free GPUs
// are judged against the shapes whose pods may use them. Blind to the
// constraint both nodes look alike but for packing, which prefers g2.
func TestScoreJudgesNodesByTheShapesTheyAccept(t *testing.T) {
	nodes := []*corev1.Node{
		makeNode("t4", resGPU("16", "64Gi", "4"), modelLabel, "T4"),
		makeNode("g2", resGPU("16", "64Gi", "4"), modelLabel, "G2"),
	}
	pods := []*corev1.Pod{
		makePod("t4-used", "t4", resGPU("2", "8Gi", "2")),
		makePod("g2-used", "g2", resGPU("3", "12Gi", "2")),
	}
	e := newEnv(t, defaultArgs(t), nodes, pods, envOptions{})
	e.observe(makePod("small", "", resGPU("2", "8Gi", "1")))
	for i := 0; i < 3; i++ {
		e.observe(requireModel(makePod("pair", "", resGPU("2", "8Gi", "2")), "G2"))
	}
	pod := makePod("new", "", resGPU("2", "8Gi", "1"))
	got := e.score(t, pod)
	if got["t4"] <= got["g2"] {
		t.Errorf("scores %v: want t4 > g2 (g2's free pair is for the G2-only shape)", got)
	}

	// The same cluster without the constraint: packing prefers the fuller g2.
	e = newEnv(t, defaultArgs(t), nodes, pods, envOptions{})
	e.observe(makePod("small", "", resGPU("2", "8Gi", "1")))
	for i := 0; i < 3; i++ {
		e.observe(makePod("pair", "", resGPU("2", "8Gi", "2")))
	}
	if got := e.score(t, pod); got["g2"] <= got["t4"] {
		t.Errorf("unconstrained shapes: scores %v, want g2 > t4", got)
	}
}

func TestReservation(t *testing.T) {
	l := NewShapeLearner(config.ShapeSource{Mode: config.ShapeSourceLearned, MaxLearned: 8})
	l.Observe(makePod("any", "", resGPU("1", "4Gi", "1")), 6)
	l.Observe(requireModel(makePod("p100", "", resGPU("1", "4Gi", "1")), "P100"), 2)
	l.Observe(requireModel(makePod("t4-or-p100", "", resGPU("1", "4Gi", "2")), "T4", "P100"), 1)
	layout := gpuLayout()
	m := l.Models(&layout, nil)
	node := func(model string) uint64 {
		k, _ := m.variant(makeNode(model, resGPU("8", "32Gi", "8"), modelLabel, model))
		return k
	}
	groups := []uint64{node("G2"), node("P100"), node("T4")}
	// The average pod of all: 1 cpu, 4Gi, 10/9 GPUs; p100 pods are 2/9 of
	// all, t4-or-p100 1/9 (2 GPUs each).
	for _, tc := range []struct {
		name  string
		free  [][3]float64 // per group: a node's free cpu cores, GiB, GPUs
		nodes []int        // per group: how many such nodes (nil: 1 each)
		want  []bool
	}{
		// All pods: 14+3+3 = 20 fit; p100: 4 <= 2/9 x 20; t4-or-p100: 2+2 > 1/9 x 20.
		{"p100 short", [][3]float64{{64, 256, 16}, {64, 256, 4}, {64, 256, 4}}, nil, []bool{false, true, false}},
		{"ample", [][3]float64{{64, 256, 8}, {64, 256, 8}, {64, 256, 4}}, nil, []bool{false, false, false}},
		// 57+1+1 fit; t4-or-p100 has room for 1+1 <= 1/9 x 59.
		{"both short", [][3]float64{{64, 256, 64}, {64, 256, 2}, {64, 256, 2}}, nil, []bool{false, true, true}},
		// P100's GPUs are free but its cpu is in pieces smaller than a pod
		// (0.9 cores on each of 4 nodes): room for none; 7+3 fit in all.
		{"fragmented", [][3]float64{{64, 256, 8}, {0.9, 64, 2}, {64, 256, 4}}, []int{1, 4, 1}, []bool{false, true, false}},
	} {
		r := m.Reservation()
		for g, f := range tc.free {
			v := stranding.Vec{f[0] * 1000, f[1] * (1 << 30), f[2]}
			for n := 0; n < 1 || tc.nodes != nil && n < tc.nodes[g]; n++ {
				r.Add(groups[g], &v)
			}
		}
		short := r.Short()
		for g := range groups {
			if got := groups[g]&short != 0; got != tc.want[g] {
				t.Errorf("%s: group %d reserved %v, want %v", tc.name, g, got, tc.want[g])
			}
		}
	}
}

func gpuLayout() stranding.Layout {
	layout := stranding.NewLayout()
	for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, gpu} {
		layout.Add(n, 1, n == gpu)
	}
	return layout
}

// An unconstrained GPU pod leaves the P100 node, whose GPUs the P100-only
// pods need, for the G2 nodes, although packing prefers the fuller P100
// node; a pod that accepts only P100 goes there.
func TestScoreLeavesReservedModelsAlone(t *testing.T) {
	nodes := []*corev1.Node{
		makeNode("g2-a", resGPU("32", "128Gi", "8"), modelLabel, "G2"),
		makeNode("g2-b", resGPU("32", "128Gi", "8"), modelLabel, "G2"),
		makeNode("p100", resGPU("32", "128Gi", "8"), modelLabel, "P100"),
	}
	pods := []*corev1.Pod{makePod("p100-used", "p100", resGPU("8", "32Gi", "2"))}
	e := newEnv(t, defaultArgs(t), nodes, pods, envOptions{})
	for i := 0; i < 6; i++ {
		e.observe(makePod(fmt.Sprint("any-", i), "", resGPU("2", "8Gi", "1")))
	}
	for i := 0; i < 3; i++ {
		e.observe(requireModel(makePod(fmt.Sprint("p100-", i), "", resGPU("2", "8Gi", "1")), "P100"))
	}
	pod := makePod("new", "", resGPU("2", "8Gi", "1"))
	got := e.score(t, pod)
	if !(got["g2-a"] > got["p100"] && got["g2-b"] > got["p100"]) {
		t.Errorf("scores %v: want both G2 nodes above p100", got)
	}
	// Above, P100 has room for 6 of the pods, no more than its third of
	// the 22 that fit; with one G2 node, more than a third of 14: not
	// reserved, packing decides.
	if got := e.score(t, pod, "g2-a", "p100"); got["p100"] <= got["g2-a"] {
		t.Errorf("scores %v: want p100 (fuller, not reserved) above g2-a", got)
	}
}

// A running pod pinned to its node by hostname requests no scarce
// resource: it reserves nothing, and packing still prefers its node, the
// exact fit for a new pod.
func TestPinnedCPUPodsReserveNothing(t *testing.T) {
	nodes := []*corev1.Node{
		makeNode("a", res("4", "16Gi"), corev1.LabelHostname, "a"),
		makeNode("b", res("4", "16Gi"), corev1.LabelHostname, "b"),
		makeNode("c", res("4", "16Gi"), corev1.LabelHostname, "c"),
	}
	pinned := makePod("pinned", "a", res("3500m", "8Gi"))
	pinned.Spec.NodeSelector = map[string]string{corev1.LabelHostname: "a"}
	e := newEnv(t, defaultArgs(t), nodes, []*corev1.Pod{pinned}, envOptions{})
	e.observe(pinned)
	for i := 0; i < 4; i++ {
		e.observe(makePod(fmt.Sprint("web-", i), "", res("500m", "1Gi")))
	}
	if r := e.pl.Shapes().Models(&stranding.Layout{}, nil).Reservation(); r != nil {
		t.Errorf("a reservation for pods that request no scarce resource: %+v", r)
	}
	got := e.score(t, makePod("new", "", res("500m", "1Gi")))
	if !(got["a"] > got["b"] && got["a"] > got["c"]) {
		t.Errorf("scores %v: want a, the exact fit, first", got)
	}
}

// Reservation counts every constrained pod, not only the shapes kept: rare
// constrained shapes fall out of the most frequent ones first.
func TestReservationCountsShapesNotKept(t *testing.T) {
	l := NewShapeLearner(config.ShapeSource{Mode: config.ShapeSourceLearned, MaxLearned: 1})
	l.Observe(makePod("any", "", resGPU("1", "4Gi", "1")), 6)
	l.Observe(requireModel(makePod("p100", "", resGPU("3", "8Gi", "1")), "P100"), 3)
	layout := gpuLayout()
	m := l.Models(&layout, nil)
	if n := len(l.Snapshot()); n != 1 {
		t.Fatalf("%d shapes kept, want 1", n)
	}
	g2, _ := m.variant(makeNode("g2", resGPU("8", "32Gi", "8"), modelLabel, "G2"))
	p100, _ := m.variant(makeNode("p100", resGPU("8", "32Gi", "8"), modelLabel, "P100"))
	r := m.Reservation()
	// A third of the pods; room for 2 of the 10 pods that fit.
	r.Add(g2, &stranding.Vec{64000, 256 << 30, 8})
	r.Add(p100, &stranding.Vec{64000, 256 << 30, 2})
	if short := r.Short(); short&g2 != 0 || short&p100 == 0 {
		t.Errorf("short %b: want p100's constraint (%b) only", short, p100)
	}
}

// A 4-GPU pod leaves whole the only node that can still host the
// 120-core 8-GPU shape and breaks into a node that cannot, although the
// stranding model alone prefers the large node's memory per GPU.
func TestScoreKeepsTheLastHostsOfAShape(t *testing.T) {
	nodes := []*corev1.Node{
		makeNode("g3", resGPU("128", "768Gi", "8")),
		makeNode("g2", resGPU("96", "384Gi", "8")),
	}
	observe := func(e *env) {
		for i := 0; i < 20; i++ {
			e.observe(makePod(fmt.Sprint("small-", i), "", resGPU("12", "48Gi", "1")))
		}
		e.observe(makePod("big", "", resGPU("120", "700Gi", "8")))
		e.observe(makePod("half", "", resGPU("60", "313Gi", "4")))
	}
	pod := makePod("new", "", resGPU("60", "313Gi", "4"))

	off := defaultArgs(t)
	off.HostScarcityWeight = 0
	e := newEnv(t, off, nodes, nil, envOptions{})
	observe(e)
	if got := e.score(t, pod); got["g3"] <= got["g2"] {
		t.Fatalf("without the host term: scores %v, want g3 > g2 (the case is moot)", got)
	}
	e = newEnv(t, defaultArgs(t), nodes, nil, envOptions{})
	observe(e)
	if got := e.score(t, pod); got["g2"] <= got["g3"] {
		t.Errorf("scores %v: want g2 > g3 (g3 is the big shape's only host)", got)
	}
}

// The model keeps learned shapes by density: a shape bound to a GPU model
// that few nodes have ranks by its pods per node it may use, so a rare
// large P100 shape is judged on a cluster with one P100 node in ten and not
// on one where half the nodes are P100. A shape bound to nodes by something
// other than a scarce resource (a hostname) ranks by its count, and a shape
// no node accepts is dropped. PreScore ranks over the cluster's nodes.
func TestShapeModelsKeepByDensity(t *testing.T) {
	pinned := makePod("pinned", "", res("1", "1Gi"))
	pinned.Spec.NodeSelector = map[string]string{corev1.LabelHostname: "g2-0"}
	pods := []struct {
		pod *corev1.Pod
		n   int
	}{
		{makePod("any-a", "", resGPU("2", "8Gi", "1")), 6},
		{makePod("any-b", "", resGPU("4", "16Gi", "1")), 5},
		{pinned, 4},
		{requireModel(makePod("nowhere", "", resGPU("1", "4Gi", "1")), "A100"), 3},
		{requireModel(makePod("p100-big", "", resGPU("15", "60Gi", "1")), "P100"), 1},
	}
	// Bound: a pending pod's shape may be kept as the largest of its kind
	// (TestLargestPendingShapes), whatever its density.
	for _, p := range pods {
		p.pod.Spec.NodeName = "elsewhere"
	}
	cluster := func(p100 int) []*corev1.Node {
		var out []*corev1.Node
		for i := range 10 {
			model := "G2"
			if i < p100 {
				model = "P100"
			}
			n := makeNode(fmt.Sprintf("%s-%d", strings.ToLower(model), i), resGPU("16", "120Gi", "2"), modelLabel, model)
			n.Labels[corev1.LabelHostname] = n.Name
			out = append(out, n)
		}
		return out
	}
	kept := func(set ShapeSet) []string {
		var out []string
		for k, sh := range set.Shapes {
			out = append(out, fmt.Sprintf("%d:%.0f", cpuOf(sh), set.Weights[k]))
		}
		return out
	}
	layout := gpuLayout()
	for _, tc := range []struct {
		name  string
		nodes []*corev1.Node
		want  []string // cpu:weight of the kept shapes
	}{
		{"no nodes", nil, []string{"2000:6", "4000:5"}},
		{"one P100 node in ten", cluster(1), []string{"15000:1", "2000:6"}},
		{"five P100 nodes in ten", cluster(5), []string{"2000:6", "4000:5"}},
		{"no P100 node", cluster(0), []string{"2000:6", "4000:5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewShapeLearner(config.ShapeSource{Mode: config.ShapeSourceLearned, MaxLearned: 2})
			for _, p := range pods {
				l.Observe(p.pod, p.n)
			}
			var nodes iter.Seq[*corev1.Node]
			if tc.nodes != nil {
				nodes = slices.Values(tc.nodes)
			}
			got := kept(l.Set().byDensity(&layout, nodes))
			if !slices.Equal(got, tc.want) {
				t.Errorf("kept %v, want %v", got, tc.want)
			}
		})
	}

	// Without a node to judge density by, the most frequent shapes are
	// kept, constrained ones included.
	l := NewShapeLearner(config.ShapeSource{Mode: config.ShapeSourceLearned, MaxLearned: 1})
	l.Observe(requireModel(makePod("p100", "", resGPU("4", "16Gi", "1")), "P100"), 2)
	l.Observe(makePod("any", "", resGPU("2", "8Gi", "1")), 1)
	if got := kept(l.Set().byDensity(&layout, slices.Values([]*corev1.Node{}))); !slices.Equal(got, []string{"4000:2"}) {
		t.Errorf("no nodes listed: kept %v, want [4000:2]", got)
	}

	args := defaultArgs(t)
	args.Shapes.MaxLearned = 2
	nodes := cluster(1)
	e := newEnv(t, args, nodes, nil, envOptions{})
	for _, p := range pods {
		e.pl.Shapes().Observe(p.pod, p.n)
	}
	// The pod's candidates are the G2 nodes; the P100 node still counts.
	s := e.preScore(t, makePod("new", "", resGPU("2", "8Gi", "1")), e.nodeInfos(t, "g2-1", "g2-2"))
	var cpus []int64
	for _, sh := range s.models.shapes {
		cpus = append(cpus, cpuOf(sh))
	}
	if want := []int64{15000, 2000}; !slices.Equal(cpus, want) {
		t.Errorf("PreScore's shapes (cpu) %v, want %v", cpus, want)
	}
}

// A constraint whose pending pods need all the room its nodes have left is
// short, however small its share of all pods.
func TestReservationCountsPendingPods(t *testing.T) {
	for _, tc := range []struct {
		pending int
		short   bool
	}{{0, false}, {3, false}, {4, true}, {5, true}} {
		l := NewShapeLearner(config.ShapeSource{Mode: config.ShapeSourceLearned, MaxLearned: 8})
		l.Observe(makePod("any", "elsewhere", resGPU("1", "4Gi", "1")), 600)
		l.Observe(requireModel(makePod("p100-bound", "elsewhere", resGPU("1", "4Gi", "1")), "P100"), 15-tc.pending)
		if tc.pending > 0 {
			l.Observe(requireModel(makePod("p100-pending", "", resGPU("1", "4Gi", "1")), "P100"), tc.pending)
		}
		layout := gpuLayout()
		m := l.Models(&layout, nil)
		g2, _ := m.variant(makeNode("g2", resGPU("8", "32Gi", "8"), modelLabel, "G2"))
		p100, _ := m.variant(makeNode("p100", resGPU("8", "32Gi", "8"), modelLabel, "P100"))
		r := m.Reservation()
		// 15 of 615 pods require P100: 2.5 of the 104 that fit, below its
		// room of 4.
		r.Add(g2, &stranding.Vec{64000, 256 << 30, 100})
		r.Add(p100, &stranding.Vec{64000, 256 << 30, 4})
		if got := r.Short()&p100 != 0; got != tc.short {
			t.Errorf("%d P100 pods pending for room for 4: short %v, want %v", tc.pending, got, tc.short)
		}
	}
}
