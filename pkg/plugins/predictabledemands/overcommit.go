package predictabledemands

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/component-base/metrics"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/snug-sched/snug/pkg/resourcemodel"
)

// maxCaps bounds the capped resources so vectors are fixed-size arrays.
const maxCaps = 8

const stateKey fwk.StateKey = Name + "/prefilter"

type capSpec struct {
	resource corev1.ResourceName
	ratio    exactRatio
	reason   string
	// rejected counts this cap's Filter rejections (resolved once: Filter
	// must not hash labels per node).
	rejected metrics.CounterMetric
}

// exactRatio is a ratio num/den taken exactly from its decimal Quantity, so
// that x == ratio*y is never rejected by float rounding (1.16*100 is
// 115.99999999999999 in float64). den == 0 means the ratio does not fit and
// approx is used instead.
type exactRatio struct {
	num, den uint64
	approx   float64
}

func newExactRatio(q resource.Quantity) exactRatio {
	r := exactRatio{approx: q.AsApproximateFloat64()}
	d := q.AsDec() // q is a copy
	u := d.UnscaledBig()
	if u.Sign() < 0 || !u.IsUint64() {
		return r
	}
	num, den := u.Uint64(), uint64(1)
	for s := d.Scale(); s > 0; s-- {
		if den > math.MaxUint64/10 {
			return r
		}
		den *= 10
	}
	for s := d.Scale(); s < 0; s++ {
		if num > math.MaxUint64/10 {
			return r
		}
		num *= 10
	}
	r.num, r.den = num, den
	return r
}

// exceeds reports whether x > ratio*y, exactly for x, y >= 0.
func (r exactRatio) exceeds(x, y int64) bool {
	if r.den == 0 || x < 0 || y < 0 {
		return float64(x) > r.approx*float64(y)
	}
	// x*den > num*y in 128 bits.
	xh, xl := bits.Mul64(uint64(x), r.den)
	yh, yl := bits.Mul64(r.num, uint64(y))
	return xh > yh || (xh == yh && xl > yl)
}

// preFilterState holds the incoming pod's bounded limits per cap.
type preFilterState struct {
	pod [maxCaps]int64
	// capped: a cap has refused a node to the pod in this cycle, and the
	// verdict says so (recorded once, not per node).
	capped atomic.Bool
}

func (s *preFilterState) Clone() fwk.StateData { return s }

func (pl *Plugin) podLimits(pod *corev1.Pod, out *[maxCaps]int64) {
	l := resourcemodel.BoundedLimits(pod)
	for i, c := range pl.caps {
		out[i] = resourcemodel.Value(c.resource, l)
	}
}

// limitCache keeps the sum of a node's pods' bounded limits per NodeInfo
// generation. The scheduler draws generations from one global counter and
// bumps a NodeInfo's on every pod or node change, while clones (snapshots,
// preemption dry runs) keep it: equal generations mean equal pods. So the
// generation alone is the key, and the cache is a direct-mapped table of
// atomic pointers: Filter does one load, no hashing and no lock (a map
// keyed by node name cost more than the whole check, in cache misses).
// Two live nodes whose generations collide modulo the table size just
// recompute more often; generation 0 (a NodeInfo not built by the
// framework) is never cached.
//
// A miss recomputes the sum from each pod's limits, reused from the node's
// last computed pods (byNode) when the pod object is the same: preemption
// dry runs and nominated pods filter derived NodeInfos (the snapshot's
// minus victims, plus nominated pods), each with a fresh generation, and
// computing every pod's limits anew there made preemption several times
// slower. Derived NodeInfos are not stored: their generations never come
// back, and storing them evicted the snapshot's nodes from the table.
type limitCache struct {
	slots [1 << limitCacheBits]atomic.Pointer[nodeLimits]
	// byNode maps a node name to the *nodePods of its last snapshot
	// NodeInfo: the node's live pods, replaced at its next change. The
	// entry of a deleted node stays until a node of that name returns.
	byNode sync.Map
}

// limitCacheBits sizes the table: 65,536 slots, 512 KiB, comfortably more
// than the nodes of a large cluster.
const limitCacheBits = 16

type nodeLimits struct {
	generation int64
	sum        [maxCaps]int64
}

// nodePods are the bounded limits of each pod of a node, by pod object
// (the scheduler replaces, never mutates, a pod it caches).
type nodePods struct {
	pods []*corev1.Pod
	lims [][maxCaps]int64
}

// find returns the limits of pod, looking first at index hint (pods keep
// their order between generations of a node).
func (n *nodePods) find(pod *corev1.Pod, hint int) (*[maxCaps]int64, bool) {
	if n == nil {
		return nil, false
	}
	if hint < len(n.pods) && n.pods[hint] == pod {
		return &n.lims[hint], true
	}
	for i, p := range n.pods {
		if p == pod {
			return &n.lims[i], true
		}
	}
	return nil, false
}

