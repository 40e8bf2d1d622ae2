package predictabledemands

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	internalqueue "k8s.io/kubernetes/pkg/scheduler/backend/queue"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/queuesort"
)

// The scheduling queue of kube-scheduler 1.36 with this plugin's PreEnqueue
// and queueing hints wired as the scheduler wires them, to count what
// cluster events do to the pods the plugin rejected: how often its hints
// run, how often they say Queue, and how often PreEnqueue runs again.

const queueProfile = "snug-test"

// queueCounts are the counters of a queueHarness.
type queueCounts struct {
	hints, queued, preEnqueue int64
}

type queueHarness struct {
	t      testing.TB
	ctx    context.Context
	logger klog.Logger
	pl     *Plugin
	q      *internalqueue.PriorityQueue

	hints, queued, preEnqueue atomic.Int64
}

// countingPreEnqueue is the plugin's PreEnqueue under its name, counted.
type countingPreEnqueue struct {
	pl *Plugin
	n  *atomic.Int64
}

func (c countingPreEnqueue) Name() string { return Name }
func (c countingPreEnqueue) PreEnqueue(ctx context.Context, pod *corev1.Pod) *fwk.Status {
	c.n.Add(1)
	return c.pl.PreEnqueue(ctx, pod)
}

func newQueueHarness(t testing.TB, pl *Plugin) *queueHarness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &queueHarness{t: t, ctx: ctx, logger: klog.Background(), pl: pl}
	events, err := pl.EventsToRegister(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// As the scheduler's buildQueueingHintMap: one entry per registered
	// event, and, for a plugin that registers Node/Add but not
	// Node/UpdateNodeTaint, that event with a hint that always queues.
	hints := internalqueue.QueueingHintMap{}
	nodeAdd, nodeTaint := false, false
	for _, e := range events {
		fn := e.QueueingHintFn
		hints[e.Event] = append(hints[e.Event], &internalqueue.QueueingHintFunction{PluginName: Name, QueueingHintFn: h.count(fn)})
		if e.Event.Resource == fwk.Node {
			nodeAdd = nodeAdd || e.Event.ActionType&fwk.Add != 0
			nodeTaint = nodeTaint || e.Event.ActionType&fwk.UpdateNodeTaint != 0
		}
	}
	if nodeAdd && !nodeTaint {
		taint := fwk.ClusterEvent{Resource: fwk.Node, ActionType: fwk.UpdateNodeTaint}
		always := func(klog.Logger, *corev1.Pod, interface{}, interface{}) (fwk.QueueingHint, error) {
			return fwk.Queue, nil
		}
		hints[taint] = append(hints[taint], &internalqueue.QueueingHintFunction{PluginName: Name, QueueingHintFn: h.count(always)})
	}
	sorter := &queuesort.PrioritySort{}
	h.q = internalqueue.NewTestQueue(ctx, sorter.Less,
		internalqueue.WithQueueingHintMapPerProfile(internalqueue.QueueingHintMapPerProfile{queueProfile: hints}),
		internalqueue.WithPreEnqueuePluginMap(map[string]map[string]fwk.PreEnqueuePlugin{
			queueProfile: {Name: countingPreEnqueue{pl: pl, n: &h.preEnqueue}}}),
		// Backoff never delays a pod the hints queue.
		internalqueue.WithPodInitialBackoffDuration(time.Nanosecond), internalqueue.WithPodMaxBackoffDuration(time.Nanosecond))
	return h
}

func (h *queueHarness) count(fn fwk.QueueingHintFn) fwk.QueueingHintFn {
	return func(logger klog.Logger, pod *corev1.Pod, oldObj, newObj interface{}) (fwk.QueueingHint, error) {
		h.hints.Add(1)
		hint, err := fn(logger, pod, oldObj, newObj)
		if hint == fwk.Queue || err != nil {
			h.queued.Add(1)
		}
		return hint, err
	}
}

func (h *queueHarness) counts() queueCounts {
	return queueCounts{hints: h.hints.Load(), queued: h.queued.Load(), preEnqueue: h.preEnqueue.Load()}
}

func (c queueCounts) minus(d queueCounts) queueCounts {
	return queueCounts{hints: c.hints - d.hints, queued: c.queued - d.queued, preEnqueue: c.preEnqueue - d.preEnqueue}
}

// add puts pod into the queue as the scheduler's pod informer does.
func (h *queueHarness) add(pod *corev1.Pod) {
	pod.Spec.SchedulerName = queueProfile
	h.q.Add(h.ctx, pod)
}

