package strandingawarepacking

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/snug-sched/snug/pkg/apis/config"
	"github.com/snug-sched/snug/pkg/stranding"
)

// A pending pod that only P100 nodes may host and that needs one whole
// keeps the pods that may go anywhere off the last spare P100 node, even
// when its shape is too rare for the model to keep by count; bound, it
// leaves the scoring as it was, and so does a small pod of its own kind.
func TestPendingDemandKeepsHostsWhole(t *testing.T) {
	nodes := []*corev1.Node{
		makeNode("p100-a", resGPU("16", "64Gi", "2"), modelLabel, "P100"),
		makeNode("p100-b", resGPU("16", "64Gi", "2"), modelLabel, "P100"),
		makeNode("g2", resGPU("96", "384Gi", "8"), modelLabel, "G2"),
	}
	bound := []*corev1.Pod{makePod("g2-used", "g2", resGPU("12", "48Gi", "2"))}
	small := makePod("small", "", resGPU("3", "8Gi", "1"))
	// More distinct shapes than the learner hands out, each twice: by count
	// the P100 shape is not even a candidate.
	crowd := func(e *env) {
		for i := range 300 {
			p := makePod(fmt.Sprintf("crowd-%d", i), "", resGPU(fmt.Sprintf("%dm", 1000+300*(i%30)), fmt.Sprintf("%dGi", 1+i/30), "1"))
			p.Spec.NodeName = "elsewhere"
			e.pl.Shapes().Observe(p, 2)
		}
	}
	scores := func(p100Node string) map[string]int64 {
		e := newEnv(t, defaultArgs(t), nodes, bound, envOptions{})
		crowd(e)
		e.observe(requireModel(makePod("p100-big", p100Node, resGPU("16", "60Gi", "1")), "P100"))
		return e.score(t, small)
	}
	got := scores("")
	if got["g2"] <= got["p100-a"] || got["g2"] <= got["p100-b"] {
		t.Errorf("P100-only pod pending: scores %v, want g2 above both P100 nodes", got)
	}
	got = scores("elsewhere")
	if got["g2"] >= got["p100-a"] && got["g2"] >= got["p100-b"] {
		t.Errorf("P100-only pod bound: scores %v, want a P100 node above g2 (the test no longer shows what pending demand changes)", got)
	}

	// A pod of the pending demand's own kind takes a host as the demand
	// would, so it is judged by all the hosts (1/2 for one of two), and a
	// pod that is not by the hosts the demand leaves spare (1 for the last).
	hostCost := func(pod *corev1.Pod) float64 {
		e := newEnv(t, defaultArgs(t), nodes, bound, envOptions{})
		crowd(e)
		e.observe(requireModel(makePod("p100-big", "", resGPU("16", "60Gi", "1")), "P100"), pod)
		s := e.preScore(t, pod, e.nodeInfos(t))
		plan, alloc, used := s.judgement(e.nodeInfos(t, "p100-a")[0])
		return plan.HostCost(&alloc, &used)
	}
	if got := hostCost(requireModel(makePod("p100-other", "", resGPU("16", "62Gi", "1")), "P100")); got != 0.5 {
		t.Errorf("host cost of a pod of the pending demand's kind: %v, want 0.5 (one of two hosts)", got)
	}
	if got := hostCost(makePod("small", "", resGPU("3", "8Gi", "1"))); got != 1 {
		t.Errorf("host cost of a pod that may go anywhere: %v, want 1 (the one spare host)", got)
	}
}

