package qosawarepreemption

import (
	"context"
	"math"
	"slices"
	"sort"
	"testing"

	corev1 "k8s.io/api/core/v1"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"
)

// pickNode applies funcs lexicographically as upstream's
// pickOneNodeForPreemption does: keep the nodes with the highest value of
// the first func, then of the second among those, and so on. It returns the
// first remaining node (in name order) and the index of the func that left
// one node (len(funcs) when a tie remained).
func pickNode(nodesToVictims map[string]*extenderv1.Victims, funcs []func(string) int64) (string, int) {
	candidates := make([]string, 0, len(nodesToVictims))
	for n := range nodesToVictims {
		candidates = append(candidates, n)
	}
	sort.Strings(candidates)
	for i, f := range funcs {
		var best []string
		top := int64(math.MinInt64)
		for _, n := range candidates {
			switch s := f(n); {
			case s > top:
				top, best = s, []string{n}
			case s == top:
				best = append(best, n)
			}
		}
		candidates = best
		if len(candidates) == 1 {
			return candidates[0], i
		}
	}
	return candidates[0], len(funcs)
}

// Indices of OrderedScoreFuncs' criteria.
const (
	byPDBViolations = iota
	byHighestPriority
	bySumPriorities
	byVictimCount
	byQoS
	byStranding
	byStartTime
	numCriteria
)

// TestQoSCost: qosCost is compared only between nodes with as many
// victims (it comes after the victim count), where it must order the
// victims' QoS lexicographically: fewer Guaranteed, then fewer Burstable,
// however many victims there are.
func TestQoSCost(t *testing.T) {
	n := func(count int, q qosClass) []*corev1.Pod {
		var out []*corev1.Pod
		for range count {
			out = append(out, newPod("p", 0, q, res("1", "1Gi")).Obj())
		}
		return out
	}
	cat := func(lists ...[]*corev1.Pod) []*corev1.Pod {
		var out []*corev1.Pod
		for _, l := range lists {
			out = append(out, l...)
		}
		return out
	}
	// heavier outweighs lighter; both have the same number of victims.
	outweighs := []struct {
		name             string
		heavier, lighter []*corev1.Pod
	}{
		{"one Guaranteed outweighs one Burstable", n(1, guaranteed), n(1, burstable)},
		{"one Burstable outweighs one BestEffort", n(1, burstable), n(1, bestEffort)},
		{"a Guaranteed among 110 outweighs 110 Burstable", cat(n(1, guaranteed), n(109, bestEffort)), n(110, burstable)},
		{"a Burstable among 110 outweighs 110 BestEffort", cat(n(1, burstable), n(109, bestEffort)), n(110, bestEffort)},
		{"a Guaranteed among 5000 outweighs 5000 Burstable", cat(n(1, guaranteed), n(4999, bestEffort)), n(5000, burstable)},
		{"more Burstable at equal Guaranteed", cat(n(1, guaranteed), n(2, burstable)), cat(n(1, guaranteed), n(1, burstable), n(1, bestEffort))},
	}
	for _, tt := range outweighs {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.heavier) != len(tt.lighter) {
				t.Fatalf("test compares %d with %d victims", len(tt.heavier), len(tt.lighter))
			}
			if h, l := qosCost(tt.heavier), qosCost(tt.lighter); h <= l {
				t.Errorf("qosCost(heavier) = %d, not above qosCost(lighter) = %d", h, l)
			}
		})
	}
	if a, b := qosCost(cat(n(1, burstable), n(1, bestEffort))), qosCost(cat(n(1, bestEffort), n(1, burstable))); a != b {
		t.Errorf("qosCost depends on the victims' order: %d, %d", a, b)
	}
}

