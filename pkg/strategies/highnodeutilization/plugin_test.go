package highnodeutilization

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/descheduler/pkg/api"
	"sigs.k8s.io/descheduler/pkg/framework/plugins/nodeutilization"

	. "github.com/snug-sched/snug/pkg/strategies/internal/strategytest"
)

func TestHighNodeUtilization(t *testing.T) {
	const def, snug = corev1.DefaultSchedulerName, "snug-scheduler"
	full := func(sched string) []runtime.Object {
		return []runtime.Object{Node("b", "4", "8Gi", nil), Node("c", "4", "8Gi", nil),
			Pod("fill-b", "fill", "b", sched, "2500m", "1Gi"), Pod("fill-c", "fill", "c", sched, "2500m", "1Gi"), ReplicaSet("fill")}
	}
	tests := []struct {
		name      string
		threshold api.Percentage
		objs      []runtime.Object
		dryRun    bool
		evicted   int
		tainted   bool
	}{{
		name: "a small pod on an underutilized node: emptied and tainted", threshold: 20,
		objs:    append(full(def), Node("a", "4", "8Gi", nil), Pod("small", "small", "a", def, "500m", "1Gi"), ReplicaSet("small")),
		evicted: 1, tainted: true,
	}, {
		// snug's profile would pack the pod back onto a without the taint.
		name: "snug-scheduler pod: the taint keeps it off the emptied node", threshold: 20,
		objs:    append(full(snug), Node("a", "4", "8Gi", nil), Pod("small", "small", "a", snug, "500m", "1Gi"), ReplicaSet("small")),
		evicted: 1, tainted: true,
	}, {
		name: "the pod fits nowhere else: nothing evicted, no taint", threshold: 60,
		objs: append(full(def), Node("a", "4", "8Gi", nil), Pod("mid", "mid", "a", def, "2", "1Gi"), ReplicaSet("mid")),
	}, {
		name: "one of two pods fits nowhere else: the node is left whole", threshold: 60,
		objs: append(full(def), Node("a", "4", "8Gi", nil), Pod("mid", "mid", "a", def, "1600m", "1Gi"),
			Pod("small", "small", "a", def, "500m", "1Gi"), ReplicaSet("mid"), ReplicaSet("small")),
	}, {
		name: "an ownerless pod cannot be moved: the node is left whole", threshold: 20,
		objs: append(full(def), Node("a", "4", "8Gi", nil), ownerless(Pod("bare", "bare", "a", def, "100m", "1Gi")),
			Pod("small", "small", "a", def, "500m", "1Gi"), ReplicaSet("small")),
	}, {
		// Upstream's dry-run evictor still calls the eviction API: of the
		// sandbox client the command hands strategies in dry-run mode
		// (the integration test checks the real cluster is untouched). The
		// taint is snug's own write and must not happen.
		name: "dry run: planned, not tainted", threshold: 20, dryRun: true,
		objs:    append(full(def), Node("a", "4", "8Gi", nil), Pod("small", "small", "a", def, "500m", "1Gi"), ReplicaSet("small")),
		evicted: 1,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := &Args{HighNodeUtilizationArgs: nodeutilization.HighNodeUtilizationArgs{Thresholds: api.ResourceThresholds{corev1.ResourceCPU: tc.threshold}}}
			SetDefaults(args)
			if err := Validate(args); err != nil {
				t.Fatal(err)
			}
			res := Run(t, New, args, tc.dryRun, tc.objs...)
			if len(res.Evicted) != tc.evicted {
				t.Fatalf("evicted %v, want %d; plan %+v", res.Evicted, tc.evicted, res.Plan)
			}
			node, err := res.Client.CoreV1().Nodes().Get(t.Context(), "a", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			tainted := false
			for _, x := range node.Spec.Taints {
				tainted = tainted || (x.Key == DefaultTaintKey && x.Effect == corev1.TaintEffectNoSchedule)
			}
			if tainted != tc.tainted {
				t.Errorf("node a tainted = %v, want %v (%v)", tainted, tc.tainted, node.Spec.Taints)
			}
			for _, m := range res.Plan {
				if m.To == "a" {
					t.Errorf("planned onto the node being emptied: %+v", m)
				}
			}
			if tc.dryRun && len(res.Plan) == 0 {
				t.Errorf("dry run planned nothing")
			}
		})
	}
}

func ownerless(p *corev1.Pod) *corev1.Pod { p.OwnerReferences = nil; return p }

