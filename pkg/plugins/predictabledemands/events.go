package predictabledemands

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/util"

	"github.com/snug-sched/snug/pkg/resourcemodel"
)

// EventsToRegister lists the events that can make a pod this plugin
// rejected schedulable. ConfigMaps and Secrets are not listed: the gate
// watches their metadata itself and activates waiting pods (the scheduler's
// own machinery would watch full Secrets).
func (pl *Plugin) EventsToRegister(context.Context) ([]fwk.ClusterEventWithHint, error) {
	var events []fwk.ClusterEventWithHint
	if pl.gate != nil && pl.gate.sel.PVCs {
		events = append(events, fwk.ClusterEventWithHint{
			Event:          fwk.ClusterEvent{Resource: fwk.PersistentVolumeClaim, ActionType: fwk.Add},
			QueueingHintFn: pl.isMissingPVC,
		})
	}
	// Always: the room check (room.go) may reject in any profile with
	// NodeResourcesFit, and it is only known on the first PreFilter.
	events = append(events,
		// A pod leaving a node, or shrinking, frees room and limit budget there.
		fwk.ClusterEventWithHint{Event: fwk.ClusterEvent{Resource: fwk.Pod, ActionType: fwk.Delete}, QueueingHintFn: isBoundPod},
		fwk.ClusterEventWithHint{Event: fwk.ClusterEvent{Resource: fwk.Pod, ActionType: fwk.UpdatePodScaleDown}, QueueingHintFn: isBoundPod},
		// A new node, or more allocatable, adds room and raises the cap.
		fwk.ClusterEventWithHint{Event: fwk.ClusterEvent{Resource: fwk.Node, ActionType: fwk.Add | fwk.UpdateNodeAllocatable}, QueueingHintFn: pl.isNodeWithRoom},
		// Declared demands, a cap and the room check can all be satisfied by
		// a change to the pod's own spec, e.g. a resize or added requests. A
		// changed namespace label takes effect at the queue's periodic flush.
		fwk.ClusterEventWithHint{Event: fwk.ClusterEvent{Resource: fwk.Pod, ActionType: fwk.Update}, QueueingHintFn: isOwnSpecChange},
	)
	return events, nil
}

// isOwnSpecChange queues a pod after a change to its own spec. Status-only
// updates are skipped: the scheduler writes one after every failed attempt,
// and its message changes from attempt to attempt (preemption's per-node
// counts), so queueing on them retries a never-fitting pod once per backoff
// period (seen in scheduler_perf's Unschedulable workload) where
// NodeResourcesFit, rejecting the same pod, parks it.
func isOwnSpecChange(logger klog.Logger, pod *corev1.Pod, oldObj, newObj interface{}) (fwk.QueueingHint, error) {
	old, updated, err := util.As[*corev1.Pod](oldObj, newObj)
	if err != nil {
		return fwk.Queue, err
	}
	if updated == nil || updated.UID != pod.UID {
		return fwk.QueueSkip, nil
	}
	if old != nil && apiequality.Semantic.DeepEqual(old.Spec, updated.Spec) {
		return fwk.QueueSkip, nil
	}
	return fwk.Queue, nil
}

// isNodeWithRoom queues a pod after a node is added or its allocatable
// grows. With caps, any such node raises a cap's budget; otherwise only a
// node whose allocatable could hold the pod by itself matters (the room
// check's rejection), as in NodeResourcesFit's hint.
func (pl *Plugin) isNodeWithRoom(logger klog.Logger, pod *corev1.Pod, oldObj, newObj interface{}) (fwk.QueueingHint, error) {
	_, node, err := util.As[*corev1.Node](oldObj, newObj)
	if err != nil {
		return fwk.Queue, err
	}
	if len(pl.caps) > 0 {
		return fwk.Queue, nil
	}
	rc := pl.room.init(pl.handle)
	if !rc.enabled {
		return fwk.QueueSkip, nil // nodes cannot fix missing declared demands
	}
	// The room check's own test, on the node before any pod is placed.
	empty := framework.NewNodeInfo()
	empty.SetNode(node)
	req := resourcemodel.FitRequests(pod, rc.podLevel)
	if !hasRoom(empty, resourcemodel.Value(corev1.ResourceCPU, req), resourcemodel.Value(corev1.ResourceMemory, req)) {
		return fwk.QueueSkip, nil
	}
	return fwk.Queue, nil
}

func isBoundPod(logger klog.Logger, pod *corev1.Pod, oldObj, newObj interface{}) (fwk.QueueingHint, error) {
	old, _, err := util.As[*corev1.Pod](oldObj, newObj)
	if err != nil {
		return fwk.Queue, err
	}
	if old != nil && old.Spec.NodeName != "" {
		return fwk.Queue, nil
	}
	return fwk.QueueSkip, nil
}

func (pl *Plugin) isMissingPVC(logger klog.Logger, pod *corev1.Pod, oldObj, newObj interface{}) (fwk.QueueingHint, error) {
	_, pvc, err := util.As[*corev1.PersistentVolumeClaim](oldObj, newObj)
	if err != nil {
		return fwk.Queue, err
	}
	if pvc.Namespace != pod.Namespace {
		return fwk.QueueSkip, nil
	}
	for _, d := range Dependencies(pod, Selection{PVCs: true}) {
		if d.Name == pvc.Name {
			return fwk.Queue, nil
		}
	}
	return fwk.QueueSkip, nil
}
