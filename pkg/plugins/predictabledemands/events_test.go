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
	tests := []struct {
		name string
		pl   *Plugin
		want []fwk.ClusterEvent
	}{
		{name: "gate with PVCs and caps", pl: &Plugin{gate: &gate{sel: gateDefaults}, caps: caps},
			want: []fwk.ClusterEvent{pvcAdd, podDelete, podScaleDown, nodeGrow, podSelf}},
		{name: "gate without PVCs", pl: &Plugin{gate: &gate{sel: Selection{ConfigMaps: true, Secrets: true}}, caps: caps},
			want: []fwk.ClusterEvent{podDelete, podScaleDown, nodeGrow, podSelf}},
		{name: "gate with PVCs, no caps", pl: &Plugin{gate: &gate{sel: Selection{PVCs: true}}},
			want: []fwk.ClusterEvent{pvcAdd}},
		{name: "no gate, caps", pl: &Plugin{caps: caps},
			want: []fwk.ClusterEvent{podDelete, podScaleDown, nodeGrow, podSelf}},
		{name: "declared demands only", pl: &Plugin{nsSelector: labels.Everything()},
			want: []fwk.ClusterEvent{podSelf}},
		{name: "nothing on", pl: &Plugin{}},
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
				wantHint := e.Event.Resource != fwk.Node
				if (e.QueueingHintFn != nil) != wantHint {
					t.Errorf("%v: has hint %v, want %v", e.Event, e.QueueingHintFn != nil, wantHint)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("events = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEventsFromRealPlugin(t *testing.T) {
	// Defaults through New without an API server: the gate is off, so only
	// the cap events are registered.
	pl := newPlugin(t, defaultArgs(t))
	evs, err := pl.EventsToRegister(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 4 || evs[0].Event.Resource != fwk.Pod || evs[2].Event.Resource != fwk.Node || evs[3].Event.ActionType != fwk.Update {
		t.Errorf("events = %v, want pod Delete, pod UpdatePodScaleDown, node Add|UpdateNodeAllocatable, pod Update", evs)
	}
}

func TestIsSelf(t *testing.T) {
	waiting := podWith("ns", "waiting", nil, ctr("app", nil, nil))
	waiting.UID = "w"
	other := podWith("ns", "other", nil, ctr("app", nil, nil))
	other.UID = "o"
	if h, _ := isSelf(klog.Background(), waiting, waiting, waiting); h != fwk.Queue {
		t.Errorf("own update: %v, want Queue", h)
	}
	if h, _ := isSelf(klog.Background(), waiting, other, other); h != fwk.QueueSkip {
		t.Errorf("other pod's update: %v, want QueueSkip", h)
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
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("hint = %v, want %v", got, tc.want)
			}
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
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("hint = %v, want %v", got, tc.want)
			}
		})
	}
	// A pod that references no PVC is never queued by a PVC.
	if got, _ := pl.isMissingPVC(klog.Background(), cmPod("ns", "q", "data"), nil, pvc("ns", "data")); got != fwk.QueueSkip {
		t.Errorf("hint for a pod without PVCs = %v, want QueueSkip", got)
	}
}
