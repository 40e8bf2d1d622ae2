package predictabledemands

import (
	"context"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
)

func TestEventsToRegister(t *testing.T) {
	pvcAdd := fwk.ClusterEvent{Resource: fwk.PersistentVolumeClaim, ActionType: fwk.Add}
	podDelete := fwk.ClusterEvent{Resource: fwk.Pod, ActionType: fwk.Delete}
	podUpdate := fwk.ClusterEvent{Resource: fwk.Pod, ActionType: fwk.Update}
	// UpdateNodeTaint: registered so the scheduler adds no always-Queue hint.
	nodeGrow := fwk.ClusterEvent{Resource: fwk.Node, ActionType: fwk.Add | fwk.UpdateNodeAllocatable | fwk.UpdateNodeTaint}
	caps := []capSpec{{resource: corev1.ResourceMemory}}
	// The room check's events (room.go) and the pod's own update are
	// always registered.
	always := []fwk.ClusterEvent{podDelete, podUpdate, nodeGrow}
	tests := []struct {
		name string
		pl   *Plugin
		want []fwk.ClusterEvent
	}{
		{name: "gate with PVCs and caps", pl: &Plugin{gate: &gate{sel: gateDefaults}, caps: caps},
			want: append([]fwk.ClusterEvent{pvcAdd}, always...)},
		{name: "gate without PVCs", pl: &Plugin{gate: &gate{sel: Selection{ConfigMaps: true, Secrets: true}}, caps: caps}, want: always},
		{name: "gate with PVCs, no caps", pl: &Plugin{gate: &gate{sel: Selection{PVCs: true}}},
			want: append([]fwk.ClusterEvent{pvcAdd}, always...)},
		{name: "no gate, caps", pl: &Plugin{caps: caps}, want: always},
		{name: "declared demands only", pl: &Plugin{nsSelector: labels.Everything()}, want: always},
		{name: "nothing on", pl: &Plugin{}, want: always},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := tc.pl.EventsToRegister(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var got []fwk.ClusterEvent
			for _, e := range evs {
				got = append(got, e.Event)
				if e.QueueingHintFn == nil {
					t.Errorf("%v: no queueing hint", e.Event)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("events = %v, want %v", got, tc.want)
			}
		})
	}
}

// hintPlugin is a plugin with a memory cap of 1x and the room check on or
// off, without a framework.
func hintPlugin(t *testing.T, room bool) *Plugin {
	t.Helper()
	pl := newPlugin(t, capsArgs(t, capOf(corev1.ResourceMemory, "1")))
	pl.nsSelector = labels.Everything()
	pl.room.once.Do(func() { pl.room.enabled = room })
	return pl
}

// rejected records that pod was rejected for c.
func rejected(pl *Plugin, pod *corev1.Pod, c concern) *corev1.Pod {
	pl.verdicts.add(pod.UID, c)
	return pod
}

