package nodeaffinity

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	. "github.com/snug-sched/snug/pkg/strategies/internal/strategytest"
)

func requireGPUPool(p *corev1.Pod) *corev1.Pod {
	p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
			Key: "pool", Operator: corev1.NodeSelectorOpIn, Values: []string{"gpu"}}}}}}}}
	return p
}

func TestNodeAffinity(t *testing.T) {
	const def = corev1.DefaultSchedulerName
	gpu := map[string]string{"pool": "gpu"}
	tests := []struct {
		name string
		objs []runtime.Object
		want []string // destinations
	}{{
		name: "pod on a node its affinity no longer matches: moves to the matching node",
		objs: []runtime.Object{Node("a", "4", "8Gi", nil), Node("b", "4", "8Gi", gpu), requireGPUPool(Pod("p", "p", "a", def, "1", "1Gi"))},
		want: []string{"b"},
	}, {
		name: "no node matches: the replacement would stay Pending, nothing moves",
		objs: []runtime.Object{Node("a", "4", "8Gi", nil), Node("b", "4", "8Gi", nil), requireGPUPool(Pod("p", "p", "a", def, "1", "1Gi"))},
	}, {
		// Upstream's nodeFit checks requests only when the DefaultEvictor's
		// nodeFit is on; the scheduler always does.
		name: "the matching node is full: nothing moves",
		objs: []runtime.Object{Node("a", "4", "8Gi", nil), Node("b", "4", "8Gi", gpu), requireGPUPool(Pod("p", "p", "a", def, "1", "1Gi")),
			Pod("full", "full", "b", def, "3500m", "1Gi")},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := &Args{NodeAffinityType: []string{"requiredDuringSchedulingIgnoredDuringExecution"}}
			SetDefaults(args)
			if err := Validate(args); err != nil {
				t.Fatal(err)
			}
			res := Run(t, New, args, false, append(tc.objs, ReplicaSet("p"), ReplicaSet("full"))...)
			var got []string
			for _, m := range res.Plan {
				got = append(got, m.To)
			}
			if len(got) != len(tc.want) || len(res.Evicted) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
				t.Fatalf("moved to %v (evicted %v), want %v", got, res.Evicted, tc.want)
			}
		})
	}
}
