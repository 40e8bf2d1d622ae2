package simulator

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"

	"github.com/snug-sched/snug/pkg/plugins/strandingawarepacking"
)

func node(name, cpu, mem string) *corev1.Node {
	rl := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem),
		corev1.ResourcePods: resource.MustParse("110")}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Status: corev1.NodeStatus{Capacity: rl, Allocatable: rl}}
}

func pod(name, cpu, mem string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}}}}},
	}
}

func newSim(t *testing.T, profile func() (*schedconfig.KubeSchedulerProfile, error), opts Options, nodes ...*corev1.Node) *Simulator {
	t.Helper()
	p, err := profile()
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(t.Context(), p, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	for _, n := range nodes {
		if err := s.AddNode(n); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func schedule(t *testing.T, s *Simulator, pods ...*corev1.Pod) []string {
	t.Helper()
	var out []string
	for _, p := range pods {
		r, err := s.Schedule(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r.Node)
	}
	return out
}

// Hand-checked: the default profile (LeastAllocated) spreads three small
// pods over three empty nodes; snug's profile packs them onto one.
func TestDefaultSpreadsSnugPacks(t *testing.T) {
	nodes := func() []*corev1.Node {
		return []*corev1.Node{node("n1", "4", "8Gi"), node("n2", "4", "8Gi"), node("n3", "4", "8Gi")}
	}
	pods := func() []*corev1.Pod {
		return []*corev1.Pod{pod("a", "1", "1Gi"), pod("b", "1", "1Gi"), pod("c", "1", "1Gi")}
	}
	def := schedule(t, newSim(t, DefaultProfile, Options{}, nodes()...), pods()...)
	if def[0] == def[1] || def[1] == def[2] || def[0] == def[2] {
		t.Errorf("default profile placed %v, want three different nodes", def)
	}
	snug := schedule(t, newSim(t, SnugProfile, Options{}, nodes()...), pods()...)
	if snug[0] != "n1" || snug[1] != "n1" || snug[2] != "n1" {
		t.Errorf("snug profile placed %v, want all on n1 (packing, ties to the first name)", snug)
	}
}

func TestUnschedulableReason(t *testing.T) {
	s := newSim(t, DefaultProfile, Options{}, node("n1", "1", "1Gi"), node("n2", "2", "1Gi"))
	r, err := s.Schedule(context.Background(), pod("big", "3", "512Mi"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Node != "" || !strings.Contains(r.Reason, "0/2 nodes are available") || !strings.Contains(r.Reason, "Insufficient cpu") {
		t.Errorf("result %+v, want no node and an Insufficient cpu reason", r)
	}
}

func TestForkRevert(t *testing.T) {
	s := newSim(t, SnugProfile, Options{}, node("n1", "4", "8Gi"), node("n2", "4", "8Gi"))
	schedule(t, s, pod("a", "3", "1Gi"))
	m := s.Fork()
	got := schedule(t, s, pod("b", "3", "1Gi"), pod("c", "1", "1Gi"))
	if err := s.AddNode(node("n3", "8", "8Gi")); err != nil {
		t.Fatal(err)
	}
	if err := s.RemovePod(pod("a", "3", "1Gi")); err != nil {
		t.Fatal(err)
	}
	if err := s.Revert(m); err != nil {
		t.Fatal(err)
	}
	if len(s.Nodes()) != 2 {
		t.Fatalf("after revert %d nodes, want 2", len(s.Nodes()))
	}
	if _, ok := s.Pod("default", "a"); !ok {
		t.Error("pod a lost by revert")
	}
	if _, ok := s.Pod("default", "b"); ok {
		t.Error("pod b survived revert")
	}
	used := map[string]int64{}
	for _, ni := range s.Nodes() {
		used[ni.Node().Name] = ni.GetRequested().GetMilliCPU()
	}
	if used["n1"]+used["n2"] != 3000 {
		t.Errorf("requested cpu after revert %v, want only pod a's 3000m", used)
	}
	// Same input, same answer: replaying gives the same placement.
	if again := schedule(t, s, pod("b", "3", "1Gi"), pod("c", "1", "1Gi")); fmt.Sprint(again) != fmt.Sprint(got) {
		t.Errorf("replay after revert placed %v, first run %v", again, got)
	}
}

// A revert followed by other changes reaches the same Mark with a different
// state; Version must tell them apart.
func TestVersionNeverRepeats(t *testing.T) {
	s := newSim(t, DefaultProfile, Options{}, node("n1", "4", "8Gi"), node("n2", "4", "8Gi"))
	m := s.Fork()
	schedule(t, s, pod("a", "1", "1Gi"))
	withA, markA := s.Version(), s.Fork()
	if err := s.Revert(m); err != nil {
		t.Fatal(err)
	}
	schedule(t, s, pod("b", "2", "1Gi"))
	if s.Fork() != markA {
		t.Fatalf("test premise: marks %d and %d differ", s.Fork(), markA)
	}
	if s.Version() == withA {
		t.Errorf("version %d after a revert and another pod, same as with pod a", withA)
	}
}

func TestPreemptionInSimulator(t *testing.T) {
	low, high := int32(10), int32(1000)
	victim := pod("victim", "3", "1Gi")
	victim.Spec.Priority = &low
	victim.Spec.NodeName = "n1"
	preemptor := pod("preemptor", "3", "1Gi")
	preemptor.Spec.Priority = &high
	for _, tc := range []struct {
		name    string
		preempt bool
		want    string
	}{{"off", false, ""}, {"on", true, "n1"}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, SnugProfile, Options{Preemption: tc.preempt}, node("n1", "4", "8Gi"))
			if err := s.AddPod(victim.DeepCopy()); err != nil {
				t.Fatal(err)
			}
			r, err := s.Schedule(context.Background(), preemptor.DeepCopy())
			if err != nil {
				t.Fatal(err)
			}
			if r.Node != tc.want {
				t.Fatalf("placed on %q (%s), want %q", r.Node, r.Reason, tc.want)
			}
			if tc.preempt && (len(r.Victims) != 1 || r.Victims[0].Name != "victim") {
				t.Errorf("victims %v, want [victim]", r.Victims)
			}
			if _, still := s.Pod("default", "victim"); still == tc.preempt {
				t.Errorf("victim still placed = %v with preemption %v", still, tc.preempt)
			}
		})
	}
}

// The packing and preemption plugins of snug's profile share one shape
// learner; the simulator feeds it each pod once.
func TestSharedLearnerObservedOnce(t *testing.T) {
	s := newSim(t, SnugProfile, Options{Preemption: true}, node("n1", "8", "16Gi"))
	schedule(t, s, pod("a", "1", "1Gi"), pod("b", "1", "1Gi"), pod("c", "1", "1Gi"))
	keys := map[any]bool{}
	for _, o := range s.observers {
		if so, ok := o.(SharedObserver); ok {
			keys[so.ObserverKey()] = true
		}
	}
	if len(s.observers) != 1 || len(keys) != 1 {
		t.Fatalf("%d observers with %d learners, want one observer for the one shared learner", len(s.observers), len(keys))
	}
	for k := range keys {
		l, ok := k.(*strandingawarepacking.ShapeLearner)
		if !ok {
			t.Fatalf("observer key is a %T, want the shape learner", k)
		}
		if shapes, weights := l.Weighted(); len(shapes) != 1 || weights[0] != 3 {
			t.Errorf("learner holds %d shapes with weights %v, want one shape seen 3 times", len(shapes), weights)
		}
	}
}

// The learner hears of a placement as of a binding: the pod is no longer
// pending; Revert makes it pending again, and removing a bound pod leaves
// the pending count alone. The shipped profile also tells it in Reserve;
// without that the simulator's own report must do.
func TestLearnerTracksPendingPods(t *testing.T) {
	withoutReserve := func() (*schedconfig.KubeSchedulerProfile, error) {
		p, err := SnugProfile()
		if err == nil {
			p.Plugins.Reserve.Disabled = append(p.Plugins.Reserve.Disabled, schedconfig.Plugin{Name: strandingawarepacking.Name})
		}
		return p, err
	}
	for name, profile := range map[string]func() (*schedconfig.KubeSchedulerProfile, error){"shipped": SnugProfile, "without Reserve": withoutReserve} {
		t.Run(name, func(t *testing.T) { testLearnerTracksPendingPods(t, profile) })
	}
}

func testLearnerTracksPendingPods(t *testing.T, profile func() (*schedconfig.KubeSchedulerProfile, error)) {
	s := newSim(t, profile, Options{}, node("n1", "8", "16Gi"))
	var l *strandingawarepacking.ShapeLearner
	for _, o := range s.observers {
		l = o.(SharedObserver).ObserverKey().(*strandingawarepacking.ShapeLearner)
	}
	wantPending := func(when string, want float64) {
		t.Helper()
		var n float64
		for _, p := range l.Set().Pending {
			n += p
		}
		if n != want {
			t.Errorf("%s: %v pending, want %v", when, n, want)
		}
	}
	a, b := pod("a", "1", "1Gi"), pod("b", "1", "1Gi")
	s.Observe([]*corev1.Pod{a, b})
	wantPending("after Observe", 2)
	m := s.Fork()
	schedule(t, s, a)
	wantPending("after a is placed", 1)
	if err := s.Revert(m); err != nil {
		t.Fatal(err)
	}
	wantPending("after Revert", 2)
	schedule(t, s, a, b)
	placed, _ := s.Pod("default", "a")
	if err := s.RemovePod(placed); err != nil {
		t.Fatal(err)
	}
	wantPending("after both placed and a removed", 0)
	if _, w := l.Weighted(); len(w) != 1 || w[0] != 1 {
		t.Errorf("weights %v, want b alone", w)
	}

	// A pod reported pending and then added bound is bound; undone, pending.
	c := pod("c", "1", "1Gi")
	s.Observe([]*corev1.Pod{c})
	m = s.Fork()
	boundC := c.DeepCopy()
	boundC.Spec.NodeName = "n1"
	if err := s.AddPod(boundC); err != nil {
		t.Fatal(err)
	}
	wantPending("after c is added bound", 0)
	if err := s.Revert(m); err != nil {
		t.Fatal(err)
	}
	wantPending("after Revert (c)", 1)
}

// Upstream's numFeasibleNodesToFind (pkg/scheduler/schedule_one.go), by hand.
func TestNumFeasibleNodesToFind(t *testing.T) {
	pct := func(p int32) *int32 { return &p }
	for _, tc := range []struct {
		percentage *int32
		nodes      int
		want       int
	}{
		{nil, 50, 50},          // below 100 nodes: all
		{nil, 100, 100},        // 50% would be 50: at least 100
		{nil, 1000, 420},       // adaptive: 50 - 1000/125 = 42%
		{nil, 5000, 500},       // 50 - 40 = 10%
		{nil, 10000, 500},      // 50 - 80 < 5: 5%
		{pct(0), 1000, 420},    // 0 is adaptive too
		{pct(10), 5000, 500},   // the profile's own
		{pct(1), 5000, 100},    // 50 nodes: at least 100
		{pct(100), 1000, 1000}, // every node
		{pct(100), 99, 99},
	} {
		if got := numFeasibleNodesToFind(tc.percentage, tc.nodes); got != tc.want {
			t.Errorf("numFeasibleNodesToFind(%v, %d) = %d, want %d", ptrString(tc.percentage), tc.nodes, got, tc.want)
		}
	}
}

func ptrString(p *int32) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

func identicalNodes(n int) []*corev1.Node {
	var out []*corev1.Node
	for i := range n {
		out = append(out, node(fmt.Sprintf("n%03d", i), "4", "8Gi"))
	}
	return out
}

// Above 100 nodes a cycle scores the adaptive share of the nodes (48% of
// 300: 144), starting where the previous cycle stopped; ScoreAllNodes and
// small clusters score every node. On identical empty nodes the default
// profile ties every node it scored, so Tied is the sample.
func TestSamplingAsKubeScheduler(t *testing.T) {
	cycle := func(s *Simulator, name string) Result {
		t.Helper()
		r, err := s.Schedule(t.Context(), pod(name, "100m", "100Mi"))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	s := newSim(t, DefaultProfile, Options{}, identicalNodes(300)...)
	r := cycle(s, "a")
	if len(r.Tied) != 144 || r.Tied[0] != "n000" || r.Tied[143] != "n143" || r.Node != "n000" {
		t.Fatalf("first cycle: node %s, %d tied from %s to %s; want n000..n143 (144 nodes)", r.Node, len(r.Tied), r.Tied[0], r.Tied[len(r.Tied)-1])
	}
	m := s.Fork()
	r = cycle(s, "b")
	if len(r.Tied) != 144 || r.Node != "n144" {
		t.Fatalf("second cycle: node %s, %d tied; want n144, 144 tied (the rotation goes on)", r.Node, len(r.Tied))
	}
	r = cycle(s, "c")
	// n288..n299, then n000 (busy, scores lower) .. n131.
	if r.Node != "n288" || len(r.Tied) != 143 || r.Tied[12] != "n001" {
		t.Fatalf("third cycle: node %s, %d tied; want n288 and the rotation wrapped past busy n000", r.Node, len(r.Tied))
	}
	if err := s.Revert(m); err != nil {
		t.Fatal(err)
	}
	if r = cycle(s, "b"); r.Node != "n144" {
		t.Errorf("after Revert: node %s, want n144 again (Revert restores where the rotation stands)", r.Node)
	}

	all := newSim(t, DefaultProfile, Options{ScoreAllNodes: true}, identicalNodes(300)...)
	if r = cycle(all, "a"); len(r.Tied) != 300 {
		t.Errorf("ScoreAllNodes: %d tied, want 300", len(r.Tied))
	}
	small := newSim(t, DefaultProfile, Options{}, identicalNodes(99)...)
	if r = cycle(small, "a"); len(r.Tied) != 99 {
		t.Errorf("99 nodes: %d tied, want 99 (no sampling below 100 nodes)", len(r.Tied))
	}
}

// AlwaysSample puts a node in the sample wherever the rotation stands: the
// snug profile packs, so the busy n000 wins once it is sampled.
func TestAlwaysSample(t *testing.T) {
	s := newSim(t, SnugProfile, Options{}, identicalNodes(300)...)
	if got := schedule(t, s, pod("a", "1", "1Gi")); got[0] != "n000" {
		t.Fatalf("first pod on %s, want n000", got[0])
	}
	m := s.Fork()
	if got := schedule(t, s, pod("b", "1", "1Gi")); got[0] == "n000" {
		t.Fatalf("second pod on n000: the rotation should have moved past it")
	}
	if err := s.Revert(m); err != nil {
		t.Fatal(err)
	}
	r, err := s.Schedule(t.Context(), pod("b", "1", "1Gi"), AlwaysSample("n000"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Node != "n000" {
		t.Errorf("with AlwaysSample(n000): node %s, want n000 (the fullest node, packing)", r.Node)
	}
}

// The configuration's global percentageOfNodesToScore reaches a profile
// that sets none, as kube-scheduler applies it; a profile's own wins.
func TestConfigProfilesCarryGlobalPercentage(t *testing.T) {
	cfg, err := DecodeConfig([]byte(`apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 20
profiles:
- schedulerName: a
- schedulerName: b
  percentageOfNodesToScore: 50
`))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range ConfigProfiles(cfg) {
		got[p.SchedulerName] = ptrString(p.PercentageOfNodesToScore)
	}
	if got["a"] != "20" || got["b"] != "50" {
		t.Errorf("percentageOfNodesToScore by profile %v, want a:20 b:50", got)
	}
}

// A preference does not outweigh stranding: a one-GPU pod that prefers the
// idle 8-GPU node still takes the last free GPU of the other one, which
// keeps a whole node for an 8-GPU pod.
func TestSnugStrandingOutweighsAPreference(t *testing.T) {
	gpuNode := func(name, pool string) *corev1.Node {
		n := node(name, "64", "256Gi")
		n.Labels["pool"] = pool
		n.Status.Allocatable[gpu], n.Status.Capacity[gpu] = resource.MustParse("8"), resource.MustParse("8")
		return n
	}
	gpuPod := func(name, gpus string) *corev1.Pod {
		p := pod(name, "4", "16Gi")
		p.Spec.Containers[0].Resources.Requests[gpu] = resource.MustParse(gpus)
		return p
	}
	s := newSim(t, SnugProfile, Options{}, gpuNode("n1", "a"), gpuNode("n2", "b"))
	busy := gpuPod("busy", "7")
	busy.Spec.NodeName = "n2"
	if err := s.AddPod(busy); err != nil {
		t.Fatal(err)
	}
	// The workload also runs 8-GPU pods (learned, as the scheduler learns them).
	s.Observe([]*corev1.Pod{gpuPod("whole", "8")})
	p := gpuPod("new", "1")
	p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: 100,
			Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: "pool", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}}}}}}
	r, err := s.Schedule(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if r.Node != "n2" {
		t.Errorf("placed on %q, want n2 (the last free GPU; n1 stays whole)", r.Node)
	}
}