func TestAfterPodDelete(t *testing.T) {
	pl := hintPlugin(t, true)
	incoming := podWith("ns", "in", nil, ctr("app", rl("cpu", "1", "memory", "1Gi"), rl("memory", "2Gi")))
	as := func(uid string, c concern) *corev1.Pod {
		p := incoming.DeepCopy()
		p.UID = types.UID(uid)
		if c != 0 {
			rejected(pl, p, c)
		}
		return p
	}
	gated, byRoomPod, byCapsPod, byDemandsPod := as("gated", byGate), as("room", byRoom), as("caps", byCaps), as("demands", byDemands)
	// Refused by a cap, requeued, then held by the gate (its ConfigMap was
	// deleted meanwhile): the gate decides.
	regated := as("regated", byCaps|byRoom|byGate)
	unknown := as("unknown", 0)

	withMem := onNode(limPod("mem", "memory", "1Gi"), "n1")
	cpuOnly := onNode(limPod("cpu", "cpu", "1"), "n1")
	requestOnly := onNode(reqPod("req", "memory", "1Gi"), "n1") // counts its request
	pending := limPod("pending", "memory", "1Gi")
	nominated := pending.DeepCopy()
	nominated.Status.NominatedNodeName = "n1"
	tests := []struct {
		name    string
		pod     *corev1.Pod
		deleted interface{}
		want    fwk.QueueingHint
		wantErr bool
	}{
		{name: "gated: bound pod deleted", pod: gated, deleted: withMem, want: fwk.QueueSkip},
		{name: "gated after a cap: bound pod deleted", pod: regated, deleted: withMem, want: fwk.QueueSkip},
		{name: "demands: bound pod deleted", pod: byDemandsPod, deleted: withMem, want: fwk.QueueSkip},
		{name: "room: any bound pod", pod: byRoomPod, deleted: cpuOnly, want: fwk.Queue},
		{name: "room: nominated pod", pod: byRoomPod, deleted: nominated, want: fwk.Queue},
		{name: "room: pending pod", pod: byRoomPod, deleted: pending, want: fwk.QueueSkip},
		{name: "caps: bound pod with a memory limit", pod: byCapsPod, deleted: withMem, want: fwk.Queue},
		{name: "caps: bound pod with a memory request, no limit", pod: byCapsPod, deleted: requestOnly, want: fwk.Queue},
		{name: "caps: bound pod without memory", pod: byCapsPod, deleted: cpuOnly, want: fwk.QueueSkip},
		{name: "caps: nominated pod with a memory limit", pod: byCapsPod, deleted: nominated, want: fwk.Queue},
		{name: "caps: pending pod", pod: byCapsPod, deleted: pending, want: fwk.QueueSkip},
		{name: "no record: as room and caps", pod: unknown, deleted: cpuOnly, want: fwk.Queue},
		{name: "not a pod", pod: byCapsPod, deleted: &corev1.Node{}, want: fwk.Queue, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pl.afterPodDelete(klog.Background(), tc.pod, tc.deleted, nil)
			checkHint(t, got, err, tc.want, tc.wantErr)
		})
	}
}

