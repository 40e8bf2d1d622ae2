package predictabledemands

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/util"
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
	if len(pl.caps) > 0 {
		events = append(events,
			// A pod leaving a node, or shrinking, frees limit budget there.
			fwk.ClusterEventWithHint{Event: fwk.ClusterEvent{Resource: fwk.Pod, ActionType: fwk.Delete}, QueueingHintFn: isBoundPod},
			fwk.ClusterEventWithHint{Event: fwk.ClusterEvent{Resource: fwk.Pod, ActionType: fwk.UpdatePodScaleDown}, QueueingHintFn: isBoundPod},
			// A new node, or more allocatable, raises the cap.
			fwk.ClusterEventWithHint{Event: fwk.ClusterEvent{Resource: fwk.Node, ActionType: fwk.Add | fwk.UpdateNodeAllocatable}},
		)
	}
	// Declared demands (and a pod over a cap) can be fixed by an update of
	// the pod itself, e.g. a resize that adds requests. A changed namespace
	// label takes effect at the queue's periodic flush.
	if len(pl.caps) > 0 || pl.nsSelector != nil {
		events = append(events, fwk.ClusterEventWithHint{
			Event: fwk.ClusterEvent{Resource: fwk.Pod, ActionType: fwk.Update}, QueueingHintFn: isSelf,
		})
	}
	return events, nil
}

func isSelf(logger klog.Logger, pod *corev1.Pod, oldObj, newObj interface{}) (fwk.QueueingHint, error) {
	_, updated, err := util.As[*corev1.Pod](oldObj, newObj)
	if err != nil {
		return fwk.Queue, err
	}
	if updated != nil && updated.UID == pod.UID {
		return fwk.Queue, nil
	}
	return fwk.QueueSkip, nil
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
