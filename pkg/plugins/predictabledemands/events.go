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
// rejected schedulable, each with a hint that asks, as NodeResourcesFit's
// do, whether the event frees what the pod lacks, for the concern that
// rejected it (verdicts.go):
//
//   - held by the gate: only its missing object, which the gate activates
//     itself for ConfigMaps and Secrets (it watches their metadata; the
//     scheduler's own machinery would watch full Secrets) and PVC/Add
//     queues here. No pod or node event queues a held pod, so none re-runs
//     PreEnqueue.
//   - undeclared demands: only the pod's own update that declares them. A
//     changed namespace label takes effect at the queue's periodic flush.
//   - room check: a bound or nominated pod deleted, a bound pod's cpu or
//     memory request lowered, the pod's own request lowered, a node added
//     or grown that could hold the pod alone (NodeResourcesFit's events).
//   - a cap: a bound or nominated pod deleted, or a bound pod's limit
//     lowered (a limits-only in-place resize included: it is a Pod/Update,
//     not an UpdatePodScaleDown, which only follows requests), of a capped
//     resource the pod limits; the pod's own capped limit lowered; a node
//     added or grown in a capped resource the pod limits, on which the pod
//     alone is within the cap.
//
// Node/UpdateNodeTaint is registered so the scheduler does not add, for a
// plugin that registers Node/Add without it, a hint that always queues
// (kubernetes#109437; that workaround is for the preCheck, which the
// scheduler skips with queueing hints, GA since 1.34). A taint never frees
// a cap or room, so the hint skips it.
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
		fwk.ClusterEventWithHint{Event: fwk.ClusterEvent{Resource: fwk.Pod, ActionType: fwk.Delete}, QueueingHintFn: pl.afterPodDelete},
		// Every pod update: a bound pod's scale-down and limits-only resize,
		// and the pending pod's own update.
		fwk.ClusterEventWithHint{Event: fwk.ClusterEvent{Resource: fwk.Pod, ActionType: fwk.Update}, QueueingHintFn: pl.afterPodUpdate},
		fwk.ClusterEventWithHint{Event: fwk.ClusterEvent{Resource: fwk.Node, ActionType: fwk.Add | fwk.UpdateNodeAllocatable | fwk.UpdateNodeTaint},
			QueueingHintFn: pl.afterNodeChange},
	)
	return events, nil
}

// afterPodDelete: a deleted pod frees room and limits on its node, or on the
// node it was nominated to (nominated pods of equal or higher priority count
// in Filter).
func (pl *Plugin) afterPodDelete(logger klog.Logger, pod *corev1.Pod, oldObj, newObj interface{}) (fwk.QueueingHint, error) {
	deleted, _, err := util.As[*corev1.Pod](oldObj, newObj)
	if err != nil {
		return fwk.Queue, err
	}
	if deleted == nil || (deleted.Spec.NodeName == "" && deleted.Status.NominatedNodeName == "") {
		return fwk.QueueSkip, nil
	}
	c := pl.rejectedFor(pod)
	switch {
	case c&byGate != 0:
		return fwk.QueueSkip, nil
	case c&byRoom != 0:
		return fwk.Queue, nil // any pod frees a slot, as in NodeResourcesFit
	case c&byCaps != 0 && pl.capLimitLowered(pod, deleted, nil):
		logger.V(5).Info("a pod with a capped limit was deleted", "pod", klog.KObj(pod), "deletedPod", klog.KObj(deleted))
		return fwk.Queue, nil
	}
	return fwk.QueueSkip, nil
}

