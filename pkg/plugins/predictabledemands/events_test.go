package predictabledemands

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
)

func TestEventsToRegister(t *testing.T) {
	pvcAdd := fwk.ClusterEvent{Resource: fwk.PersistentVolumeClaim, ActionType: fwk.Add}
	podDelete := fwk.ClusterEvent{Resource: fwk.Pod, ActionType: fwk.Delete}
	podScaleDown := fwk.ClusterEvent{Resource: fwk.Pod, ActionType: fwk.UpdatePodScaleDown}
	nodeGrow := fwk.ClusterEvent{Resource: fwk.Node, ActionType: fwk.Add | fwk.UpdateNodeAllocatable}
	podSelf := fwk.ClusterEvent{Resource: fwk.Pod, ActionType: fwk.Update}
	caps := []capSpec{{resource: corev1.ResourceMemory}}
	// The room check's events (room.go) and the pod's own spec change are
	// always registered.
	always := []fwk.ClusterEvent{podDelete, podScaleDown, nodeGrow, podSelf}
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

func TestEventsFromRealPlugin(t *testing.T) {
	// Defaults through New without an API server: the gate is off.
	pl := newPlugin(t, defaultArgs(t))
	evs, err := pl.EventsToRegister(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 4 || evs[0].Event.Resource != fwk.Pod || evs[2].Event.Resource != fwk.Node || evs[3].Event.ActionType != fwk.Update {
		t.Errorf("events = %v, want pod Delete, pod UpdatePodScaleDown, node Add|UpdateNodeAllocatable, pod Update", evs)
	}
}

func TestIsOwnSpecChange(t *testing.T) {
	waiting := podWith("ns", "waiting", nil, ctr("app", rl("cpu", "9"), nil))
	waiting.UID = "w"
	// What the scheduler writes after a failed attempt: a new message.
	failedAgain := waiting.DeepCopy()
	failedAgain.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		Reason: corev1.PodReasonUnschedulable, Message: "0/5000 nodes are available: 4997 No preemption victims found"}}
	failedAgain.ResourceVersion = "2"
	resized := waiting.DeepCopy()
	resized.Spec.Containers[0].Resources.Requests = rl("cpu", "2")
	other := podWith("ns", "other", nil, ctr("app", nil, nil))
	other.UID = "o"
	otherResized := other.DeepCopy()
	otherResized.Spec.Containers[0].Resources.Requests = rl("cpu", "1")
	tests := []struct {
		name     string
		old, new interface{}
		want     fwk.QueueingHint
		wantErr  bool
	}{
		{name: "own status update", old: waiting, new: failedAgain, want: fwk.QueueSkip},
		{name: "own spec change", old: waiting, new: resized, want: fwk.Queue},
		{name: "other pod's spec change", old: other, new: otherResized, want: fwk.QueueSkip},
		{name: "not a pod", old: &corev1.Node{}, new: &corev1.Node{}, want: fwk.Queue, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := isOwnSpecChange(klog.Background(), waiting, tc.old, tc.new)
			checkHint(t, got, err, tc.want, tc.wantErr)
		})
	}
}

func TestIsNodeWithRoom(t *testing.T) {
	big := podWith("ns", "big", nil, ctr("app", rl("cpu", "9", "memory", "1Gi"), nil))
	roomOn := func(pl *Plugin) *Plugin { pl.room.once.Do(func() { pl.room.enabled = true }); return pl }
	roomOff := func(pl *Plugin) *Plugin { pl.room.once.Do(func() {}); return pl }
	small, large := node("small", "4", "8Gi", "110"), node("large", "16", "8Gi", "110")
	full := node("full", "16", "8Gi", "0")
	grown := small.DeepCopy()
	grown.Status.Allocatable = large.Status.Allocatable
	tests := []struct {
		name     string
		pl       *Plugin
		old, new interface{}
		want     fwk.QueueingHint
		wantErr  bool
	}{
		{name: "node too small for the pod", pl: roomOn(&Plugin{}), new: small, want: fwk.QueueSkip},
		{name: "node that could hold it", pl: roomOn(&Plugin{}), new: large, want: fwk.Queue},
		{name: "allocatable grew enough", pl: roomOn(&Plugin{}), old: small, new: grown, want: fwk.Queue},
		{name: "no pod slots", pl: roomOn(&Plugin{}), new: full, want: fwk.QueueSkip},
		{name: "caps: any node raises the budget", pl: roomOn(&Plugin{caps: []capSpec{{resource: corev1.ResourceMemory}}}), new: small, want: fwk.Queue},
		{name: "no room check, no caps", pl: roomOff(&Plugin{}), new: large, want: fwk.QueueSkip},
		{name: "not a node", pl: roomOn(&Plugin{}), new: &corev1.Pod{}, want: fwk.Queue, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.pl.isNodeWithRoom(klog.Background(), big, tc.old, tc.new)
			checkHint(t, got, err, tc.want, tc.wantErr)
		})
	}
}

func TestIsBoundPod(t *testing.T) {
	pending := podWith("ns", "pending", nil, ctr("app", nil, nil))
	bound := onNode(podWith("ns", "bound", nil, ctr("app", rl("cpu", "1"), nil)), "n1")
	shrunk := bound.DeepCopy()
	shrunk.Spec.Containers[0].Resources.Requests = rl("cpu", "500m")
	incoming := podWith("ns", "incoming", nil, ctr("app", nil, nil))
	tests := []struct {
		name     string
		old, new interface{}
		want     fwk.QueueingHint
		wantErr  bool
	}{
		{name: "bound pod deleted", old: bound, new: nil, want: fwk.Queue},
		{name: "pending pod deleted", old: pending, new: nil, want: fwk.QueueSkip},
		{name: "bound pod scaled down", old: bound, new: shrunk, want: fwk.Queue},
		{name: "pending pod scaled down", old: pending, new: pending.DeepCopy(), want: fwk.QueueSkip},
		{name: "not a pod", old: &corev1.Node{}, new: nil, want: fwk.Queue, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := isBoundPod(klog.Background(), incoming, tc.old, tc.new)
			checkHint(t, got, err, tc.want, tc.wantErr)
		})
	}
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