func TestAfterPodUpdate(t *testing.T) {
	pl := hintPlugin(t, true)
	mk := func(uid string, c concern) *corev1.Pod {
		p := podWith("ns", "in-"+uid, nil, ctr("app", rl("cpu", "1", "memory", "1Gi"), rl("memory", "2Gi")))
		p.UID = types.UID(uid)
		return rejected(pl, p, c)
	}
	gated, room, caps, demands := mk("gated", byGate), mk("room", byRoom), mk("caps", byCaps), mk("demands", byDemands)
	undeclaredPod := podWith("ns", "bad", nil, ctr("app", rl("memory", "1Gi"), nil))
	undeclaredPod.UID = "bad"
	rejected(pl, undeclaredPod, byDemands)
	withResources := func(p *corev1.Pod, req, lim corev1.ResourceList) *corev1.Pod {
		p = p.DeepCopy()
		p.Spec.Containers[0].Resources = corev1.ResourceRequirements{Requests: req, Limits: lim}
		return p
	}
	statusOnly := func(p *corev1.Pod) *corev1.Pod {
		p = p.DeepCopy()
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Message: "0/5000 nodes are available"}}
		return p
	}
	bound := onNode(podWith("ns", "bound", nil, ctr("app", rl("cpu", "2", "memory", "2Gi"), rl("cpu", "4", "memory", "4Gi"))), "n1")
	bound.UID = "bound"
	limitsDown := withResources(bound, rl("cpu", "2", "memory", "2Gi"), rl("cpu", "4", "memory", "3Gi"))
	cpuLimitDown := withResources(bound, rl("cpu", "2", "memory", "2Gi"), rl("cpu", "3", "memory", "4Gi"))
	cpuRequestDown := withResources(bound, rl("cpu", "1", "memory", "2Gi"), rl("cpu", "4", "memory", "4Gi"))
	// An in-place resize being actuated: the status reports the old, larger
	// limit until the kubelet applies the new one; the node counts the larger.
	resizing := limitsDown.DeepCopy()
	resizing.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Resources: &corev1.ResourceRequirements{
		Requests: rl("cpu", "2", "memory", "2Gi"), Limits: rl("cpu", "4", "memory", "4Gi")}}}
	actuated := limitsDown.DeepCopy()
	actuated.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Resources: &corev1.ResourceRequirements{
		Requests: rl("cpu", "2", "memory", "2Gi"), Limits: rl("cpu", "4", "memory", "3Gi")}}}
	pendingOther := podWith("ns", "other", nil, ctr("app", rl("memory", "2Gi"), rl("memory", "2Gi")))
	tests := []struct {
		name     string
		pod      *corev1.Pod
		old, new interface{}
		want     fwk.QueueingHint
		wantErr  bool
	}{
		{name: "own status update", pod: caps, old: caps, new: statusOnly(caps), want: fwk.QueueSkip},
		{name: "gated: own resize", pod: gated, old: gated, new: withResources(gated, rl("cpu", "1"), nil), want: fwk.QueueSkip},
		{name: "demands: own update declares them", pod: undeclaredPod, old: undeclaredPod,
			new: withResources(undeclaredPod, rl("cpu", "1", "memory", "1Gi"), nil), want: fwk.Queue},
		{name: "demands: own update, still undeclared", pod: undeclaredPod, old: undeclaredPod,
			new: withResources(undeclaredPod, rl("memory", "2Gi"), nil), want: fwk.QueueSkip},
		{name: "demands: bound pod shrinks", pod: demands, old: bound, new: limitsDown, want: fwk.QueueSkip},
		{name: "room: own request lowered", pod: room, old: room, new: withResources(room, rl("cpu", "500m", "memory", "1Gi"), rl("memory", "2Gi")), want: fwk.Queue},
		{name: "room: own limit lowered", pod: room, old: room, new: withResources(room, rl("cpu", "1", "memory", "1Gi"), rl("memory", "1Gi")), want: fwk.QueueSkip},
		{name: "room: bound pod's cpu request lowered", pod: room, old: bound, new: cpuRequestDown, want: fwk.Queue},
		{name: "room: bound pod's limit lowered", pod: room, old: bound, new: limitsDown, want: fwk.QueueSkip},
		{name: "caps: own memory limit lowered", pod: caps, old: caps, new: withResources(caps, rl("cpu", "1", "memory", "1Gi"), rl("memory", "1Gi")), want: fwk.Queue},
		{name: "caps: own request lowered, limit kept", pod: caps, old: caps, new: withResources(caps, rl("cpu", "500m", "memory", "1Gi"), rl("memory", "2Gi")), want: fwk.QueueSkip},
		{name: "caps: bound pod's memory limit lowered (limits only)", pod: caps, old: bound, new: limitsDown, want: fwk.Queue},
		{name: "caps: bound pod's uncapped cpu limit lowered", pod: caps, old: bound, new: cpuLimitDown, want: fwk.QueueSkip},
		{name: "caps: bound pod's memory limit raised", pod: caps, old: limitsDown, new: bound, want: fwk.QueueSkip},
		{name: "caps: resize not yet actuated", pod: caps, old: bound, new: resizing, want: fwk.QueueSkip},
		{name: "caps: resize actuated", pod: caps, old: resizing, new: actuated, want: fwk.Queue},
		{name: "caps: bound pod's status", pod: caps, old: bound, new: statusOnly(bound), want: fwk.QueueSkip},
		{name: "caps: another pending pod shrinks", pod: caps, old: pendingOther, new: withResources(pendingOther, rl("memory", "1Gi"), rl("memory", "1Gi")), want: fwk.QueueSkip},
		{name: "not a pod", pod: caps, old: &corev1.Node{}, new: &corev1.Node{}, want: fwk.Queue, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pl.afterPodUpdate(klog.Background(), tc.pod, tc.old, tc.new)
			checkHint(t, got, err, tc.want, tc.wantErr)
		})
	}
}

