package podantiaffinity

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	. "github.com/snug-sched/snug/pkg/strategies/internal/strategytest"
)

func avoid(p *corev1.Pod, app string) *corev1.Pod {
	p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}, TopologyKey: corev1.LabelHostname}}}}
	return p
}

func TestInterPodAntiAffinity(t *testing.T) {
	const def = corev1.DefaultSchedulerName
	tests := []struct {
		name string
		objs []runtime.Object
		want int
	}{{
		name: "two pods that avoid each other on one node, a free node: exactly one moves",
		objs: []runtime.Object{Node("a", "4", "8Gi", nil), Node("b", "4", "8Gi", nil),
			avoid(Pod("x", "x", "a", def, "1", "1Gi"), "y"), avoid(Pod("y", "y", "a", def, "1", "1Gi"), "x")},
		want: 1,
	}, {
		// The symmetric direction: b runs a pod that avoids x and y, so
		// neither may go there; upstream's nodeFit does not check it.
		name: "the only other node holds a pod that avoids them: nothing moves",
		objs: []runtime.Object{Node("a", "4", "8Gi", nil), Node("b", "4", "8Gi", nil),
			avoid(Pod("x", "x", "a", def, "1", "1Gi"), "y"), avoid(Pod("y", "y", "a", def, "1", "1Gi"), "x"),
			avoidAll(Pod("z", "z", "b", def, "100m", "1Gi"))},
		want: 0,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := &Args{}
			SetDefaults(args)
			res := Run(t, New, args, false, append(tc.objs, ReplicaSet("x"), ReplicaSet("y"), ReplicaSet("z"))...)
			if len(res.Evicted) != tc.want {
				t.Fatalf("evicted %v, want %d; plan %+v", res.Evicted, tc.want, res.Plan)
			}
		})
	}
}

func avoidAll(p *corev1.Pod) *corev1.Pod {
	p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
		LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"x", "y"}}}},
		TopologyKey:   corev1.LabelHostname}}}}
	return p
}