const gpu corev1.ResourceName = "nvidia.com/gpu"

// Soft preferences win over a negligible packing difference: n2 is only
// 100m fuller than n1, so a pod preferring n1 (weight 100), or not
// tolerating n2's PreferNoSchedule taint, lands on n1; without either it
// packs onto n2. The snug profile's other in-tree scores are on.
func TestSnugHonoursSoftPreferences(t *testing.T) {
	nodes := func() []*corev1.Node {
		n1, n2 := node("n1", "8", "16Gi"), node("n2", "8", "16Gi")
		n1.Labels["pool"], n2.Labels["pool"] = "a", "b"
		return []*corev1.Node{n1, n2}
	}
	taint := func(ns []*corev1.Node) []*corev1.Node {
		ns[1].Spec.Taints = []corev1.Taint{{Key: "soft", Value: "x", Effect: corev1.TaintEffectPreferNoSchedule}}
		return ns
	}
	preferA := func() *corev1.Pod {
		p := pod("new", "1", "2Gi")
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: 100,
				Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: "pool", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}}}}}}
		return p
	}
	for _, tc := range []struct {
		name  string
		nodes []*corev1.Node
		pod   *corev1.Pod
		want  string
	}{
		{"packing alone", nodes(), pod("new", "1", "2Gi"), "n2"},
		{"preferred node affinity", nodes(), preferA(), "n1"},
		{"PreferNoSchedule taint", taint(nodes()), pod("new", "1", "2Gi"), "n1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, SnugProfile, Options{}, tc.nodes...)
			// Place the existing pods where the test wants them.
			for i, p := range []*corev1.Pod{pod("on1", "2", "4Gi"), pod("on2", "2100m", "4Gi")} {
				p.Spec.NodeName = tc.nodes[i].Name
				if err := s.AddPod(p); err != nil {
					t.Fatal(err)
				}
			}
			r, err := s.Schedule(t.Context(), tc.pod)
			if err != nil {
				t.Fatal(err)
			}
			if r.Node != tc.want {
				t.Errorf("placed on %q, want %s", r.Node, tc.want)
			}
		})
	}
}
