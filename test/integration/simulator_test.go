package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/snug-sched/snug/manifests"
	"github.com/snug-sched/snug/pkg/simulator"
	"github.com/snug-sched/snug/test/integration/framework"
)

// The simulator and the real snug scheduler place the same workload on the
// same nodes identically. Node sizes differ so that no two nodes tie (the
// real scheduler breaks ties at random; the simulator by name).
func TestSimulatorMatchesScheduler(t *testing.T) {
	ctx := t.Context()
	nodes := []*corev1.Node{
		framework.NewNode("n-a", resources("4", "16Gi"), nil),
		framework.NewNode("n-b", resources("6", "12Gi"), nil),
		framework.NewNode("n-c", resources("8", "32Gi"), nil),
		framework.NewNode("n-d", resources("12", "24Gi"), nil),
	}
	shapes := [][2]string{{"1", "2Gi"}, {"2", "1Gi"}, {"500m", "6Gi"}, {"3", "4Gi"}}
	var workload []*corev1.Pod
	for i := 0; i < 16; i++ {
		sh := shapes[(i*7)%len(shapes)]
		p := pod(fmt.Sprintf("w-%02d", i), manifests.SchedulerName, sh[0], sh[1])
		p.Namespace = "sim"
		workload = append(workload, p)
	}

	// Simulator.
	profile, err := simulator.SnugProfile()
	if err != nil {
		t.Fatal(err)
	}
	sim, err := simulator.New(ctx, profile, simulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	for _, n := range nodes {
		if err := sim.AddNode(n.DeepCopy()); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{}
	for _, p := range workload {
		p := p.DeepCopy()
		p.UID = types.UID("uid-" + p.Name)
		r, err := sim.Schedule(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		want[p.Name] = r.Node
	}

	// Real scheduler, pods created one at a time in the same order.
	cp := framework.StartForTest(t, framework.Options{})
	if err := framework.CreateNodes(ctx, cp.Client, nodes...); err != nil {
		t.Fatal(err)
	}
	mustNamespace(t, cp.Client, "sim")
	startScheduler(t, cp, "")
	got := map[string]string{}
	for _, p := range workload {
		if _, err := cp.Client.CoreV1().Pods("sim").Create(ctx, p.DeepCopy(), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if want[p.Name] == "" {
			// Let the scheduler try it before the next pod comes.
			if err := waitForSchedulingDecision(ctx, cp.Client, "sim", p.Name, 60*time.Second); err != nil {
				t.Fatalf("%s: %v", p.Name, err)
			}
			continue
		}
		b, err := framework.WaitForPodScheduled(ctx, cp.Client, "sim", p.Name, 60*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		got[p.Name] = b.Spec.NodeName
	}
	for _, p := range workload {
		if got[p.Name] != want[p.Name] {
			t.Errorf("%s: scheduler placed it on %q, simulator on %q", p.Name, got[p.Name], want[p.Name])
		}
	}
	t.Logf("simulator placement: %v", want)
}

// waitForSchedulingDecision waits until the scheduler has tried the pod:
// bound it, or reported it unschedulable in its PodScheduled condition.
func waitForSchedulingDecision(ctx context.Context, c kubernetes.Interface, ns, name string, timeout time.Duration) error {
	err := waitFor(ctx, timeout, func(ctx context.Context) (bool, error) {
		p, err := c.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if p.Spec.NodeName != "" {
			return true, nil
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("pod %s/%s neither bound nor reported unschedulable within %v: %w", ns, name, timeout, err)
	}
	return nil
}