func TestAfterNodeChange(t *testing.T) {
	big := podWith("ns", "big", nil, ctr("app", rl("cpu", "9", "memory", "1Gi"), rl("memory", "6Gi")))
	small, large := node("small", "4", "8Gi", "110"), node("large", "16", "8Gi", "110")
	tiny := node("tiny", "16", "4Gi", "110") // 6Gi limit over 1 x 4Gi
	full := node("full", "16", "8Gi", "0")
	grown := small.DeepCopy()
	grown.Status.Allocatable = large.Status.Allocatable
	memGrown := tiny.DeepCopy()
	memGrown.Status.Allocatable = node("x", "16", "8Gi", "110").Status.Allocatable
	podsGrown := full.DeepCopy()
	podsGrown.Status.Allocatable = large.Status.Allocatable
	tests := []struct {
		name     string
		room     bool
		c        concern
		old, new interface{}
		want     fwk.QueueingHint
		wantErr  bool
	}{
		{name: "room: node too small for the pod", room: true, c: byRoom, new: small, want: fwk.QueueSkip},
		{name: "room: node that could hold it", room: true, c: byRoom, new: large, want: fwk.Queue},
		{name: "room: allocatable grew enough", room: true, c: byRoom, old: small, new: grown, want: fwk.Queue},
		{name: "room: pod slots grew", room: true, c: byRoom, old: full, new: podsGrown, want: fwk.Queue},
		{name: "room: tainted, nothing grew", room: true, c: byRoom, old: large, new: tainted(large, "x"), want: fwk.QueueSkip},
		{name: "room: no pod slots", room: true, c: byRoom, new: full, want: fwk.QueueSkip},
		{name: "room check off", c: byRoom, new: large, want: fwk.QueueSkip},
		{name: "caps: node under the cap for the pod alone", c: byCaps, new: small, want: fwk.Queue},
		{name: "caps: node whose cap the pod alone exceeds", c: byCaps, new: tiny, want: fwk.QueueSkip},
		{name: "caps: memory grew", c: byCaps, old: tiny, new: memGrown, want: fwk.Queue},
		{name: "caps: only cpu grew", c: byCaps, old: small, new: grown, want: fwk.QueueSkip},
		{name: "caps: tainted", c: byCaps, old: large, new: tainted(large, "x"), want: fwk.QueueSkip},
		{name: "gated", room: true, c: byGate | byRoom, new: large, want: fwk.QueueSkip},
		{name: "demands", room: true, c: byDemands, new: large, want: fwk.QueueSkip},
		{name: "not a node", room: true, c: byRoom, new: &corev1.Pod{}, want: fwk.Queue, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pl := hintPlugin(t, tc.room)
			pod := rejected(pl, big.DeepCopy(), tc.c)
			got, err := pl.afterNodeChange(klog.Background(), pod, tc.old, tc.new)
			checkHint(t, got, err, tc.want, tc.wantErr)
		})
	}
}

