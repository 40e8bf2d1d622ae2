package topologyspread

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	. "github.com/snug-sched/snug/pkg/strategies/internal/strategytest"
)

func spread(p *corev1.Pod) *corev1.Pod {
	p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone,
		WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "s"}}}}
	return p
}

func TestTopologySpread(t *testing.T) {
	const def = corev1.DefaultSchedulerName
	z := func(zone string) map[string]string { return map[string]string{corev1.LabelTopologyZone: zone} }
	pods := func() []runtime.Object {
		return []runtime.Object{spread(Pod("s1", "s", "a", def, "500m", "512Mi")), spread(Pod("s2", "s", "a", def, "500m", "512Mi")),
			spread(Pod("s3", "s", "a", def, "500m", "512Mi")), ReplicaSet("s"), ReplicaSet("f")}
	}
	tests := []struct {
		name string
		objs []runtime.Object
		want int
	}{{
		name: "three pods in zone 1, none in zone 2: one moves to zone 2 (skew 3 -> 1)",
		objs: append(pods(), Node("a", "4", "8Gi", z("z1")), Node("b", "4", "8Gi", z("z2"))),
		want: 1,
	}, {
		name: "zone 2's only node is full: nothing moves",
		objs: append(pods(), Node("a", "4", "8Gi", z("z1")), Node("b", "4", "8Gi", z("z2")), Pod("f", "f", "b", def, "3800m", "1Gi")),
		want: 0,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := &Args{}
			SetDefaults(args)
			res := Run(t, New, args, false, tc.objs...)
			if len(res.Evicted) != tc.want {
				t.Fatalf("evicted %v, want %d; plan %+v", res.Evicted, tc.want, res.Plan)
			}
			for _, m := range res.Plan {
				if m.To != "b" {
					t.Errorf("moved within the full zone: %+v", m)
				}
			}
		})
	}
}
