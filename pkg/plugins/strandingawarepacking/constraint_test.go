package strandingawarepacking

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

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

func TestShapeModelsPerNode(t *testing.T) {
	l := NewShapeLearner(config.ShapeSource{Mode: config.ShapeSourceLearned, MaxLearned: 8})
	l.Observe(makePod("any", "", resGPU("4", "16Gi", "1")), 1)
	l.Observe(requireModel(makePod("t4", "", resGPU("4", "16Gi", "2")), "T4"), 1)
	l.Observe(requireModel(makePod("g2", "", resGPU("4", "16Gi", "4")), "G2", "G3"), 1)
	layout := stranding.NewLayout()
	for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, gpu} {
		layout.Add(n, 1, n == gpu)
	}
	m := l.Models(&layout)
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

func TestReserved(t *testing.T) {
	l := NewShapeLearner(config.ShapeSource{Mode: config.ShapeSourceLearned, MaxLearned: 8})
	l.Observe(makePod("any", "", resGPU("1", "4Gi", "1")), 6)
	l.Observe(requireModel(makePod("p100", "", resGPU("1", "4Gi", "1")), "P100"), 2)
	l.Observe(requireModel(makePod("t4-or-p100", "", resGPU("1", "4Gi", "2")), "T4", "P100"), 1)
	layout := stranding.NewLayout()
	for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, gpu} {
		layout.Add(n, 1, n == gpu)
	}
	layout.Scale[2] = 8
	m := l.Models(&layout)
	mask := func(model string) uint64 {
		k, _ := m.variant(makeNode(model, resGPU("8", "32Gi", "8"), modelLabel, model))
		return k
	}
	g2, p100, t4 := mask("G2"), mask("P100"), mask("T4")
	// Demand in GPUs/8 x weight: any 6/8, p100 2/8, t4-or-p100 2/8 split by
	// free capacity; total 10/8.
	for _, tc := range []struct {
		name string
		free []float64 // G2, P100, T4
		want []bool
	}{
		// P100: 2/8 + 2/8 x 1/2 = 3/8 of 10/8 = 30% of demand, 25% of free.
		{"p100 short", []float64{2, 1, 1}, []bool{false, true, false}},
		// P100 half the free capacity, 2/8 + 2/8 x 4/5 = 3.6/8: 36% of demand;
		// T4 0.4/8: 4% of demand, 12.5% of free.
		{"p100 ample", []float64{1.5, 2, 0.5}, []bool{false, false, false}},
		// T4 5.6% of free and only part of the shared shape, 2/8 x 1/2:
		// 10% of demand; P100 30% of demand.
		{"both short", []float64{8, 0.5, 0.5}, []bool{false, true, true}},
		{"nothing free", []float64{0, 0, 0}, []bool{false, false, false}},
	} {
		got := m.Reserved([]uint64{g2, p100, t4}, tc.free)
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: reserved %v, want %v", tc.name, got, tc.want)
				break
			}
		}
	}
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
	pods := []*corev1.Pod{makePod("p100-used", "p100", resGPU("16", "64Gi", "2"))}
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
	// P100's 6 free GPUs are a quarter of all, below its third of the
	// demand. With one G2 node they are 43%: not reserved, packing decides.
	if got := e.score(t, pod, "g2-a", "p100"); got["p100"] <= got["g2-a"] {
		t.Errorf("scores %v: want p100 (fuller, not reserved) above g2-a", got)
	}
}

// Reservation counts every constrained pod, not only the shapes kept: rare
// constrained shapes fall out of the most frequent ones first.
func TestReservedCountsShapesNotKept(t *testing.T) {
	l := NewShapeLearner(config.ShapeSource{Mode: config.ShapeSourceLearned, MaxLearned: 1})
	l.Observe(makePod("any", "", resGPU("1", "4Gi", "1")), 6)
	l.Observe(requireModel(makePod("p100", "", resGPU("3", "8Gi", "1")), "P100"), 3)
	layout := stranding.NewLayout()
	for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, gpu} {
		layout.Add(n, 1, n == gpu)
	}
	layout.Scale[2] = 8
	m := l.Models(&layout)
	if n := len(l.Set().Shapes); n != 1 {
		t.Fatalf("%d shapes kept, want 1", n)
	}
	g2, _ := m.variant(makeNode("g2", resGPU("8", "32Gi", "8"), modelLabel, "G2"))
	p100, _ := m.variant(makeNode("p100", resGPU("8", "32Gi", "8"), modelLabel, "P100"))
	// P100: a third of the demand, a fifth of the free GPUs.
	if got := m.Reserved([]uint64{g2, p100}, []float64{2, 0.5}); got[0] || !got[1] {
		t.Errorf("reserved %v, want [false true]", got)
	}
}