// The concerns are recorded where the plugin rejects, cleared when a new
// attempt passes, and forgotten when the pod is bound or deleted.
func TestVerdictsFollowRejections(t *testing.T) {
	e := newEnv(t, capsArgs(t, capOf(corev1.ResourceMemory, "1")), namespace("ns", nil))
	pl := e.pl
	pl.gate = testGate(Selection{ConfigMaps: true}, newFakeStore(true), &fakeHandle{})
	pod := cmPod("ns", "p", "missing")
	pod.Spec.Containers[0].Resources = corev1.ResourceRequirements{Requests: rl("memory", "2Gi"), Limits: rl("memory", "2Gi")}
	verdict := func() concern { c, _ := pl.verdicts.of(pod.UID); return c }

	if s := pl.PreEnqueue(e.ctx, pod); s.IsSuccess() {
		t.Fatal("PreEnqueue let a pod with a missing ConfigMap through")
	}
	if verdict() != byGate {
		t.Errorf("after the gate: %b, want byGate", verdict())
	}
	pl.gate.store.(*fakeStore).add(cmKey("ns", "missing"))
	if s := pl.PreEnqueue(e.ctx, pod); !s.IsSuccess() {
		t.Fatalf("PreEnqueue: %v", s)
	}
	if verdict() != 0 {
		t.Errorf("after the gate let it through: %b, want none", verdict())
	}
	full := nodeInfo("n1", rl("cpu", "4", "memory", "4Gi"), onNode(limPod("a", "memory", "3Gi"), "n1"))
	state := framework.NewCycleState()
	if _, s := pl.PreFilter(e.ctx, state, pod, []fwk.NodeInfo{full}); !s.IsSuccess() {
		t.Fatal(s)
	}
	for range 3 {
		if s := pl.Filter(e.ctx, state, pod, full); s.IsSuccess() {
			t.Fatal("Filter admitted the pod over the cap")
		}
	}
	if verdict() != byCaps {
		t.Errorf("after the caps: %b, want byCaps", verdict())
	}
	// The next attempt starts afresh.
	if _, s := pl.PreFilter(e.ctx, framework.NewCycleState(), pod, nil); !s.IsSuccess() {
		t.Fatal(s)
	}
	if verdict() != 0 {
		t.Errorf("after a new PreFilter: %b, want none", verdict())
	}
	pl.verdicts.add(pod.UID, byCaps)

	// Bound: forgotten (through the pod informer of the framework).
	cs := e.cs
	created, err := cs.CoreV1().Pods("ns").Create(e.ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor("the informer to see the pod", func() bool {
		_, err := e.fw.SharedInformerFactory().Core().V1().Pods().Lister().Pods("ns").Get("p")
		return err == nil
	})
	if verdict() != byCaps {
		t.Fatalf("verdict dropped before the pod was bound: %b", verdict())
	}
	boundPod := created.DeepCopy()
	boundPod.Spec.NodeName = "n1"
	if _, err := cs.CoreV1().Pods("ns").Update(e.ctx, boundPod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("the bound pod's verdict to be forgotten", func() bool { return pl.verdicts.len() == 0 })

	// Deleted: forgotten.
	other := podWith("ns", "q", nil, ctr("app", nil, nil))
	if _, err := cs.CoreV1().Pods("ns").Create(e.ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pl.verdicts.add(other.UID, byDemands)
	if err := cs.CoreV1().Pods("ns").Delete(e.ctx, "q", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("the deleted pod's verdict to be forgotten", func() bool { return pl.verdicts.len() == 0 })
}

func TestIsMissingPVC(t *testing.T) {
	pl := &Plugin{gate: &gate{sel: gateDefaults}}
	pod := gatedPod("ns", "p") // PVC "data", ConfigMap "x", Secret "s"
	pvc := func(ns, name string) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	}
	tests := []struct {
		name    string
		obj     interface{}
		want    fwk.QueueingHint
		wantErr bool
	}{
		{name: "the referenced PVC", obj: pvc("ns", "data"), want: fwk.Queue},
		{name: "another PVC", obj: pvc("ns", "logs"), want: fwk.QueueSkip},
		{name: "same name in another namespace", obj: pvc("other", "data"), want: fwk.QueueSkip},
		{name: "a PVC named like the ConfigMap", obj: pvc("ns", "x"), want: fwk.QueueSkip},
		{name: "a PVC named like the Secret", obj: pvc("ns", "s"), want: fwk.QueueSkip},
		{name: "not a PVC", obj: &corev1.Pod{}, want: fwk.Queue, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pl.isMissingPVC(klog.Background(), pod, nil, tc.obj)
			checkHint(t, got, err, tc.want, tc.wantErr)
		})
	}
	// A pod that references no PVC is never queued by a PVC.
	if got, _ := pl.isMissingPVC(klog.Background(), cmPod("ns", "q", "data"), nil, pvc("ns", "data")); got != fwk.QueueSkip {
		t.Errorf("hint for a pod without PVCs = %v, want QueueSkip", got)
	}
}

// checkHint compares a queueing hint's result with the wanted hint and
// whether an error was wanted.
func checkHint(t *testing.T, got fwk.QueueingHint, err error, want fwk.QueueingHint, wantErr bool) {
	t.Helper()
	if (err != nil) != wantErr {
		t.Errorf("err = %v, want error %v", err, wantErr)
	}
	if got != want {
		t.Errorf("hint = %v, want %v", got, want)
	}
}