func TestOrderedScoreFuncs(t *testing.T) {
	gi := corev1.ResourceMemory
	node := func(name, cpu, mem string) *corev1.Node {
		return makeNode(name, map[corev1.ResourceName]string{corev1.ResourceCPU: cpu, gi: mem, corev1.ResourcePods: "32"})
	}
	// Victim builders: pods on nodeName with a priority and start time.
	be := func(name, nodeName string, prio int32, start int64) *corev1.Pod {
		return newPod(name, prio, bestEffort, nil).Node(nodeName).StartTime(at(start)).Obj()
	}
	bu := func(name, nodeName string, prio int32, start int64) *corev1.Pod {
		return newPod(name, prio, burstable, res("1", "1Gi")).Node(nodeName).StartTime(at(start)).Obj()
	}
	gu := func(name, nodeName string, prio int32, start int64) *corev1.Pod {
		return newPod(name, prio, guaranteed, res("1", "1Gi")).Node(nodeName).StartTime(at(start)).Obj()
	}
	victims := func(violations int64, pods ...*corev1.Pod) *extenderv1.Victims {
		return &extenderv1.Victims{Pods: pods, NumPDBViolations: violations}
	}
	manyBE := func(count int, nodeName string) []*corev1.Pod {
		var out []*corev1.Pod
		for range count {
			out = append(out, be("be", nodeName, 0, 1))
		}
		return out
	}

	// Stranding: both nodes have 8 cores and 16Gi; the cluster runs pods of
	// 2 cores and 4Gi, and so does the preemptor. Node "exact" holds 4
	// cores and 8Gi besides its BestEffort victim: once the preemptor runs
	// there, 2 cores and 4Gi are left, exactly one more such pod. Node
	// "stranding" holds 5 cores: 1 core and 4Gi are left, stranded.
	shape := newPod("shape", 0, burstable, res("2", "4Gi")).Obj()
	strandPreemptor := newPod("preemptor", 1000, burstable, res("2", "4Gi")).Obj()
	strandNodes := []*corev1.Node{node("exact", "8", "16Gi"), node("stranding", "8", "16Gi")}
	exactVictim := be("victim-exact", "exact", 0, 1)
	strandingVictim := be("victim-stranding", "stranding", 0, 2) // started later
	strandPods := []*corev1.Pod{
		newPod("fill-exact", 2000, burstable, res("4", "8Gi")).Node("exact").Obj(),
		newPod("fill-stranding", 2000, burstable, res("5", "8Gi")).Node("stranding").Obj(),
		exactVictim, strandingVictim,
	}
	strandVictims := map[string]*extenderv1.Victims{
		"exact":     victims(0, exactVictim),
		"stranding": victims(0, strandingVictim),
	}

	tests := []struct {
		name           string
		nodes          []*corev1.Node
		pods           []*corev1.Pod
		nodesToVictims map[string]*extenderv1.Victims
		// preemptor, when set, is put in the context with ContextWithPreemptor.
		preemptor *corev1.Pod
		// observe feeds the shape learner one pod of this shape, n times.
		observe   *corev1.Pod
		n         int
		want      string
		decidedBy int
	}{
		{
			name: "fewer PDB violations wins over everything else",
			nodesToVictims: map[string]*extenderv1.Victims{
				"a": victims(1, be("a1", "a", 0, 5)),
				"b": victims(0, gu("b1", "b", 500, 1), gu("b2", "b", 100, 1)),
			},
			want:      "b",
			decidedBy: byPDBViolations,
		},
		{
			name: "then the lower highest-victim priority",
			nodesToVictims: map[string]*extenderv1.Victims{
				"a": victims(1, be("a1", "a", 10, 5)),
				"b": victims(1, gu("b1", "b", 5, 1), gu("b2", "b", 1, 1), gu("b3", "b", 1, 1)),
				"c": victims(1, be("c1", "c", 6, 9)),
			},
			want:      "b",
			decidedBy: byHighestPriority,
		},
		{
			// Upstream's third criterion. The start times favour "a", so
			// a node choice without it picks "a".
			name: "then the smallest sum of victim priorities",
			nodesToVictims: map[string]*extenderv1.Victims{
				"a": victims(0, be("a1", "a", 5, 2), be("a2", "a", 5, 2)),
				"b": victims(0, be("b1", "b", 5, 1), be("b2", "b", 1, 1)),
			},
			want:      "b",
			decidedBy: bySumPriorities,
		},
		{
			name: "the sum counts every victim (upstream adds MaxInt32+1 to each): one Burstable over three BestEffort",
			nodesToVictims: map[string]*extenderv1.Victims{
				"a": victims(0, bu("a1", "a", 5, 5)),
				"b": victims(0, be("b1", "b", 5, 1), be("b2", "b", 5, 1), be("b3", "b", 5, 1)),
			},
			want:      "a",
			decidedBy: bySumPriorities,
		},
		{
			name: "victim count before QoS: one Burstable over a node full (110) of BestEffort",
			nodesToVictims: map[string]*extenderv1.Victims{
				"a": victims(0, bu("a1", "a", 0, 1)),
				"b": victims(0, manyBE(110, "b")...),
			},
			want:      "a",
			decidedBy: bySumPriorities,
		},
		{
			name: "victim count before QoS: one Guaranteed over two Burstable",
			nodesToVictims: map[string]*extenderv1.Victims{
				"a": victims(0, gu("a1", "a", 5, 5)),
				"b": victims(0, bu("b1", "b", 5, 1), bu("b2", "b", 3, 1)),
			},
			want:      "a",
			decidedBy: bySumPriorities,
		},
		{
			// Equal sums with different counts need the lowest priority:
			// 2^31 + 5 + (MinInt32 + 2^31) = 2^31 + 5.
			name: "then fewer victims, when the sums are equal",
			nodesToVictims: map[string]*extenderv1.Victims{
				"a": victims(0, be("a1", "a", 5, 1), be("a2", "a", math.MinInt32, 1)),
				"b": victims(0, be("b1", "b", 5, 1)),
			},
			want:      "b",
			decidedBy: byVictimCount,
		},
		{
			name: "then better victim QoS: a Burstable victim over a Guaranteed one",
			nodesToVictims: map[string]*extenderv1.Victims{
				"a": victims(0, gu("a1", "a", 5, 5)),
				"b": victims(0, bu("b1", "b", 5, 1)),
			},
			want:      "b",
			decidedBy: byQoS,
		},
		{
			name: "then better victim QoS: two BestEffort victims over a BestEffort and a Burstable",
			nodesToVictims: map[string]*extenderv1.Victims{
				"a": victims(0, bu("a1", "a", 5, 5), be("a2", "a", 5, 5)),
				"b": victims(0, be("b1", "b", 5, 1), be("b2", "b", 5, 1)),
			},
			want:      "b",
			decidedBy: byQoS,
		},
		{
			name:           "then the node left with the least stranded capacity",
			nodes:          strandNodes,
			pods:           strandPods,
			nodesToVictims: strandVictims,
			preemptor:      strandPreemptor,
			observe:        shape,
			n:              3,
			want:           "exact",
			decidedBy:      byStranding,
		},
		{
			name:           "without a preemptor in the context stranding is not judged: latest start time",
			nodes:          strandNodes,
			pods:           strandPods,
			nodesToVictims: strandVictims,
			observe:        shape,
			n:              3,
			want:           "stranding",
			decidedBy:      byStartTime,
		},
		{
			// The learner has not heard of the preemptor yet; its own
			// shape counts all the same.
			name:           "nothing learned: the preemptor's own shape is stranded",
			nodes:          strandNodes,
			pods:           strandPods,
			nodesToVictims: strandVictims,
			preemptor:      strandPreemptor,
			want:           "exact",
			decidedBy:      byStranding,
		},
		{
			name:  "a node missing from the snapshot counts as fully stranded",
			nodes: strandNodes,
			pods:  strandPods,
			nodesToVictims: map[string]*extenderv1.Victims{
				"stranding": victims(0, strandingVictim),
				"ghost":     victims(0, be("victim-ghost", "ghost", 0, 3)),
			},
			preemptor: strandPreemptor,
			observe:   shape,
			n:         3,
			want:      "stranding",
			decidedBy: byStranding,
		},
		{
			name: "then the latest start time",
			nodesToVictims: map[string]*extenderv1.Victims{
				"a": victims(0, be("a1", "a", 0, 10)),
				"b": victims(0, be("b1", "b", 0, 20)),
				"c": victims(0, be("c1", "c", 0, 15)),
			},
			want:      "b",
			decidedBy: byStartTime,
		},
		{
			name: "start time looks only at the highest-priority victims",
			nodesToVictims: map[string]*extenderv1.Victims{
				// Earliest start among priority-5 victims: a 50, b 40.
				"a": victims(0, be("a1", "a", 5, 50), be("a2", "a", 1, 0)),
				"b": victims(0, be("b1", "b", 5, 40), be("b2", "b", 1, 90)),
			},
			want:      "a",
			decidedBy: byStartTime,
		},
		{
			name: "a complete tie is left to the caller",
			nodesToVictims: map[string]*extenderv1.Victims{
				"a": victims(0, be("a1", "a", 0, 10)),
				"b": victims(0, be("b1", "b", 0, 10)),
			},
			want:      "a",
			decidedBy: numCriteria,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, defaultArgs(t, ""), tt.nodes, tt.pods)
			if tt.observe != nil {
				e.pl.ObservePod(tt.observe, tt.n)
			}
			ctx := context.Background()
			if tt.preemptor != nil {
				ctx = ContextWithPreemptor(ctx, tt.preemptor)
			}
			funcs := e.pl.OrderedScoreFuncs(ctx, tt.nodesToVictims)
			if len(funcs) != numCriteria {
				t.Fatalf("OrderedScoreFuncs returned %d funcs, want %d", len(funcs), numCriteria)
			}
			got, decidedBy := pickNode(tt.nodesToVictims, funcs)
			if got != tt.want || decidedBy != tt.decidedBy {
				scores := map[string][]int64{}
				for n := range tt.nodesToVictims {
					for _, f := range funcs {
						scores[n] = append(scores[n], f(n))
					}
				}
				t.Errorf("picked %q by criterion %d, want %q by criterion %d; scores %v", got, decidedBy, tt.want, tt.decidedBy, scores)
			}
		})
	}
}

