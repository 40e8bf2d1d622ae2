package qosawarepreemption

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/events"
	featuregatetesting "k8s.io/component-base/featuregate/testing"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/features"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"

	"github.com/snug-sched/snug/pkg/plugins/internal/metricstest"
)

// noActivation is a PodActivator for the activation watch of async preemption.
type noActivation struct{}

func (noActivation) Activate(klog.Logger, map[string]*corev1.Pod) {}

// postFilterEnv is env with a clientset (the Executor deletes victims
// through it) and the preemptor in the pod informer's store (the Evaluator
// reads the preemptor from there).
func postFilterEnv(t *testing.T, node *corev1.Node, bound []*corev1.Pod, preemptor *corev1.Pod) *env {
	t.Helper()
	objs := []runtime.Object{node, preemptor}
	for _, p := range bound {
		objs = append(objs, p)
	}
	e := newEnv(t, defaultArgs(t, ""), []*corev1.Node{node}, bound,
		frameworkruntime.WithClientSet(fake.NewClientset(objs...)),
		frameworkruntime.WithPodActivator(noActivation{}),
		frameworkruntime.WithEventRecorder(events.NewFakeRecorder(100)),
		frameworkruntime.WithWaitingPods(frameworkruntime.NewWaitingPodsMap()),
		frameworkruntime.WithPodsInPreBind(frameworkruntime.NewPodsInPreBindMap()))
	if err := e.fw.SharedInformerFactory().Core().V1().Pods().Informer().GetStore().Add(preemptor); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestPostFilterRecordsMetrics: QoSAwarePreemption replaces
// DefaultPreemption, so upstream's scheduler_preemption_attempts_total
// (counted in DefaultPreemption.PostFilter) and scheduler_preemption_victims
// (observed by the Executor both share) must still count, next to snug's own.
func TestPostFilterRecordsMetrics(t *testing.T) {
	const node = "n1"
	n := makeNode(node, map[corev1.ResourceName]string{corev1.ResourceCPU: "2", corev1.ResourceMemory: "4Gi", corev1.ResourcePods: "10"})
	victimLabels := map[string]string{"qos_class": string(corev1.PodQOSBurstable), "priority": "7"}

	type reading struct {
		upstreamAttempts, snugAttempts, snugFailures, snugVictims float64
		upstreamVictims                                           uint64
		upstreamVictimsSum                                        float64
	}
	read := func() reading {
		s, _ := metricstest.Get(t, "scheduler_preemption_victims", nil)
		return reading{
			upstreamAttempts:   metricstest.Value(t, "scheduler_preemption_attempts_total", nil),
			snugAttempts:       metricstest.Value(t, "snug_preemption_attempts_total", nil),
			snugFailures:       metricstest.Value(t, "snug_preemption_failures_total", nil),
			snugVictims:        metricstest.Value(t, "snug_preemption_victims_total", victimLabels),
			upstreamVictims:    s.Count,
			upstreamVictimsSum: s.Value,
		}
	}

	tests := []struct {
		name        string
		bound       []*corev1.Pod
		wantSuccess bool
		want        reading // deltas
	}{
		{
			name: "two victims",
			bound: []*corev1.Pod{
				newPod("low-a", 7, burstable, res("1", "")).Node(node).Obj(),
				newPod("low-b", 7, burstable, res("1", "")).Node(node).Obj(),
			},
			wantSuccess: true,
			want:        reading{upstreamAttempts: 1, snugAttempts: 1, snugVictims: 2, upstreamVictims: 1, upstreamVictimsSum: 2},
		},
		{
			name:  "nothing to preempt",
			bound: []*corev1.Pod{newPod("high", 5000, burstable, res("2", "")).Node(node).Obj()},
			want:  reading{upstreamAttempts: 1, snugAttempts: 1, snugFailures: 1},
		},
	}
	for _, async := range []bool{true, false} {
		for _, tc := range tests {
			t.Run(fmt.Sprintf("async=%v/%s", async, tc.name), func(t *testing.T) {
				featuregatetesting.SetFeatureGateDuringTest(t, utilfeature.DefaultFeatureGate, features.SchedulerAsyncPreemption, async)
				preemptor := newPod("preemptor", 1000, burstable, res("2", "")).Obj()
				e := postFilterEnv(t, n, tc.bound, preemptor)
				statuses := framework.NewNodeToStatus(map[string]*fwk.Status{node: fwk.NewStatus(fwk.Unschedulable, "Insufficient cpu")},
					fwk.NewStatus(fwk.UnschedulableAndUnresolvable))
				before := read()
				result, status := e.pl.PostFilter(e.ctx, e.preFilter(t, preemptor), preemptor, statuses)
				if got := status.IsSuccess(); got != tc.wantSuccess {
					t.Fatalf("PostFilter = %v (%v), want success %v", status, result, tc.wantSuccess)
				}
				if tc.wantSuccess && (result == nil || result.NominatingInfo == nil || result.NominatedNodeName != node) {
					t.Fatalf("PostFilter result %+v, want nomination of %s", result, node)
				}
				after := read()
				got := reading{
					upstreamAttempts:   after.upstreamAttempts - before.upstreamAttempts,
					snugAttempts:       after.snugAttempts - before.snugAttempts,
					snugFailures:       after.snugFailures - before.snugFailures,
					snugVictims:        after.snugVictims - before.snugVictims,
					upstreamVictims:    after.upstreamVictims - before.upstreamVictims,
					upstreamVictimsSum: after.upstreamVictimsSum - before.upstreamVictimsSum,
				}
				if got != tc.want {
					t.Errorf("metric deltas after PostFilter:\n got %+v\nwant %+v", got, tc.want)
				}
			})
		}
	}
}