// afterPodUpdate: the pod's own update, or a bound pod's that lowers a
// request or a capped limit the pod needs.
func (pl *Plugin) afterPodUpdate(logger klog.Logger, pod *corev1.Pod, oldObj, newObj interface{}) (fwk.QueueingHint, error) {
	old, updated, err := util.As[*corev1.Pod](oldObj, newObj)
	if err != nil {
		return fwk.Queue, err
	}
	if old == nil || updated == nil {
		return fwk.QueueSkip, nil
	}
	c := pl.rejectedFor(pod)
	if c&byGate != 0 {
		return fwk.QueueSkip, nil
	}
	if updated.UID == pod.UID {
		// Status updates (the scheduler writes one after every failed
		// attempt) change no resources and are skipped here first.
		if !resourcesChanged(old, updated) {
			return fwk.QueueSkip, nil
		}
		if c&byDemands != 0 && pl.undeclared(updated) == "" {
			return fwk.Queue, nil
		}
		if c&byRoom != 0 && pl.requestLowered(pod, old, updated, true) {
			return fwk.Queue, nil
		}
		if c&byCaps != 0 && pl.capLimitLowered(old, old, updated) {
			return fwk.Queue, nil
		}
		return fwk.QueueSkip, nil
	}
	if old.Spec.NodeName == "" || c&(byRoom|byCaps) == 0 {
		return fwk.QueueSkip, nil
	}
	if c&byRoom != 0 && pl.requestLowered(pod, old, updated, false) {
		return fwk.Queue, nil
	}
	if c&byCaps != 0 && pl.capLimitLowered(pod, old, updated) {
		logger.V(5).Info("a bound pod's capped limit was lowered", "pod", klog.KObj(pod), "updatedPod", klog.KObj(updated))
		return fwk.Queue, nil
	}
	return fwk.QueueSkip, nil
}

// resourcesChanged reports whether a pod's requests or limits changed, in
// its spec (containers, init containers, pod-level) or in the resources its
// status reports (an in-place resize being actuated).
func resourcesChanged(old, updated *corev1.Pod) bool {
	if !apiequality.Semantic.DeepEqual(old.Spec.Resources, updated.Spec.Resources) ||
		len(old.Spec.Containers) != len(updated.Spec.Containers) ||
		len(old.Spec.InitContainers) != len(updated.Spec.InitContainers) {
		return true
	}
	for i := range old.Spec.Containers {
		if !apiequality.Semantic.DeepEqual(old.Spec.Containers[i].Resources, updated.Spec.Containers[i].Resources) {
			return true
		}
	}
	for i := range old.Spec.InitContainers {
		if !apiequality.Semantic.DeepEqual(old.Spec.InitContainers[i].Resources, updated.Spec.InitContainers[i].Resources) {
			return true
		}
	}
	return !apiequality.Semantic.DeepEqual(resourcemodel.Requests(old), resourcemodel.Requests(updated)) ||
		!apiequality.Semantic.DeepEqual(resourcemodel.Limits(old), resourcemodel.Limits(updated))
}

// capLimitLowered reports whether, for some cap on a resource pod limits
// (its bounded limit is not 0), after's bounded limit is below before's
// (after nil: deleted, 0).
func (pl *Plugin) capLimitLowered(pod, before, after *corev1.Pod) bool {
	if len(pl.caps) == 0 {
		return false
	}
	var want, b, a [maxCaps]int64
	pl.podLimits(pod, &want)
	pl.podLimits(before, &b)
	if after != nil {
		pl.podLimits(after, &a)
	}
	for i := range pl.caps {
		if want[i] > 0 && b[i] > a[i] {
			return true
		}
	}
	return false
}

// requestLowered reports whether before's cpu or memory request, one pod
// requests, is above after's: the room check's resources. own: before and
// after are pod itself, pending (requests as NodeResourcesFit charges them);
// otherwise a bound pod (requests as its node counts them).
func (pl *Plugin) requestLowered(pod, before, after *corev1.Pod, own bool) bool {
	rc := pl.room.init(pl.handle)
	want := resourcemodel.FitRequests(pod, rc.podLevel)
	var b, a corev1.ResourceList
	if own {
		b, a = resourcemodel.FitRequests(before, rc.podLevel), resourcemodel.FitRequests(after, rc.podLevel)
	} else {
		b, a = resourcemodel.Requests(before), resourcemodel.Requests(after)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if resourcemodel.Value(r, want) > 0 && resourcemodel.Value(r, b) > resourcemodel.Value(r, a) {
			return true
		}
	}
	return false
}