// reject adds pods, pops each and runs the plugin's PreFilter and, unless
// PreFilter rejects it, Filter on nodes, as a scheduling cycle does; every
// pod must be rejected by the plugin, and goes back to the queue as the
// scheduler returns an unschedulable pod.
func (h *queueHarness) reject(nodes []fwk.NodeInfo, pods ...*corev1.Pod) {
	h.t.Helper()
	for _, p := range pods {
		h.add(p)
	}
	for range pods {
		pInfo, err := h.q.Pop(h.logger)
		if err != nil {
			h.t.Fatal(err)
		}
		pod := pInfo.Pod
		state := framework.NewCycleState()
		_, s := h.pl.PreFilter(h.ctx, state, pod, nodes)
		if s.IsSuccess() {
			s = fwk.NewStatus(fwk.Success)
			for _, ni := range nodes {
				if fs := h.pl.Filter(h.ctx, state, pod, ni); !fs.IsSuccess() {
					s = fs
				}
			}
		}
		if !s.IsRejected() {
			h.t.Fatalf("pod %s: plugin status %v, want a rejection", pod.Name, s)
		}
		pInfo.UnschedulablePlugins = sets.New(Name)
		if err := h.q.AddUnschedulableIfNotPresent(h.logger, pInfo, h.q.SchedulingCycle()); err != nil {
			h.t.Fatal(err)
		}
	}
}

// deleted delivers the deletion of a bound or nominated pod, as the
// scheduler's pod event handlers do.
func (h *queueHarness) deleted(pod *corev1.Pod) {
	h.q.MoveAllToActiveOrBackoffQueue(h.logger, framework.EventAssignedPodDelete, pod, nil, nil)
}

// updatedBound delivers an update of a bound pod.
func (h *queueHarness) updatedBound(old, updated *corev1.Pod) {
	for _, evt := range framework.PodSchedulingPropertiesChange(updated, old) {
		h.q.MoveAllToActiveOrBackoffQueue(h.logger, evt, old, updated, nil)
	}
}

// updatedPending delivers an update of a pending pod.
func (h *queueHarness) updatedPending(old, updated *corev1.Pod) {
	h.q.Update(h.ctx, old, updated)
}

func (h *queueHarness) nodeAdded(node *corev1.Node) {
	h.q.MoveAllToActiveOrBackoffQueue(h.logger, fwk.ClusterEvent{Resource: fwk.Node, ActionType: fwk.Add}, nil, node, nil)
}

func (h *queueHarness) nodeUpdated(old, updated *corev1.Node) {
	for _, evt := range framework.NodeSchedulingPropertiesChange(updated, old) {
		h.q.MoveAllToActiveOrBackoffQueue(h.logger, evt, old, updated, nil)
	}
}

// demandsPlugin is the plugin with a gate over an empty, synced store (every
// ConfigMap is missing), declared demands in every namespace and a memory
// cap of 1x allocatable.
func demandsPlugin(t testing.TB) *Plugin {
	t.Helper()
	pl := newPlugin(t, capsArgs(t, capOf(corev1.ResourceMemory, "1")))
	pl.nsSelector = labels.Everything() // namespaceSelector {}, without a namespace lister
	pl.gate = testGate(Selection{ConfigMaps: true, PVCs: true}, newFakeStore(true), &fakeHandle{})
	return pl
}

// declared is a pod that declares cpu and memory and limits memory.
func declared(name, memLimit string) *corev1.Pod {
	return podWith("ns", name, nil, ctr("app", rl("cpu", "100m", "memory", "256Mi"), rl("memory", memLimit)))
}

// boundWithLimit is a pod bound to node with the given memory limit.
func boundWithLimit(name, node, memLimit string) *corev1.Pod {
	return onNode(declared(name, memLimit), node)
}

func tainted(n *corev1.Node, key string) *corev1.Node {
	n = n.DeepCopy()
	n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule})
	return n
}