func newLimitCache() *limitCache { return &limitCache{} }

// nodeSum returns the sum of the bounded limits of ni's pods per cap.
func (pl *Plugin) nodeSum(ni fwk.NodeInfo) [maxCaps]int64 {
	gen := ni.GetGeneration()
	var slot *atomic.Pointer[nodeLimits]
	if gen != 0 {
		slot = pl.limits.slot(gen)
		if cur := slot.Load(); cur != nil && cur.generation == gen {
			return cur.sum
		}
	}
	name := ""
	if node := ni.Node(); node != nil {
		name = node.Name
	}
	var base *nodePods
	if name != "" {
		if v, ok := pl.limits.byNode.Load(name); ok {
			base = v.(*nodePods)
		}
	}
	store := slot != nil && pl.isSnapshotNode(name, gen)
	var fresh *nodePods
	pods := ni.GetPods()
	if store {
		fresh = &nodePods{pods: make([]*corev1.Pod, len(pods)), lims: make([][maxCaps]int64, len(pods))}
	}
	var sum, computed [maxCaps]int64
	for k, pi := range pods {
		pod := pi.GetPod()
		lim, ok := base.find(pod, k)
		if !ok {
			pl.podLimits(pod, &computed)
			lim = &computed
		}
		for i := range pl.caps {
			sum[i] += lim[i]
		}
		if fresh != nil {
			fresh.pods[k], fresh.lims[k] = pod, *lim
		}
	}
	if store {
		slot.Store(&nodeLimits{generation: gen, sum: sum})
		if name != "" {
			pl.limits.byNode.Store(name, fresh)
		}
	}
	return sum
}

func (c *limitCache) slot(gen int64) *atomic.Pointer[nodeLimits] {
	return &c.slots[uint64(gen)&(1<<limitCacheBits-1)]
}

// cached reports whether generation gen has an entry.
func (c *limitCache) cached(gen int64) bool {
	cur := c.slot(gen).Load()
	return cur != nil && cur.generation == gen
}

// isSnapshotNode reports whether a NodeInfo of generation gen is the
// cycle's snapshot of node name rather than a copy derived from it. Without
// a snapshot (tests, tools) every NodeInfo counts as one.
func (pl *Plugin) isSnapshotNode(name string, gen int64) bool {
	if pl.handle == nil || name == "" {
		return true
	}
	lister := pl.handle.SnapshotSharedLister()
	if lister == nil {
		return true
	}
	snap, err := lister.NodeInfos().Get(name)
	return err != nil || snap.GetGeneration() == gen
}

// Filter rejects a node whose limits, with the pod's, would exceed a cap.
func (pl *Plugin) Filter(ctx context.Context, cs fwk.CycleState, pod *corev1.Pod, ni fwk.NodeInfo) *fwk.Status {
	d, err := cs.Read(stateKey)
	if err != nil {
		return fwk.AsStatus(fmt.Errorf("reading %q from cycle state: %w", stateKey, err))
	}
	s := d.(*preFilterState)
	if s.pod == ([maxCaps]int64{}) {
		// Adds nothing to any cap; without caps this is the state the room
		// check leaves for preemption's dry run, which calls Filter per node.
		return nil
	}
	sum := pl.nodeSum(ni)
	alloc := ni.GetAllocatable()
	for i, c := range pl.caps {
		if s.pod[i] == 0 {
			continue
		}
		if a := allocatable(alloc, c.resource); c.ratio.exceeds(sum[i]+s.pod[i], a) {
			if c.rejected != nil {
				c.rejected.Inc()
			}
			if !s.capped.Load() && s.capped.CompareAndSwap(false, true) {
				pl.verdicts.add(pod.UID, byCaps)
			}
			// The pod alone exceeds the cap here: no eviction or deletion of
			// other pods helps, so preemption skips the node and pod events
			// do not requeue it (as NodeResourcesFit does for requests).
			if c.ratio.exceeds(s.pod[i], a) {
				return fwk.NewStatus(fwk.UnschedulableAndUnresolvable, c.reason)
			}
			return fwk.NewStatus(fwk.Unschedulable, c.reason)
		}
	}
	return nil
}

func allocatable(r fwk.Resource, name corev1.ResourceName) int64 {
	switch name {
	case corev1.ResourceCPU:
		return r.GetMilliCPU()
	case corev1.ResourceMemory:
		return r.GetMemory()
	case corev1.ResourceEphemeralStorage:
		return r.GetEphemeralStorage()
	case corev1.ResourcePods:
		return int64(r.GetAllowedPodNumber())
	}
	return r.GetScalarResources()[name]
}