// A CPU-only pod that needs more than half of the largest node needs a node
// nothing else has broken into, as a large GPU pod does: while one is
// pending, the host term protects its hosts. A pod that fits twice on a node
// is left to packing.
func TestWholeNodePodsKeepTheirHosts(t *testing.T) {
	nodes := []*corev1.Node{
		makeNode("big-a", res("96", "384Gi")),
		makeNode("big-b", res("96", "384Gi")),
		makeNode("small", res("32", "128Gi")),
	}
	bound := []*corev1.Pod{makePod("big-b-used", "big-b", res("40", "64Gi"))}
	hostCost := func(pending *corev1.Pod) map[string]float64 {
		e := newEnv(t, defaultArgs(t), nodes, bound, envOptions{})
		// More distinct shapes, each more frequent, than the learner keeps:
		// the pending pod is kept because it is the largest.
		for i := range 100 {
			p := makePod(fmt.Sprintf("crowd-%d", i), "elsewhere", res(fmt.Sprintf("%dm", 500+100*i), "1Gi"))
			e.pl.Shapes().Observe(p, 2)
		}
		pod := makePod("new", "", res("20", "16Gi")) // 76 cores left: no room for 80
		e.observe(pending, pod)
		infos := e.nodeInfos(t)
		s := e.preScore(t, pod, infos)
		got := map[string]float64{}
		for _, ni := range infos {
			plan, alloc, used := s.judgement(ni)
			got[ni.Node().Name] = plan.HostCost(&alloc, &used)
		}
		return got
	}
	got := hostCost(makePod("batch", "", res("80", "128Gi")))
	if got["big-a"] != 1 || got["big-b"] != 0 || got["small"] != 0 {
		t.Errorf("80-core pod pending: host costs %v, want 1 on big-a (its one host) and 0 elsewhere", got)
	}
	got = hostCost(makePod("batch", "", res("40", "128Gi")))
	if got["big-a"] != 0 || got["big-b"] != 0 || got["small"] != 0 {
		t.Errorf("40-core pod pending: host costs %v, want 0 (two fit on a node: packing's business)", got)
	}
}

