package predictabledemands

import (
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	fwk "k8s.io/kube-scheduler/framework"
)

// concern is a part of the plugin that can reject a pod. The scheduling
// queue knows only that PredictableDemands rejected a pod, and asks the
// plugin's queueing hints about every event the plugin registered; the
// hints answer for the concern that rejected it (events.go), which the
// plugin records here.
type concern uint32

const (
	// byGate: PreEnqueue holds the pod; only its missing object frees it.
	byGate concern = 1 << iota
	// byDemands: PreFilter refused undeclared demands; only the pod's own
	// update can fix that.
	byDemands
	// byRoom: the room check (room.go) found no node with room.
	byRoom
	// byCaps: Filter refused a node for a cap (overcommit.go).
	byCaps
)

// unknownConcern is assumed for a pod with no record: everything a
// scheduling cycle can reject for (the gate always records its holds).
const unknownConcern = byDemands | byRoom | byCaps

// verdicts records, per pod UID, the concerns that rejected the pod in its
// latest PreEnqueue and scheduling cycle. PreEnqueue sets or clears byGate;
// PreFilter clears the others at the start of a cycle and sets byDemands or
// byRoom, Filter sets byCaps. A pod is forgotten when it is bound or
// deleted, or when a new PreEnqueue or cycle leaves it no concern. Reads are lock-free (a hint runs under the scheduling queue's
// lock, once per parked pod and event); a pod that was never rejected costs
// one failed lookup per PreEnqueue and PreFilter, and no entry.
type verdicts struct {
	m sync.Map // types.UID -> *atomic.Uint32
}

// of returns the concerns that rejected uid, and false if none is recorded.
func (v *verdicts) of(uid types.UID) (concern, bool) {
	e, ok := v.m.Load(uid)
	if !ok {
		return 0, false
	}
	c := concern(e.(*atomic.Uint32).Load())
	return c, c != 0
}

func (v *verdicts) add(uid types.UID, c concern) {
	e, ok := v.m.Load(uid)
	if !ok {
		e, _ = v.m.LoadOrStore(uid, new(atomic.Uint32))
	}
	e.(*atomic.Uint32).Or(uint32(c))
}

// clear drops concerns, and the pod's entry once none is left: pods that
// were rejected once and then placed where no informer reports their
// binding (the simulator's) leave nothing behind. Writes for one pod are
// serial (PreEnqueue, then PreFilter, then its Filters), so the entry is
// not in use when it is deleted.
func (v *verdicts) clear(uid types.UID, c concern) {
	if e, ok := v.m.Load(uid); ok {
		if old := e.(*atomic.Uint32).And(^uint32(c)); old&^uint32(c) == 0 {
			v.m.CompareAndDelete(uid, e)
		}
	}
}

func (v *verdicts) forget(uid types.UID) { v.m.Delete(uid) }

// len counts the recorded pods (tests).
func (v *verdicts) len() int {
	n := 0
	v.m.Range(func(any, any) bool { n++; return true })
	return n
}

// rejectedFor returns the concerns that rejected pod.
func (pl *Plugin) rejectedFor(pod *corev1.Pod) concern {
	if c, ok := pl.verdicts.of(pod.UID); ok {
		return c
	}
	return unknownConcern
}

// forgetBoundAndDeleted drops the record of a pod once it is bound or
// deleted: the queue no longer holds it.
func (pl *Plugin) forgetBoundAndDeleted(h fwk.Handle) {
	if h == nil || h.SharedInformerFactory() == nil {
		return
	}
	_, _ = h.SharedInformerFactory().Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(oldObj, newObj interface{}) {
			if p, ok := newObj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
				if o, ok := oldObj.(*corev1.Pod); ok && o.Spec.NodeName == "" {
					pl.verdicts.forget(p.UID)
				}
			}
		},
		DeleteFunc: func(obj interface{}) {
			if m, err := meta(obj); err == nil {
				pl.verdicts.forget(m.GetUID())
			}
		},
	})
}