func TestValidateNamesTheField(t *testing.T) {
	args := &Args{HighNodeUtilizationArgs: nodeutilization.HighNodeUtilizationArgs{Thresholds: api.ResourceThresholds{corev1.ResourceCPU: 20}},
		EmptiedNodeTaint: &TaintArgs{Key: "bad key!", TTL: &metav1.Duration{Duration: -1}}}
	err := Validate(args)
	if err == nil || !strings.Contains(err.Error(), "emptiedNodeTaint.key") || !strings.Contains(err.Error(), "emptiedNodeTaint.ttl") {
		t.Fatalf("got %v, want errors naming emptiedNodeTaint.key and emptiedNodeTaint.ttl", err)
	}
	args = &Args{HighNodeUtilizationArgs: nodeutilization.HighNodeUtilizationArgs{Thresholds: api.ResourceThresholds{corev1.ResourceCPU: 120}}}
	if err := Validate(args); err == nil {
		t.Fatal("threshold 120% accepted")
	}
}

// Two underutilized nodes: a pod of one must never be planned onto the
// other, which the run empties too; the default profile prefers it (the
// least allocated), so both are tainted before the first move and both
// empty onto c.
func TestNoMoveOntoANodeEmptiedLater(t *testing.T) {
	const def = corev1.DefaultSchedulerName
	objs := []runtime.Object{
		Node("a", "4", "8Gi", nil), Node("b", "4", "8Gi", nil), Node("c", "4", "8Gi", nil),
		Pod("s1", "s1", "a", def, "200m", "256Mi"), Pod("s2", "s2", "b", def, "400m", "256Mi"),
		Pod("fill", "fill", "c", def, "2", "1Gi"),
		ReplicaSet("s1"), ReplicaSet("s2"), ReplicaSet("fill"),
	}
	args := &Args{HighNodeUtilizationArgs: nodeutilization.HighNodeUtilizationArgs{Thresholds: api.ResourceThresholds{corev1.ResourceCPU: 20}}}
	SetDefaults(args)
	res := Run(t, New, args, false, objs...)
	if len(res.Evicted) != 2 || len(res.Plan) != 2 {
		t.Fatalf("evicted %v, plan %+v; want s1 and s2 moved", res.Evicted, res.Plan)
	}
	for _, m := range res.Plan {
		if m.To != "c" {
			t.Errorf("planned onto %s, a node the run empties: %+v", m.To, m)
		}
	}
	for _, n := range []string{"a", "b"} {
		if !tainted(t, res, n) {
			t.Errorf("emptied node %s not tainted", n)
		}
	}
}

// A node that cannot be emptied is released at once: its taint is removed
// and later nodes may empty onto it.
func TestNodeNotEmptiedIsReleased(t *testing.T) {
	const def = corev1.DefaultSchedulerName
	objs := []runtime.Object{
		Node("a", "4", "8Gi", nil), Node("b", "4", "8Gi", nil), Node("c", "4", "8Gi", nil),
		// a (upstream's first: least used) holds an ownerless pod: never
		// emptied, so released; b's pod then goes to a (least allocated).
		ownerless(Pod("bare", "bare", "a", def, "100m", "256Mi")),
		Pod("s2", "s2", "b", def, "400m", "256Mi"),
		Pod("fill", "fill", "c", def, "2", "1Gi"),
		ReplicaSet("s2"), ReplicaSet("fill"),
	}
	args := &Args{HighNodeUtilizationArgs: nodeutilization.HighNodeUtilizationArgs{Thresholds: api.ResourceThresholds{corev1.ResourceCPU: 20}}}
	SetDefaults(args)
	res := Run(t, New, args, false, objs...)
	if len(res.Plan) != 1 || res.Plan[0].Name != "s2" || res.Plan[0].To != "a" {
		t.Fatalf("plan %+v; want s2 moved onto the released node a", res.Plan)
	}
	if tainted(t, res, "a") || !tainted(t, res, "b") {
		t.Errorf("taints: a %v (want released), b %v (want tainted)", tainted(t, res, "a"), tainted(t, res, "b"))
	}
}

func tainted(t *testing.T, res Result, name string) bool {
	t.Helper()
	node, err := res.Client.CoreV1().Nodes().Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range node.Spec.Taints {
		if x.Key == DefaultTaintKey && x.Effect == corev1.TaintEffectNoSchedule {
			return true
		}
	}
	return false
}