func TestWholeNode(t *testing.T) {
	l := gpuLayout()
	cpu, gpuDim := l.Index(corev1.ResourceCPU), l.Index(gpu)
	var largest stranding.Vec
	largest[cpu], largest[gpuDim] = 96000, 8
	for _, tc := range []struct {
		name     string
		cpu, gpu float64
		want     int
	}{
		{"more than half the cores", 48001, 0, cpu},
		{"half the cores", 48000, 0, -1},
		{"most of the GPUs", 1000, 5, gpuDim},
	} {
		var v stranding.Vec
		v[cpu], v[gpuDim] = tc.cpu, tc.gpu
		if got := wholeNode(&l, &largest, &v); got != tc.want {
			t.Errorf("%s: wholeNode = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestSpareHosts(t *testing.T) {
	for _, tc := range []struct {
		hosts, slots, need, want float64
	}{
		{0, 0, 3, 0},    // no host: the shape is ignored
		{10, 10, 0, 10}, // nothing pending: every host counts
		{10, 10, 4, 6},  // one place per host: the pending pods take 4
		{10, 40, 20, 5}, // four places per host: half the places are taken
		{10, 10, 10, 1}, // every host needed: one counts, taking it costs all
		{10, 10, 25, 1}, // more demand than hosts
		{3, 3, 1, 2},
	} {
		if got := spareHosts(tc.hosts, tc.slots, tc.need); got != tc.want {
			t.Errorf("spareHosts(%v, %v, %v) = %v, want %v", tc.hosts, tc.slots, tc.need, got, tc.want)
		}
	}
}

func TestLearnerCountsPendingPods(t *testing.T) {
	l := NewShapeLearner(config.ShapeSource{Mode: config.ShapeSourceLearned, MaxLearned: 8})
	a := makePod("a", "", resGPU("2", "8Gi", "1"))
	b := makePod("b", "", resGPU("2", "8Gi", "1"))
	c := makePod("c", "n1", resGPU("2", "8Gi", "1"))
	l.Observe(a, 1)
	l.Observe(b, 1)
	l.Observe(c, 1)
	pendingOf := func(set ShapeSet) float64 { return pendingPods(t, set) }
	if got := pendingOf(l.Set()); got != 2 {
		t.Errorf("pending %v, want 2 (c is bound)", got)
	}
	if got := pendingOf(l.SetFor(a)); got != 1 {
		t.Errorf("pending for a's cycle %v, want 1 (a itself is not demand)", got)
	}
	if got := pendingOf(l.SetFor(makePod("new", "", resGPU("2", "8Gi", "1")))); got != 2 {
		t.Errorf("pending for an uncounted pod's cycle %v, want 2", got)
	}
	boundA := a.DeepCopy()
	boundA.Spec.NodeName = "n1"
	h := l.EventHandler()
	h.OnUpdate(a, boundA)
	if got := pendingOf(l.Set()); got != 1 {
		t.Errorf("after a's binding: pending %v, want 1", got)
	}
	l.Bind(boundA, -1) // undone, as a simulation's Revert does
	if got := pendingOf(l.Set()); got != 2 {
		t.Errorf("after the binding is undone: pending %v, want 2", got)
	}
	l.Bind(boundA, 1)
	h.OnDelete(b)
	if got := pendingOf(l.Set()); got != 0 {
		t.Errorf("after b's deletion: pending %v, want 0", got)
	}
	if set := l.Set(); set.Weights[0] != 2 {
		t.Errorf("weights %v, want 2 pods (a and c)", set.Weights)
	}
	h.OnDelete(boundA)
	h.OnDelete(c)
	if set := l.Set(); len(set.Shapes) != 0 || pendingOf(set) != 0 {
		t.Errorf("all deleted: %+v", set)
	}

	// Bound and resized in one update, within its bucket and across.
	for _, cpu := range []string{"2010m", "2500m"} {
		d := makePod("d", "", resGPU("2", "8Gi", "1"))
		h.OnAdd(d, false)
		resized := makePod("d", "n1", resGPU(cpu, "8Gi", "1"))
		h.OnUpdate(d, resized)
		if set := l.Set(); len(set.Shapes) != 1 || pendingOf(set) != 0 {
			t.Errorf("%s: after a binding with a resize: %d shapes, %v pending; want 1 and 0", cpu, len(set.Shapes), pendingOf(set))
		}
		h.OnDelete(resized)
	}

	// A binding reported twice (the scheduler and the informer) or undone
	// without having been made changes nothing.
	e := makePod("e", "", resGPU("2", "8Gi", "1"))
	f := makePod("f", "", resGPU("2", "8Gi", "1"))
	l.Observe(e, 1)
	l.Observe(f, 1)
	boundE := e.DeepCopy()
	boundE.Spec.NodeName = "n1"
	l.Bind(boundE, 1)
	l.Bind(boundE, 1)
	l.Bind(f, -1)
	if got := pendingOf(l.Set()); got != 1 {
		t.Errorf("after e bound twice and f unbound without a binding: %v pending, want 1 (f)", got)
	}
	l.Observe(boundE, -1)
	l.Observe(f, -1)
	if set := l.Set(); len(set.Shapes) != 0 || pendingOf(set) != 0 {
		t.Errorf("all deleted: %+v", set)
	}
}

func TestHostDemand(t *testing.T) {
	layout := gpuLayout()
	p100 := func(p *corev1.Pod) *corev1.Pod { return requireModel(p, "P100") }
	l := NewShapeLearner(config.ShapeSource{Mode: config.ShapeSourceLearned, MaxLearned: 8})
	l.Observe(makePod("small", "", resGPU("2", "8Gi", "1")), 1)                  // 0: unconstrained
	l.Observe(p100(makePod("p100-small", "", resGPU("2", "8Gi", "1"))), 1)       // 1: P100
	l.Observe(p100(makePod("p100-big", "", resGPU("16", "60Gi", "1"))), 1)       // 2: P100, covers 0 and 1
	l.Observe(makePod("big", "", resGPU("16", "60Gi", "1")), 1)                  // 3: unconstrained, covers 0 and 1
	l.Observe(makePod("cpu", "", res("32", "64Gi")), 1)                          // no GPU: counts for itself only
	l.Observe(p100(makePod("bound", "elsewhere", resGPU("32", "64Gi", "1"))), 1) // bound: counts for none
	set := l.Set()
	need, _ := set.hostDemand(&layout, nil)
	got := map[string]float64{}
	for k, sh := range set.Shapes {
		got[sh.String()+constraintLabel(set.Constraints[k])] = need[k]
	}
	for shape, want := range map[string]float64{
		ShapeOf(makePod("", "", resGPU("2", "8Gi", "1"))).String():         4, // itself, both P100 pods (any node admits them) and big
		ShapeOf(makePod("", "", resGPU("2", "8Gi", "1"))).String() + "P":   2, // itself and p100-big, not big (may go elsewhere)
		ShapeOf(makePod("", "", resGPU("16", "60Gi", "1"))).String() + "P": 1,
		ShapeOf(makePod("", "", resGPU("16", "60Gi", "1"))).String():       2, // itself and p100-big
		ShapeOf(makePod("", "", res("32", "64Gi"))).String():               1, // itself; the bound P100 pod covers it but is not pending
	} {
		if got[shape] != want {
			t.Errorf("need of %s = %v, want %v (all: %v)", shape, got[shape], want, got)
		}
	}
}

// Pods that, like a shape, need more than half of a resource of the
// cluster's largest node take its hosts without covering it: no node holds
// two of them. Half is judged against the cluster, not the candidates.
func TestHostDemandCountsExclusivePods(t *testing.T) {
	layout := gpuLayout()
	l := NewShapeLearner(config.ShapeSource{Mode: config.ShapeSourceLearned, MaxLearned: 8})
	for name, r := range map[string]map[corev1.ResourceName]string{
		"cpu80":  res("80", "120Gi"),
		"gpu8":   resGPU("64", "256Gi", "8"),
		"gpu4":   resGPU("60", "300Gi", "4"),
		"small":  resGPU("16", "32Gi", "1"),
		"cpu40":  res("40", "64Gi"),
		"cpu40b": res("40", "64Gi"),
	} {
		l.Observe(makePod(name, "", r), 1)
	}
	set := l.Set()
	want := map[string]float64{
		// Itself, and the 64- and 60-core pods: more than 48 of 96 cores.
		ShapeOf(makePod("", "", res("80", "120Gi"))).String(): 3,
		// Itself and the 80- and 60-core pods; 4 GPUs is not more than half.
		ShapeOf(makePod("", "", resGPU("64", "256Gi", "8"))).String(): 3,
		ShapeOf(makePod("", "", resGPU("60", "300Gi", "4"))).String(): 3,
		// Covered by the 8- and 4-GPU pods, and needs half of nothing.
		ShapeOf(makePod("", "", resGPU("16", "32Gi", "1"))).String(): 3,
		// Its two pods and the three larger ones that cover it; 40 cores
		// is not more than half.
		ShapeOf(makePod("", "", res("40", "64Gi"))).String(): 5,
	}
	check := func(what string, nodes []*corev1.Node, want map[string]float64) {
		t.Helper()
		layout.Scale = stranding.Vec{}
		layout.Scale[0], layout.Scale[1], layout.Scale[2] = 96000, 384<<30, 8
		need, _ := set.hostDemand(&layout, slices.Values(nodes))
		seen := 0
		for k, sh := range set.Shapes {
			if w, ok := want[sh.String()]; ok {
				seen++
				if need[k] != w {
					t.Errorf("%s: need of %s = %v, want %v", what, sh, need[k], w)
				}
			}
		}
		if seen != len(want) {
			t.Errorf("%s: %d of the %d shapes learned", what, seen, len(want))
		}
	}
	check("96-core cluster", []*corev1.Node{makeNode("n", resGPU("96", "384Gi", "8"))}, want)
	// A 192-core node elsewhere in the cluster could hold any two of the
	// 80-, 64- and 60-core pods: only covering pods count.
	for _, r := range []map[corev1.ResourceName]string{res("80", "120Gi"), resGPU("64", "256Gi", "8"), resGPU("60", "300Gi", "4")} {
		want[ShapeOf(makePod("", "", r)).String()] = 1
	}
	check("cluster with a 192-core node", []*corev1.Node{makeNode("n", resGPU("96", "384Gi", "8")), makeNode("big", resGPU("192", "768Gi", "8"))}, want)
}

func constraintLabel(c *Constraint) string {
	if c == nil {
		return ""
	}
	return "P"
}

func TestLargestPendingShapes(t *testing.T) {
	l := NewShapeLearner(config.ShapeSource{Mode: config.ShapeSourceLearned, MaxLearned: 1})
	for i := range 8 {
		l.Observe(makePod(fmt.Sprintf("any-%d", i), "", resGPU(fmt.Sprintf("%d", 1+i), "4Gi", "1")), 3)
	}
	cpuHeavy := requireModel(makePod("cpu", "", resGPU("16", "8Gi", "1")), "P100")
	memHeavy := requireModel(makePod("mem", "", resGPU("4", "60Gi", "1")), "P100")
	small := requireModel(makePod("small", "", resGPU("2", "4Gi", "1")), "P100")
	boundBig := requireModel(makePod("bound", "n1", resGPU("32", "120Gi", "2")), "P100")
	for _, p := range []*corev1.Pod{cpuHeavy, memHeavy, small, boundBig} {
		l.Observe(p, 1)
	}
	set := l.Set()
	var largest []string
	for k, ok := range set.Largest {
		if ok {
			largest = append(largest, set.Shapes[k].String())
		}
	}
	// Per constraint (P100, none) and resource (cpu, memory, GPUs): the
	// cpu- and memory-heaviest P100 shapes and the cpu-heaviest
	// unconstrained one; the winners of the GPU ties are covered by those
	// and left out.
	want := []string{ShapeOf(cpuHeavy).String(), ShapeOf(memHeavy).String(), "cpu=8000;memory=4294967296;nvidia.com/gpu=1;"}
	slices.Sort(want)
	slices.Sort(largest)
	if !slices.Equal(largest, want) {
		t.Errorf("largest %v, want %v", largest, want)
	}
	if slices.Contains(largest, ShapeOf(boundBig).String()) {
		t.Errorf("largest %v holds a bound pod's shape", largest)
	}
	if len(set.Shapes) != len(set.Weights) || len(set.Shapes) != len(set.Pending) || len(set.Shapes) != len(set.Largest) {
		t.Errorf("ragged set: %d shapes, %d weights, %d pending, %d largest", len(set.Shapes), len(set.Weights), len(set.Pending), len(set.Largest))
	}
}

// Reserve counts the pod as bound before the informer reports the binding;
// the binding then changes nothing, and Unreserve (a failed binding) makes
// it pending again, also when Reserve was not called.
func TestReserveBindsInTheLearner(t *testing.T) {
	e := newEnv(t, defaultArgs(t), []*corev1.Node{makeNode("n1", resGPU("16", "64Gi", "2"))}, nil, envOptions{})
	l := e.pl.Shapes()
	pod := makePod("a", "", resGPU("2", "8Gi", "1"))
	other := makePod("b", "", resGPU("2", "8Gi", "1"))
	l.Observe(pod, 1)
	l.Observe(other, 1)
	pendingNow := func() float64 { return pendingPods(t, l.Set()) }
	if st := e.pl.Reserve(e.ctx, nil, pod, "n1"); !st.IsSuccess() {
		t.Fatal(st)
	}
	if got := pendingNow(); got != 1 {
		t.Errorf("after Reserve: %v pending, want 1", got)
	}
	bound := pod.DeepCopy()
	bound.Spec.NodeName = "n1"
	l.EventHandler().OnUpdate(pod, bound)
	if got := pendingNow(); got != 1 {
		t.Errorf("after the informer's binding: %v pending, want 1 (counted once)", got)
	}
	e.pl.Unreserve(e.ctx, nil, other, "n1") // never reserved
	if got := pendingNow(); got != 1 {
		t.Errorf("after an Unreserve without Reserve: %v pending, want 1", got)
	}
	e.pl.Reserve(e.ctx, nil, other, "n1")
	e.pl.Unreserve(e.ctx, nil, other, "n1")
	if got := pendingNow(); got != 1 {
		t.Errorf("after Reserve and Unreserve: %v pending, want 1", got)
	}
}

// pendingPods is the set's pending pods over all its shapes.
func pendingPods(t *testing.T, set ShapeSet) float64 {
	t.Helper()
	if len(set.Pending) != len(set.Shapes) {
		t.Fatalf("Pending %v for %d shapes", set.Pending, len(set.Shapes))
	}
	var n float64
	for _, p := range set.Pending {
		n += p
	}
	return n
}

// On nodes whose shapes include pods bound to GPU models the bundle term
// gives a pod no credit for its few cores (stranding.Plan.NoBundleCredit):
// a few-core GPU pod pays nothing on an empty G2 node once G2-bound pods are
// known, and pays for the cores it leaves idle GPUs without before.
func TestNoBundleCreditOnModelNodes(t *testing.T) {
	nodes := []*corev1.Node{
		makeNode("g2", resGPU("96", "384Gi", "8"), modelLabel, "G2", corev1.LabelOSStable, "linux"),
		makeNode("v100", resGPU("32", "128Gi", "4"), modelLabel, "V100M16", corev1.LabelOSStable, "linux"),
	}
	waste := func(boundTo string) float64 {
		e := newEnv(t, defaultArgs(t), nodes, nil, envOptions{})
		for i := range 20 {
			p := makePod(fmt.Sprint("any-", i), "elsewhere", resGPU("12", "48Gi", "1"))
			e.pl.Shapes().Observe(p, 1)
		}
		for i := range 3 {
			e.pl.Shapes().Observe(requireModel(makePod(fmt.Sprint("bound-", i), "elsewhere", resGPU("12", "48Gi", "1")), boundTo), 1)
		}
		// A CPU-only pod with a node selector is not bound to a GPU model.
		linux := makePod("linux", "elsewhere", res("2", "4Gi"))
		linux.Spec.NodeSelector = map[string]string{corev1.LabelOSStable: "linux"}
		e.pl.Shapes().Observe(linux, 3)
		pod := makePod("new", "", resGPU("2", "8Gi", "1"))
		s := e.preScore(t, pod, e.nodeInfos(t))
		plan, alloc, used := s.judgement(e.nodeInfos(t, "g2")[0])
		return plan.Evaluate(&alloc, &used).BundleWaste
	}
	if got := waste("V100M16"); !(got > 0.01) {
		t.Errorf("only V100M16-bound pods known: waste on the empty G2 node %v, want > 0 (the credit)", got)
	}
	if got := waste("G2"); got > 1e-9 {
		t.Errorf("G2-bound pods known: waste on the empty G2 node %v, want 0 (no credit)", got)
	}
}

// Whether a shape needs a whole node is judged against the cluster's
// largest node, not the pod's candidates: a 20-core pod fits four times on
// a 96-core node, so it is packing's business even for a pod that may only
// go to 32-core nodes.
func TestWholeNodeIsJudgedByTheCluster(t *testing.T) {
	nodes := []*corev1.Node{
		makeNode("big", res("96", "384Gi")),
		makeNode("small", res("32", "128Gi")),
	}
	e := newEnv(t, defaultArgs(t), nodes, nil, envOptions{})
	pod := makePod("new", "", res("16", "16Gi")) // 16 cores left on small: no room for 20
	e.observe(makePod("batch", "", res("20", "32Gi")), pod)
	small := e.nodeInfos(t, "small")
	s := e.preScore(t, pod, small)
	plan, alloc, used := s.judgement(small[0])
	if got := plan.HostCost(&alloc, &used); got != 0 {
		t.Errorf("host cost on the small node %v, want 0 (a 20-core pod needs no whole 96-core node)", got)
	}
}
