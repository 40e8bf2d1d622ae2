package strandingawarepacking

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	st "k8s.io/kubernetes/pkg/scheduler/testing"

	"github.com/snug-sched/snug/pkg/stranding"
)

// preScore runs the plugin's PreScore over nodes and returns its state.
func (e *env) preScore(t testing.TB, pod *corev1.Pod, nodes []fwk.NodeInfo) *preScoreState {
	t.Helper()
	cs := framework.NewCycleState()
	if s := e.pl.PreScore(e.ctx, cs, pod, nodes); !s.IsSuccess() {
		t.Fatalf("PreScore: %v", s)
	}
	s, err := getState(cs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// judgement returns the plan s judges ni with and ni's vectors as Score
// reads them.
func (s *preScoreState) judgement(ni fwk.NodeInfo) (plan *stranding.Plan, alloc, used stranding.Vec) {
	plan, _ = s.plan(ni.Node())
	nodeVectors(&s.layout, &s.kinds, ni, true, &alloc, &used)
	return plan, alloc, used
}

// The cycle's layout is the configured resources, then the extended
// resources of the pod, the candidates and the shapes in name order,
// whatever order the maps they come from and the candidates are in.
func TestPreScoreLayoutOrderIsDeterministic(t *testing.T) {
	ext := func(cpu string, names ...corev1.ResourceName) map[corev1.ResourceName]string {
		r := res(cpu, "8Gi")
		for _, n := range names {
			r[n] = "4"
		}
		return r
	}
	nodes := []*corev1.Node{
		makeNode("n1", ext("4", "example.com/e", "example.com/a", "example.com/c", gpu)),
		makeNode("n2", ext("8", "example.com/f", "example.com/b", "example.com/d", "example.com/c")),
	}
	e := newEnv(t, defaultArgs(t), nodes, nil, envOptions{})
	e.observe(makePod("shape", "", ext("1", "example.com/h", "example.com/g")))
	pod := makePod("new", "", ext("1", "example.com/z", "example.com/y", "example.com/a"))
	want := []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage, corev1.ResourcePods,
		"example.com/a", "example.com/b", "example.com/c", "example.com/d", "example.com/e", "example.com/f",
		"example.com/g", "example.com/h", "example.com/y", "example.com/z", gpu}
	infos := e.nodeInfos(t, "n1", "n2")
	for i := 0; i < 20; i++ {
		s := e.preScore(t, pod, infos)
		if got := s.layout.Names[:s.layout.N]; !slices.Equal(got, want) {
			t.Fatalf("build %d: layout %v, want %v", i, got, want)
		}
		slices.Reverse(infos)
	}
}

// A BestEffort pod is scored as kube-scheduler scores it, as if it took
// 100m and 200Mi (resourcemodel.ScoringRequests), not as a zero vector that
// changes nothing and so lands on the fullest node. With the cluster's shape
// 2 cpu / 4Gi: "full" has room for exactly one more such pod, which the
// BestEffort pod's 100m would take away; "ragged" has room for one and
// 1 cpu / 2Gi no shape can use, where the BestEffort pod strands nothing
// new; "empty" loses a whole shape's room as "full" does, and is emptier.
func TestScoreBestEffortPodByNonZeroRequests(t *testing.T) {
	nodes := []*corev1.Node{
		makeNode("full", res("8", "16Gi")),
		makeNode("ragged", res("8", "16Gi")),
		makeNode("empty", res("8", "16Gi")),
	}
	pods := []*corev1.Pod{
		makePod("f1", "full", res("2", "4Gi")), makePod("f2", "full", res("2", "4Gi")), makePod("f3", "full", res("2", "4Gi")),
		makePod("r1", "ragged", res("2", "4Gi")), makePod("r2", "ragged", res("3", "6Gi")),
	}
	e := newEnv(t, defaultArgs(t), nodes, pods, envOptions{})
	e.observe(makePod("shape", "", res("2", "4Gi")))
	be := st.MakePod().Namespace("default").Name("be").UID("be").Container("registry.k8s.io/pause:3.10").Obj()
	got := e.score(t, be)
	best := ""
	for n, s := range got {
		if best == "" || s > got[best] {
			best = n
		}
	}
	if best != "ragged" || got["ragged"] == got["full"] || got["ragged"] == got["empty"] {
		t.Errorf("scores = %v, want ragged alone on top", got)
	}
}

// A node is skipped by the host count only when no scarce dimension has
// free the least a counted shape requests there.
func TestMayHost(t *testing.T) {
	rules := newLayoutRules(defaultArgs(t))
	l := rules.layout([]corev1.ResourceName{gpu})
	kinds := kindsOf(&l)
	g := l.Index(gpu)
	if g < 0 || !l.Scarce[g] {
		t.Fatalf("layout %v: %s is not a scarce dimension", l.Names[:l.N], gpu)
	}
	node := func(gpus, usedGPUs string) fwk.NodeInfo {
		ni := framework.NewNodeInfo()
		if usedGPUs != "" {
			ni = framework.NewNodeInfo(makePod("used", "n", resGPU("1", "1Gi", usedGPUs)))
		}
		res := res("32", "128Gi")
		if gpus != "" {
			res = resGPU("32", "128Gi", gpus)
		}
		ni.SetNode(makeNode("n", res))
		return ni
	}
	for _, c := range []struct {
		name       string
		gpus, used string
		least      float64
		want       bool
	}{
		{name: "free GPUs equal the least request", gpus: "8", used: "6", least: 2, want: true},
		{name: "free GPUs below the least request", gpus: "8", used: "7", least: 2},
		{name: "CPU-only node", least: 1},
		{name: "empty GPU node", gpus: "8", least: 8, want: true},
	} {
		var least stranding.Vec
		least[g] = c.least
		if got := mayHost(&l, &kinds, node(c.gpus, c.used), &least); got != c.want {
			t.Errorf("%s: mayHost %v, want %v", c.name, got, c.want)
		}
	}
	// A whole-node CPU-only shape: free cores decide (the node has 32, the
	// used pod takes 1).
	cpu := l.Index(corev1.ResourceCPU)
	for _, c := range []struct {
		least float64
		want  bool
	}{{31000, true}, {31001, false}} {
		var least stranding.Vec
		least[cpu] = c.least
		if got := mayHost(&l, &kinds, node("8", "1"), &least); got != c.want {
			t.Errorf("cpu least %v: mayHost %v, want %v", c.least, got, c.want)
		}
	}
}