// Issue 19, item 2: 2,000 pods held by the dependency gate and 50 pods
// rejected for undeclared demands, under 50 deletions of bound pods (with
// memory limits), then 50 node taint updates, then 50 added nodes. None of
// these events gives a held pod its ConfigMap or an undeclared pod its
// requests, so none may be queued and PreEnqueue must not run again.
func TestHintsQueueNoGatedOrUndeclaredPodOnClusterEvents(t *testing.T) {
	const gated, undeclaredPods, events = 2000, 50, 50
	pl := demandsPlugin(t)
	h := newQueueHarness(t, pl)
	for i := range gated {
		p := cmPod("ns", fmt.Sprintf("gated-%d", i), "missing")
		p.Spec.Containers[0].Resources = corev1.ResourceRequirements{Requests: rl("cpu", "100m", "memory", "64Mi")}
		h.add(p)
	}
	var bad []*corev1.Pod
	for i := range undeclaredPods {
		bad = append(bad, podWith("ns", fmt.Sprintf("undeclared-%d", i), nil, ctr("app", rl("memory", "64Mi"), nil)))
	}
	h.reject(nil, bad...)
	if got := len(h.q.UnschedulablePods()); got != gated+undeclaredPods {
		t.Fatalf("%d pods parked, want %d", got, gated+undeclaredPods)
	}
	base := node("churn", "64", "256Gi", "110")
	for _, ev := range []struct {
		name string
		do   func(i int)
	}{
		{"bound-pod deletions", func(i int) {
			h.deleted(boundWithLimit(fmt.Sprintf("gone-%d", i), fmt.Sprintf("n-%d", i), "4Gi"))
		}},
		{"node taint updates", func(i int) { h.nodeUpdated(base, tainted(base, fmt.Sprintf("t-%d", i))) }},
		{"node additions", func(i int) {
			added := base.DeepCopy()
			added.Name = fmt.Sprintf("new-%d", i)
			h.nodeAdded(added)
		}},
	} {
		before := h.counts()
		for i := range events {
			ev.do(i)
		}
		got := h.counts().minus(before)
		t.Logf("%d gated + %d undeclared pods, %d %s: %d hint calls, %d Queue, %d PreEnqueue calls",
			gated, undeclaredPods, events, ev.name, got.hints, got.queued, got.preEnqueue)
		if got.queued != 0 || got.preEnqueue != 0 {
			t.Errorf("%s: %d Queue hints and %d PreEnqueue calls, want 0 and 0", ev.name, got.queued, got.preEnqueue)
		}
	}
	if n := len(h.q.UnschedulablePods()); n != gated+undeclaredPods {
		t.Errorf("%d pods left parked, want %d", n, gated+undeclaredPods)
	}
}