// afterNodeChange: a node added, or grown, that could hold the pod by
// itself (NodeResourcesFit's hint on an empty node; the cap of each
// resource the pod limits).
func (pl *Plugin) afterNodeChange(logger klog.Logger, pod *corev1.Pod, oldObj, newObj interface{}) (fwk.QueueingHint, error) {
	oldNode, node, err := util.As[*corev1.Node](oldObj, newObj)
	if err != nil {
		return fwk.Queue, err
	}
	if node == nil {
		return fwk.QueueSkip, nil
	}
	c := pl.rejectedFor(pod)
	if c&(byRoom|byCaps) == 0 || c&byGate != 0 {
		return fwk.QueueSkip, nil // nodes hold no dependencies and declare no demands
	}
	empty := framework.NewNodeInfo()
	empty.SetNode(node)
	var before *framework.NodeInfo
	if oldNode != nil {
		before = framework.NewNodeInfo()
		before.SetNode(oldNode)
	}
	if c&byRoom != 0 && pl.roomOnNode(pod, before, empty) {
		return fwk.Queue, nil
	}
	if c&byCaps != 0 && pl.capRoomOnNode(pod, before, empty) {
		logger.V(5).Info("a node with room under the caps was added or grew", "pod", klog.KObj(pod), "node", klog.KObj(node))
		return fwk.Queue, nil
	}
	return fwk.QueueSkip, nil
}

// roomOnNode reports whether the room check would find room for pod on the
// empty node now and, for an update, the node grew in a way that matters to
// the pod (pod slots, or cpu or memory it requests).
func (pl *Plugin) roomOnNode(pod *corev1.Pod, before, now *framework.NodeInfo) bool {
	rc := pl.room.init(pl.handle)
	if !rc.enabled {
		return false
	}
	req := resourcemodel.FitRequests(pod, rc.podLevel)
	cpu, mem := resourcemodel.Value(corev1.ResourceCPU, req), resourcemodel.Value(corev1.ResourceMemory, req)
	if !hasRoom(now, cpu, mem) {
		return false
	}
	if before == nil {
		return true
	}
	a, b := now.GetAllocatable(), before.GetAllocatable()
	return a.GetAllowedPodNumber() > b.GetAllowedPodNumber() ||
		(cpu > 0 && a.GetMilliCPU() > b.GetMilliCPU()) || (mem > 0 && a.GetMemory() > b.GetMemory())
}

// capRoomOnNode reports whether pod alone is within every cap on the node
// now and, for an update, the node's allocatable grew in a capped resource
// the pod limits.
func (pl *Plugin) capRoomOnNode(pod *corev1.Pod, before, now *framework.NodeInfo) bool {
	var lim [maxCaps]int64
	pl.podLimits(pod, &lim)
	a := now.GetAllocatable()
	grew := before == nil
	for i, c := range pl.caps {
		if lim[i] == 0 {
			continue
		}
		if c.ratio.exceeds(lim[i], allocatable(a, c.resource)) {
			return false
		}
		grew = grew || allocatable(a, c.resource) > allocatable(before.GetAllocatable(), c.resource)
	}
	return grew
}

// isMissingPVC queues a pod the gate holds when a PVC it references appears.
func (pl *Plugin) isMissingPVC(logger klog.Logger, pod *corev1.Pod, oldObj, newObj interface{}) (fwk.QueueingHint, error) {
	_, pvc, err := util.As[*corev1.PersistentVolumeClaim](oldObj, newObj)
	if err != nil {
		return fwk.Queue, err
	}
	if pvc == nil || pvc.Namespace != pod.Namespace {
		return fwk.QueueSkip, nil
	}
	if c, ok := pl.verdicts.of(pod.UID); ok && c&byGate == 0 {
		return fwk.QueueSkip, nil // not held: PVCs are the gate's business
	}
	for _, d := range Dependencies(pod, Selection{PVCs: true}) {
		if d.Name == pvc.Name {
			return fwk.Queue, nil
		}
	}
	return fwk.QueueSkip, nil
}
