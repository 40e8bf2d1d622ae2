package predictabledemands

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/features"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/names"

	"github.com/snug-sched/snug/pkg/resourcemodel"
)

// The room check: a pod that no node has room for, by the declared requests
// NodeResourcesFit compares (cpu, memory, one pod slot), is rejected in
// PreFilter, before a Filter pass over every node that can only fail. The
// check is a necessary condition of NodeResourcesFit's own: for every node,
// some requested resource exceeds allocatable minus requested, or the node
// has no pod slot left (nominated pods, which only take room, are left
// out), so it never rejects a pod some node would admit, and it runs only in
// profiles whose filters include NodeResourcesFit.
//
// The status is the one NodeResourcesFit's Filter would give every node,
// because preemption reads it: a request above a node's whole allocatable
// is UnschedulableAndUnresolvable (no victims can help there, and
// preemption skips the node), a request above what is free is Unschedulable
// (the framework still runs the other PreFilter plugins,
// kubernetes/kubernetes#119770, and preemption considers every node,
// exactly as after a failed pass; a preemptor in a full cluster is the
// common case). One PreFilter status covers all nodes, so when the nodes
// would differ, including by a request other than cpu and memory above a
// node's allocatable (a GPU pod and CPU-only nodes), the check passes the
// pod on to Filter, which judges each. Other filters' unresolvable nodes
// (taints, node affinity) are not known here: preemption dry-runs them in
// vain after this rejection, where after a Filter pass it would skip them.
//
// Cost: O(nodes) only for a pod that fits nowhere; a pod that fits stops at
// the first node with room, and the scan starts where the last one found
// room, so in a packed cluster it does not walk the full nodes every cycle.
type roomCheck struct {
	once      sync.Once
	enabled   bool
	podLevel  bool         // PodLevelResources: pod-level requests count, as in NodeResourcesFit
	nextStart atomic.Int64 // index of the last node found with room
}

// fitFilterEnabled reports whether the profile's filters include
// NodeResourcesFit. Plugins are built before the profile's lists are
// complete, so this runs on the first PreFilter; a handle that cannot list
// its plugins (not the framework's) turns the check off.
func fitFilterEnabled(h fwk.Handle) bool {
	lister, ok := h.(interface{ ListPlugins() *schedconfig.Plugins })
	if !ok {
		return false
	}
	ps := lister.ListPlugins()
	return ps != nil && slices.ContainsFunc(ps.Filter.Enabled, func(p schedconfig.Plugin) bool { return p.Name == names.NodeResourcesFit })
}

// init settles, once, whether the check runs and how requests are counted.
func (rc *roomCheck) init(h fwk.Handle) *roomCheck {
	rc.once.Do(func() {
		rc.enabled = fitFilterEnabled(h)
		rc.podLevel = utilfeature.DefaultFeatureGate.Enabled(features.PodLevelResources)
	})
	return rc
}

// noRoomStatus returns the rejection for a pod no node has room for, or nil
// when some node has or when NodeResourcesFit's statuses would differ
// between nodes.
func (pl *Plugin) noRoomStatus(pod *corev1.Pod, nodes []fwk.NodeInfo) *fwk.Status {
	rc := pl.room.init(pl.handle)
	if !rc.enabled || len(nodes) == 0 {
		return nil
	}
	req := resourcemodel.FitRequests(pod, rc.podLevel)
	cpu, mem := resourcemodel.Value(corev1.ResourceCPU, req), resourcemodel.Value(corev1.ResourceMemory, req)
	start := int(rc.nextStart.Load())
	if start >= len(nodes) {
		start = 0
	}
	tooSmall := 0       // nodes whose whole allocatable is below the cpu or memory request
	otherSmall := false // a node whose allocatable is below another request
	for i := range nodes {
		k := (start + i) % len(nodes)
		ni := nodes[k]
		if hasRoom(ni, cpu, mem) {
			rc.nextStart.Store(int64(k))
			return nil
		}
		if tooSmallFor(ni, cpu, mem) {
			tooSmall++
		} else if !otherSmall {
			otherSmall = otherTooSmall(ni, req)
		}
	}
	switch {
	case tooSmall == len(nodes):
		return fwk.NewStatus(fwk.UnschedulableAndUnresolvable, noRoomMessage(nodes, cpu, mem))
	case tooSmall == 0 && !otherSmall:
		return fwk.NewStatus(fwk.Unschedulable, noRoomMessage(nodes, cpu, mem))
	}
	// NodeResourcesFit would mark some nodes unresolvable and others not,
	// and preemption must skip the former (a GPU pod must not be dry-run on
	// every CPU-only node): Filter judges each.
	return nil
}

// otherTooSmall reports whether the node's whole allocatable is below one of
// the pod's requests other than cpu and memory, which NodeResourcesFit
// would call unresolvable (unless its args ignore the resource; counting
// such a node here only sends the pod on to Filter).
func otherTooSmall(ni fwk.NodeInfo, req corev1.ResourceList) bool {
	a := ni.GetAllocatable()
	for name, q := range req {
		switch name {
		case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods:
			continue
		case corev1.ResourceEphemeralStorage:
			if q.Value() > a.GetEphemeralStorage() {
				return true
			}
		default:
			if q.Value() > a.GetScalarResources()[name] {
				return true
			}
		}
	}
	return false
}

// tooSmallFor is NodeResourcesFit's Unresolvable: a request above the
// node's whole allocatable.
func tooSmallFor(ni fwk.NodeInfo, cpu, mem int64) bool {
	if ni.Node() == nil {
		return true
	}
	a := ni.GetAllocatable()
	return cpu > a.GetMilliCPU() || mem > a.GetMemory()
}

// hasRoom is NodeResourcesFit's test for cpu, memory and pod count.
func hasRoom(ni fwk.NodeInfo, cpu, mem int64) bool {
	if ni.Node() == nil {
		return false
	}
	a, r := ni.GetAllocatable(), ni.GetRequested()
	if len(ni.GetPods())+1 > a.GetAllowedPodNumber() {
		return false
	}
	if cpu > 0 && cpu > a.GetMilliCPU()-r.GetMilliCPU() {
		return false
	}
	return mem <= 0 || mem <= a.GetMemory()-r.GetMemory()
}

// noRoomMessage names what no node has, in NodeResourcesFit's words
// ("Insufficient cpu", "Too many pods") so that people and tools reading
// the pod's FailedScheduling event see the familiar reasons; when each
// resource is free somewhere but never together, it says so.
func noRoomMessage(nodes []fwk.NodeInfo, cpu, mem int64) string {
	var maxCPU, maxMem int64 = math.MinInt64, math.MinInt64
	slot := false
	for _, ni := range nodes {
		if ni.Node() == nil {
			continue
		}
		a, r := ni.GetAllocatable(), ni.GetRequested()
		maxCPU, maxMem = max(maxCPU, a.GetMilliCPU()-r.GetMilliCPU()), max(maxMem, a.GetMemory()-r.GetMemory())
		slot = slot || len(ni.GetPods())+1 <= a.GetAllowedPodNumber()
	}
	var reasons []string
	if !slot {
		reasons = append(reasons, "Too many pods")
	}
	if cpu > 0 && cpu > maxCPU {
		reasons = append(reasons, "Insufficient cpu")
	}
	if mem > 0 && mem > maxMem {
		reasons = append(reasons, "Insufficient memory")
	}
	why := strings.Join(reasons, ", ")
	if why == "" {
		why = "no node has the requested cpu, memory and a pod slot free together"
	}
	return fmt.Sprintf("%s (room check: requests cpu %dm, memory %d bytes)", why, cpu, mem)
}