// The events that can fix what the pod lacks still queue it.
func TestHintsQueueWhatAnEventFrees(t *testing.T) {
	n1 := nodeInfo("n1", rl("cpu", "8", "memory", "8Gi", "pods", "110"), boundWithLimit("full", "n1", "7Gi"))
	nodes := []fwk.NodeInfo{n1}
	capped := func(name string) *corev1.Pod { return declared(name, "2Gi") } // 7+2 > 8
	bestEffort := onNode(podWith("ns", "be", nil, ctr("app", nil, nil)), "n1")
	cpuOnly := onNode(podWith("ns", "cpu-only", nil, ctr("app", rl("cpu", "1"), rl("cpu", "1"))), "n1")
	nominated := declared("nominated", "4Gi")
	nominated.Status.NominatedNodeName = "n1"
	resized := boundWithLimit("resized", "n1", "7Gi")
	shrunk := resized.DeepCopy()
	shrunk.Spec.Containers[0].Resources.Limits = rl("memory", "5Gi") // requests unchanged: not UpdatePodScaleDown
	tests := []struct {
		name string
		do   func(h *queueHarness, pods []*corev1.Pod)
		want int64
	}{
		{name: "deleted BestEffort pod", do: func(h *queueHarness, _ []*corev1.Pod) { h.deleted(bestEffort) }},
		{name: "deleted pod without a memory limit or request", do: func(h *queueHarness, _ []*corev1.Pod) { h.deleted(cpuOnly) }},
		{name: "deleted pending pod", do: func(h *queueHarness, _ []*corev1.Pod) { h.deleted(declared("pending", "4Gi")) }},
		{name: "deleted bound pod with a memory limit", want: 3,
			do: func(h *queueHarness, _ []*corev1.Pod) { h.deleted(boundWithLimit("gone", "n1", "4Gi")) }},
		{name: "deleted nominated pod with a memory limit", want: 3,
			do: func(h *queueHarness, _ []*corev1.Pod) { h.deleted(nominated) }},
		{name: "limits-only resize of a bound pod", want: 3,
			do: func(h *queueHarness, _ []*corev1.Pod) { h.updatedBound(resized, shrunk) }},
		{name: "bound pod's limit grows", do: func(h *queueHarness, _ []*corev1.Pod) { h.updatedBound(shrunk, resized) }},
		{name: "bound pod's status changes", do: func(h *queueHarness, _ []*corev1.Pod) {
			ready := resized.DeepCopy()
			ready.Status.Phase = corev1.PodRunning
			h.updatedBound(resized, ready)
		}},
		{name: "node added too small for the pod's limit", do: func(h *queueHarness, _ []*corev1.Pod) { h.nodeAdded(node("tiny", "8", "1Gi", "110")) }},
		{name: "node added with room under the cap", want: 3,
			do: func(h *queueHarness, _ []*corev1.Pod) { h.nodeAdded(node("big", "8", "16Gi", "110")) }},
		{name: "node tainted", do: func(h *queueHarness, _ []*corev1.Pod) {
			n := node("n1", "8", "8Gi", "110")
			h.nodeUpdated(n, tainted(n, "x"))
		}},
		{name: "node's memory grows", want: 3, do: func(h *queueHarness, _ []*corev1.Pod) {
			h.nodeUpdated(node("n1", "8", "8Gi", "110"), node("n1", "8", "9Gi", "110"))
		}},
		{name: "node's cpu grows", do: func(h *queueHarness, _ []*corev1.Pod) {
			h.nodeUpdated(node("n1", "8", "8Gi", "110"), node("n1", "16", "8Gi", "110"))
		}},
		{name: "own limit lowered", want: 1, do: func(h *queueHarness, pods []*corev1.Pod) {
			smaller := pods[0].DeepCopy()
			smaller.Spec.Containers[0].Resources.Limits = rl("memory", "1Gi")
			smaller.ResourceVersion = "2"
			h.updatedPending(pods[0], smaller)
		}},
		{name: "own status changes", do: func(h *queueHarness, pods []*corev1.Pod) {
			again := pods[0].DeepCopy()
			again.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "again"}}
			again.ResourceVersion = "2"
			h.updatedPending(pods[0], again)
		}},
	}
	for _, tc := range tests {
		t.Run("caps: "+tc.name, func(t *testing.T) {
			h := newQueueHarness(t, demandsPlugin(t))
			pods := []*corev1.Pod{capped("a"), capped("b"), capped("c")}
			h.reject(nodes, pods...)
			before := h.counts()
			tc.do(h, pods)
			if got := h.counts().minus(before); got.queued != tc.want {
				t.Errorf("%d pods queued, want %d (%d hint calls)", got.queued, tc.want, got.hints)
			}
		})
	}

	// A pod rejected for undeclared demands: only its own update that
	// declares them.
	for _, tc := range []struct {
		name   string
		mutate func(p *corev1.Pod)
		want   int64
	}{
		{name: "adds the cpu request", want: 1, mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Resources.Requests = rl("cpu", "1", "memory", "64Mi") }},
		{name: "changes requests, still no cpu", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Resources.Requests = rl("memory", "128Mi") }},
		{name: "changes a label", mutate: func(p *corev1.Pod) { p.Labels = map[string]string{"a": "b"} }},
	} {
		t.Run("undeclared: own update "+tc.name, func(t *testing.T) {
			h := newQueueHarness(t, demandsPlugin(t))
			pod := podWith("ns", "undeclared", nil, ctr("app", rl("memory", "64Mi"), nil))
			h.reject(nil, pod)
			before := h.counts()
			updated := pod.DeepCopy()
			tc.mutate(updated)
			updated.ResourceVersion = "2"
			h.updatedPending(pod, updated)
			if got := h.counts().minus(before); got.queued != tc.want {
				t.Errorf("%d queued, want %d", got.queued, tc.want)
			}
		})
	}

	// A pod held by the gate: only its missing object.
	t.Run("gated: its PVC appears", func(t *testing.T) {
		pl := demandsPlugin(t)
		h := newQueueHarness(t, pl)
		p := podWith("ns", "needs-pvc", nil, ctr("app", rl("cpu", "1", "memory", "1Gi"), nil))
		p.Spec.Volumes = []corev1.Volume{pvcVolume("data", "data")}
		h.add(p)
		before := h.counts()
		pvcAdd := fwk.ClusterEvent{Resource: fwk.PersistentVolumeClaim, ActionType: fwk.Add}
		other := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "other"}}
		h.q.MoveAllToActiveOrBackoffQueue(h.logger, pvcAdd, nil, other, nil)
		if got := h.counts().minus(before); got.queued != 0 {
			t.Errorf("another PVC queued the pod")
		}
		data := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "data"}}
		h.q.MoveAllToActiveOrBackoffQueue(h.logger, pvcAdd, nil, data, nil)
		if got := h.counts().minus(before); got.queued != 1 {
			t.Errorf("its PVC queued %d pods, want 1", got.queued)
		}
	})
}

// BenchmarkBoundPodDeleteWithGatedPods is one deletion of a bound pod with a
// memory limit while 2,000 pods wait in the gate: what the queue spends on
// them under its lock, hints and PreEnqueue calls included.
func BenchmarkBoundPodDeleteWithGatedPods(b *testing.B) {
	const gated = 2000
	h := newQueueHarness(b, demandsPlugin(b))
	for i := range gated {
		h.add(cmPod("ns", fmt.Sprintf("gated-%d", i), "missing"))
	}
	deleted := boundWithLimit("gone", "n1", "4Gi")
	before := h.counts()
	b.ReportAllocs()
	for b.Loop() {
		h.deleted(deleted)
	}
	got := h.counts().minus(before)
	b.ReportMetric(float64(got.hints)/float64(b.N), "hints/op")
	b.ReportMetric(float64(got.preEnqueue)/float64(b.N), "PreEnqueue/op")
}
