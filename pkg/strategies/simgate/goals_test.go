package simgate_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/snug-sched/snug/pkg/simulator"
	"github.com/snug-sched/snug/pkg/strategies/internal/strategytest"
	"github.com/snug-sched/snug/pkg/strategies/simgate"
)

// SpreadImproves counts domains once per candidate; a later judgement of
// the same pod on a changed snapshot must count again.
func TestSpreadImprovesRecountsAfterChange(t *testing.T) {
	profile, err := simulator.DefaultProfile()
	if err != nil {
		t.Fatal(err)
	}
	sim, err := simulator.New(t.Context(), profile, simulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	zone := func(z string) map[string]string { return map[string]string{corev1.LabelTopologyZone: z} }
	for _, n := range []*corev1.Node{strategytest.Node("a", "8", "8Gi", zone("z1")), strategytest.Node("b", "8", "8Gi", zone("z2"))} {
		if err := sim.AddNode(n); err != nil {
			t.Fatal(err)
		}
	}
	spread := []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone,
		WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}}}
	add := func(name, node string) *corev1.Pod {
		p := strategytest.Pod(name, "x", node, corev1.DefaultSchedulerName, "100m", "64Mi")
		p.Spec.TopologySpreadConstraints = spread
		if err := sim.AddPod(p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mover := add("p1", "a")
	add("p2", "a")
	goal := simgate.SpreadImproves(false)
	// The mover has left a: z1 holds one, z2 none; moving there helps.
	if ok, why := goal(sim, mover, "a", "b"); !ok {
		t.Fatalf("z1=1, z2=0: refused (%s), want approved", why)
	}
	add("q1", "b")
	add("q2", "b")
	if ok, _ := goal(sim, mover, "a", "b"); ok {
		t.Fatal("z1=1, z2=2: approved with counts from before the change, want refused")
	}
}