// TestStrandedAfter pins the values behind the stranding criterion.
func TestStrandedAfter(t *testing.T) {
	nodes := []*corev1.Node{
		makeNode("n", map[corev1.ResourceName]string{corev1.ResourceCPU: "8", corev1.ResourceMemory: "16Gi"}),
	}
	victim := newPod("victim", 0, burstable, res("1", "")).Node("n").Obj()
	pods := []*corev1.Pod{
		newPod("fill", 2000, burstable, res("4", "8Gi")).Node("n").Obj(),
		victim,
	}
	preemptor := newPod("preemptor", 1000, burstable, res("2", "4Gi")).Obj()
	tests := []struct {
		name    string
		node    string
		victims []*corev1.Pod
		shapes  bool
		want    float64
	}{
		// 5 cores and 8Gi used, 2 cores and 4Gi more by the preemptor:
		// 1 core (1/8) and 4Gi (4/16) left, no 2-core pod fits.
		{"leftover fits no shape", "n", nil, true, (1.0/8 + 4.0/16) / 2},
		// The victim's core is freed: 2 cores and 4Gi left, one more pod.
		{"the victims' room is freed", "n", []*corev1.Pod{victim}, true, 0},
		// The learner has not heard of the preemptor; its shape counts.
		{"nothing learned: the preemptor's shape", "n", nil, false, (1.0/8 + 4.0/16) / 2},
		{"node missing from the snapshot", "ghost", nil, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, defaultArgs(t, ""), nodes, pods)
			if tt.shapes {
				e.pl.ObservePod(newPod("shape", 0, burstable, res("2", "4Gi")).Obj(), 1)
			}
			if got := e.pl.strandedAfter(tt.node, tt.victims, preemptor); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("strandedAfter() = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestStrandedAfterFromDryRun checks that judging a node from the dry run's
// copy (without the victims) gives what the snapshot minus the victims
// gives, on a plain node and on one with an extended resource, and that a
// node the dry run did not record falls back to the snapshot.
func TestStrandedAfterFromDryRun(t *testing.T) {
	gpuNode := makeNode("gpu", map[corev1.ResourceName]string{corev1.ResourceCPU: "8", corev1.ResourceMemory: "16Gi", "nvidia.com/gpu": "4"})
	nodes := []*corev1.Node{
		makeNode("n", map[corev1.ResourceName]string{corev1.ResourceCPU: "8", corev1.ResourceMemory: "16Gi"}),
		gpuNode,
	}
	var pods []*corev1.Pod
	for _, n := range []string{"n", "gpu"} {
		pods = append(pods,
			newPod(n+"-keep", 2000, burstable, res("3", "6Gi")).Node(n).Obj(),
			newPod(n+"-v1", 0, burstable, res("2", "2Gi")).Node(n).StartTime(at(1)).Obj(),
			newPod(n+"-v2", 0, burstable, res("2", "1Gi")).Node(n).StartTime(at(2)).Obj())
	}
	preemptor := newPod("preemptor", 1000, burstable, res("3", "4Gi")).Obj()
	e := newEnv(t, defaultArgs(t, ""), nodes, pods)
	e.pl.ObservePod(newPod("shape", 0, burstable, res("2", "4Gi")).Obj(), 1)
	e.pl.ObservePod(newPod("gpu-shape", 0, burstable, map[corev1.ResourceName]string{corev1.ResourceCPU: "1", "nvidia.com/gpu": "1"}).Obj(), 1)

	call := newPreemptionCall(preemptor)
	ctx := context.WithValue(e.ctx, callKey{}, call)
	for _, n := range []string{"n", "gpu"} {
		victims, _, s := e.pl.SelectVictimsOnNode(ctx, e.preFilter(t, preemptor), preemptor, e.nodeInfo(t, n), nil)
		if !s.IsSuccess() || len(victims) == 0 {
			t.Fatalf("node %s: no victims: %v", n, s)
		}
		fromDryRun := e.pl.newStrandingJudge(preemptor, call).strandedAfter(n, victims)
		fromSnapshot := e.pl.newStrandingJudge(preemptor, nil).strandedAfter(n, victims)
		if math.Abs(fromDryRun-fromSnapshot) > 1e-12 {
			t.Errorf("node %s: from the dry run %v, from the snapshot %v", n, fromDryRun, fromSnapshot)
		}
		// Without its victims subtracted the node looks fuller: a judge
		// that ignored the dry run's copy would see that.
		if full := e.pl.newStrandingJudge(preemptor, nil).strandedAfter(n, nil); full == fromDryRun {
			t.Errorf("node %s: the victims change nothing (%v); the test cannot tell the paths apart", n, full)
		}
	}
	// Victims changed after the dry run (an extender): the copy no longer
	// matches, so the snapshot minus the new victims is judged.
	var changed []*corev1.Pod
	for _, pi := range e.nodeInfo(t, "n").GetPods() {
		if p := pi.GetPod(); p.Name != "n-keep" && !slices.Contains(call.victimsOn("n"), p) {
			changed = append(changed, p)
		}
	}
	if len(changed) != 1 {
		t.Fatalf("want one other eligible pod on n, got %v (victims %v)", podNames(changed), podNames(call.victimsOn("n")))
	}
	if got, want := e.pl.newStrandingJudge(preemptor, call).strandedAfter("n", changed), e.pl.strandedAfter("n", changed, preemptor); got != want {
		t.Errorf("changed victims: %v, want the snapshot's %v", got, want)
	}
	other := newPreemptionCall(preemptor) // recorded nothing
	if got, want := e.pl.newStrandingJudge(preemptor, other).strandedAfter("n", nil), e.pl.strandedAfter("n", nil, preemptor); got != want {
		t.Errorf("unrecorded node: %v, want the snapshot's %v", got, want)
	}
}
