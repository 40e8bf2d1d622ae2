package predictabledemands

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/snug-sched/snug/pkg/resourcemodel"
)

// maxCaps bounds the capped resources so vectors are fixed-size arrays.
const maxCaps = 8

const stateKey fwk.StateKey = Name + "/prefilter"

type capSpec struct {
	resource corev1.ResourceName
	ratio    float64
	reason   string
}

// preFilterState holds the incoming pod's bounded limits per cap.
type preFilterState struct {
	pod [maxCaps]int64
}

func (s *preFilterState) Clone() fwk.StateData { return s }

func (pl *Plugin) podLimits(pod *corev1.Pod, out *[maxCaps]int64) {
	l := resourcemodel.BoundedLimits(pod)
	for i, c := range pl.caps {
		out[i] = resourcemodel.Value(c.resource, l)
	}
}

// limitCache keeps, per node, the sum of its pods' bounded limits for the
// NodeInfo generation it was computed from. Filter reads it in O(caps) and
// without allocating; a node whose pods changed (new generation, including
// preemption dry runs on cloned NodeInfos) is recomputed once.
type limitCache struct {
	nodes sync.Map // node name -> *atomic.Pointer[nodeLimits]
}

type nodeLimits struct {
	generation int64
	sum        [maxCaps]int64
}

func newLimitCache() *limitCache { return &limitCache{} }

func (pl *Plugin) nodeSum(ni fwk.NodeInfo) *[maxCaps]int64 {
	name := ni.Node().Name
	v, ok := pl.limits.nodes.Load(name)
	if !ok {
		v, _ = pl.limits.nodes.LoadOrStore(name, &atomic.Pointer[nodeLimits]{})
	}
	ptr := v.(*atomic.Pointer[nodeLimits])
	if cur := ptr.Load(); cur != nil && cur.generation == ni.GetGeneration() {
		return &cur.sum
	}
	n := &nodeLimits{generation: ni.GetGeneration()}
	var podSum [maxCaps]int64
	for _, p := range ni.GetPods() {
		pl.podLimits(p.GetPod(), &podSum)
		for i := range pl.caps {
			n.sum[i] += podSum[i]
		}
	}
	ptr.Store(n)
	return &n.sum
}

// Filter rejects a node whose limits, with the pod's, would exceed a cap.
func (pl *Plugin) Filter(ctx context.Context, cs fwk.CycleState, pod *corev1.Pod, ni fwk.NodeInfo) *fwk.Status {
	d, err := cs.Read(stateKey)
	if err != nil {
		return fwk.AsStatus(fmt.Errorf("reading %q from cycle state: %w", stateKey, err))
	}
	s := d.(*preFilterState)
	sum := pl.nodeSum(ni)
	alloc := ni.GetAllocatable()
	for i, c := range pl.caps {
		if s.pod[i] == 0 {
			continue
		}
		if float64(sum[i]+s.pod[i]) > c.ratio*float64(allocatable(alloc, c.resource)) {
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
