package predictabledemands

import (
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

// Metrics on the scheduler's /metrics (component-base's legacy registry,
// which kube-scheduler serves). Label values come from fixed sets: the
// gate's reasons and kinds, and the configured caps' resource names.
var (
	gateHeldPods = metrics.NewGaugeVec(&metrics.GaugeOpts{
		Namespace: "snug", Subsystem: "dependency_gate", Name: "held_pods",
		Help: "Pods the dependency gate holds now, by the kind of object they wait for " +
			"(ConfigMap, Secret, PersistentVolumeClaim) and reason (MissingDependency: the object is missing; " +
			"DependencyGateNotSynced: the gate's caches have not synced). A pod waiting for two kinds counts under each.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"kind", "reason"})
	gateHoldDuration = metrics.NewHistogramVec(&metrics.HistogramOpts{
		Namespace: "snug", Subsystem: "dependency_gate", Name: "hold_duration_seconds",
		Help: "How long the dependency gate held a pod, observed when it lets the pod through (result=released) " +
			"or the pod is deleted while held (result=deleted).",
		// 0.1s to ~1.6h.
		Buckets:        metrics.ExponentialBuckets(0.1, 3, 11),
		StabilityLevel: metrics.ALPHA,
	}, []string{"result"})
	capRejections = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace: "snug", Subsystem: "overcommit_cap", Name: "rejections_total",
		Help: "Nodes PredictableDemands' Filter rejected because the pod's limits would exceed an overcommit cap, by capped resource. " +
			"Counts every Filter call, preemption's dry runs included.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"resource"})

	registerOnce sync.Once
)

func registerMetrics() {
	registerOnce.Do(func() {
		legacyregistry.MustRegister(gateHeldPods, gateHoldDuration, capRejections)
	})
}

// Hold results (gateHoldDuration's label).
const (
	holdReleased = "released"
	holdDeleted  = "deleted"
)

// holdBit is one (reason, kind) series of gateHeldPods.
type holdBit uint8

// holdBits is a set of holdBit: which series count a held pod.
type holdBits uint8

var holdKinds = [...]Kind{ConfigMap, Secret, PVC}

// Indices into holdReasons.
const (
	missingReason = iota
	notSyncedReason
)

var holdReasons = [...]string{missingReason: ReasonMissingDependency, notSyncedReason: ReasonGateNotSynced}

func holdBitOf(reason int, k Kind) holdBit {
	for i, hk := range holdKinds {
		if hk == k {
			return holdBit(reason*len(holdKinds) + i)
		}
	}
	return holdBit(reason * len(holdKinds)) // unreachable: every Kind is listed
}

func (b holdBit) labels() (kind, reason string) {
	return string(holdKinds[int(b)%len(holdKinds)]), holdReasons[int(b)/len(holdKinds)]
}

// kindsOf returns the series of deps' kinds under reason (an index into holdReasons).
func kindsOf(reason int, deps []Dependency) holdBits {
	var bits holdBits
	for _, d := range deps {
		bits |= 1 << holdBitOf(reason, d.Kind)
	}
	return bits
}

// holds tracks the pods the gate holds, for gateHeldPods and
// gateHoldDuration. The zero value is ready to use.
type holds struct {
	n    atomic.Int64 // len(pods), read without the lock on the release path
	mu   sync.Mutex
	pods map[string]heldPod // by namespace/name
	// lister is the scheduler's pod informer (nil in tests): a pod it no
	// longer has, or has bound, is not recorded as held. PreEnqueue and the
	// gate's delete handler are separate listeners of that informer, so a
	// pod's delete can be handled before its last PreEnqueue; the informer
	// drops the pod from its store before it notifies the delete, and hold
	// looks there under mu, which deleted waits for.
	lister corelisters.PodLister
}

type heldPod struct {
	uid   types.UID
	since time.Time
	bits  holdBits
}

// hold records that pod is held under bits (not empty).
func (h *holds) hold(podKey string, pod *corev1.Pod, bits holdBits) {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pods == nil {
		h.pods = map[string]heldPod{}
	}
	if h.lister != nil {
		live, err := h.lister.Pods(pod.Namespace).Get(pod.Name)
		if err != nil || live.UID != pod.UID || live.Spec.NodeName != "" {
			return
		}
	}
	cur, ok := h.pods[podKey]
	if ok && cur.uid != pod.UID {
		// A newer pod of the same name: the old one is gone.
		h.endLocked(podKey, cur, holdDeleted, now)
		ok = false
	}
	if !ok {
		cur = heldPod{uid: pod.UID, since: now}
		h.n.Add(1)
	}
	moveGauges(cur.bits, bits)
	cur.bits = bits
	h.pods[podKey] = cur
}

// release records that pod passes the gate.
func (h *holds) release(podKey string, uid types.UID) {
	if h.n.Load() == 0 {
		return // the common case: no pod is held
	}
	h.end(podKey, uid, holdReleased)
}

// holding reports whether pod uid is held now.
func (h *holds) holding(podKey string, uid types.UID) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	cur, ok := h.pods[podKey]
	return ok && cur.uid == uid
}

// deleted records that pod was deleted. It always takes the lock (see lister).
func (h *holds) deleted(podKey string, uid types.UID) {
	h.end(podKey, uid, holdDeleted)
}

func (h *holds) end(podKey string, uid types.UID, result string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if cur, ok := h.pods[podKey]; ok && cur.uid == uid {
		h.endLocked(podKey, cur, result, time.Now())
	}
}

func (h *holds) endLocked(podKey string, cur heldPod, result string, now time.Time) {
	delete(h.pods, podKey)
	h.n.Add(-1)
	moveGauges(cur.bits, 0)
	gateHoldDuration.WithLabelValues(result).Observe(now.Sub(cur.since).Seconds())
}

// moveGauges moves one pod from the series in from to those in to.
func moveGauges(from, to holdBits) {
	for b := holdBit(0); b < holdBit(len(holdKinds)*len(holdReasons)); b++ {
		was, is := from&(1<<b) != 0, to&(1<<b) != 0
		if was == is {
			continue
		}
		kind, reason := b.labels()
		if is {
			gateHeldPods.WithLabelValues(kind, reason).Inc()
		} else {
			gateHeldPods.WithLabelValues(kind, reason).Dec()
		}
	}
}
