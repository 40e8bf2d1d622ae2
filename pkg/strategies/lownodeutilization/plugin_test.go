package lownodeutilization

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/descheduler/pkg/api"
	"sigs.k8s.io/descheduler/pkg/framework/plugins/nodeutilization"

	. "github.com/snug-sched/snug/pkg/strategies/internal/strategytest"
)

func TestLowNodeUtilization(t *testing.T) {
	const def = corev1.DefaultSchedulerName
	pinned := func(p *corev1.Pod) *corev1.Pod {
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: "pool", Operator: corev1.NodeSelectorOpIn, Values: []string{"hot"}}}}}}}}
		return p
	}
	hot := map[string]string{"pool": "hot"}
	overloaded := func(wrap func(*corev1.Pod) *corev1.Pod) []runtime.Object {
		objs := []runtime.Object{Node("a", "4", "8Gi", hot), Node("b", "4", "8Gi", nil), Node("c", "4", "8Gi", nil), ReplicaSet("w")}
		for _, n := range []string{"w1", "w2", "w3", "w4", "w5", "w6", "w7"} {
			objs = append(objs, wrap(Pod(n, "w", "a", def, "500m", "512Mi")))
		}
		return append(objs, Pod("c1", "w", "c", def, "1500m", "512Mi"))
	}
	same := func(p *corev1.Pod) *corev1.Pod { return p }
	tests := []struct {
		name    string
		objs    []runtime.Object
		minEvic int
		maxEvic int
	}{
		{name: "overutilized node a, underutilized b: pods move to b", objs: overloaded(same), minEvic: 1, maxEvic: 7},
		// Upstream would evict them (b is underutilized and "fits"), and
		// every replacement would stay Pending: only a matches.
		{name: "pods that may only run on a: nothing moves", objs: overloaded(pinned), minEvic: 0, maxEvic: 0},
	}
	for _, tc := range tests {
		for _, aware := range []bool{true, false} {
			t.Run(tc.name, func(t *testing.T) {
				args := &Args{LowNodeUtilizationArgs: nodeutilization.LowNodeUtilizationArgs{
					Thresholds:       api.ResourceThresholds{corev1.ResourceCPU: 20, corev1.ResourceMemory: 20, corev1.ResourcePods: 20},
					TargetThresholds: api.ResourceThresholds{corev1.ResourceCPU: 50, corev1.ResourceMemory: 50, corev1.ResourcePods: 50},
				}, StrandingAware: &aware}
				SetDefaults(args)
				if err := Validate(args); err != nil {
					t.Fatal(err)
				}
				res := Run(t, New, args, false, tc.objs...)
				if n := len(res.Evicted); n < tc.minEvic || n > tc.maxEvic {
					t.Fatalf("strandingAware=%v: evicted %v, want %d..%d; plan %+v", aware, res.Evicted, tc.minEvic, tc.maxEvic, res.Plan)
				}
				// c (1.5 of 4 CPU) may take one 500m pod and stay at the
				// 50% target; a second would put it over.
				onto := map[string]int{}
				for _, m := range res.Plan {
					onto[m.To]++
				}
				if onto["a"] > 0 || onto["c"] > 1 {
					t.Errorf("moves by destination %v: want none onto a and at most one onto c; plan %+v", onto, res.Plan)
				}
			})
		}
	}
}
