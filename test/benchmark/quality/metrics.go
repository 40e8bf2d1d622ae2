package quality

import (
	"fmt"
	"math"
	"sort"

	corev1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/snug-sched/snug/pkg/resourcemodel"
	"github.com/snug-sched/snug/pkg/stranding"
	"github.com/snug-sched/snug/pkg/workload"
)

// Resource indices of Vec3 and of the stranding layout.
const (
	CPU = iota // millicores
	Mem        // bytes
	GPU        // nvidia.com/gpu
)

// ResourceNames in Vec3 order.
var ResourceNames = [3]corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, workload.GPUResource}

// Vec3 is a (cpu millicores, memory bytes, GPUs) vector.
type Vec3 [3]float64

// PodVec returns a pod's requests.
func PodVec(pod *corev1.Pod) Vec3 {
	r := resourcemodel.Requests(pod)
	var v Vec3
	for i, n := range ResourceNames {
		v[i] = float64(resourcemodel.Value(n, r))
	}
	return v
}

// NodeVecs returns a node's allocatable and requested vectors and its
// allocatable and used pod slots.
func NodeVecs(ni fwk.NodeInfo) (alloc, used Vec3, slots, pods int) {
	a, u := ni.GetAllocatable(), ni.GetRequested()
	alloc = Vec3{float64(a.GetMilliCPU()), float64(a.GetMemory()), float64(a.GetScalarResources()[workload.GPUResource])}
	used = Vec3{float64(u.GetMilliCPU()), float64(u.GetMemory()), float64(u.GetScalarResources()[workload.GPUResource])}
	return alloc, used, int(a.GetAllowedPodNumber()), len(ni.GetPods())
}

// ShapeCount is a distinct request vector of the trace and its frequency.
type ShapeCount struct {
	V Vec3
	N int
}

// Model is the stranding model of a run: the layout (cpu, memory,
// nvidia.com/gpu, weight 1 each) and the trace's most frequent shapes.
type Model struct {
	Layout stranding.Layout
	Shapes stranding.Shapes
	// List are the shapes in the model, most frequent first; Covered is the
	// number of pods whose vector is one of them, out of Pods.
	List          []ShapeCount
	Covered, Pods int
	Distinct      int
	gpuShapes     []Vec3
}

// NewModel builds the model from a pod list: its most frequent distinct
// request vectors, up to max (at most stranding.MaxShapes), ties broken by
// the vector, so the model is deterministic.
func NewModel(pods []*corev1.Pod, max int) *Model {
	max = min(max, stranding.MaxShapes)
	m := &Model{Layout: stranding.NewLayout(), Pods: len(pods)}
	for _, n := range ResourceNames {
		m.Layout.Add(n, 1, false)
	}
	counts := map[Vec3]int{}
	for _, p := range pods {
		counts[PodVec(p)]++
	}
	m.Distinct = len(counts)
	all := make([]ShapeCount, 0, len(counts))
	for v, n := range counts {
		all = append(all, ShapeCount{v, n})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].N != all[j].N {
			return all[i].N > all[j].N
		}
		for k := range all[i].V {
			if all[i].V[k] != all[j].V[k] {
				return all[i].V[k] < all[j].V[k]
			}
		}
		return false
	})
	for _, s := range all {
		if len(m.List) == max {
			break
		}
		if s.V == (Vec3{}) {
			continue // requests nothing: cannot use (or strand) anything
		}
		m.List = append(m.List, s)
		m.Covered += s.N
		var v stranding.Vec
		copy(v[:3], s.V[:])
		m.Shapes.Add(&m.Layout, v)
		if s.V[GPU] > 0 {
			m.gpuShapes = append(m.gpuShapes, s.V)
		}
	}
	return m
}

// NodeMetrics of one node's free vector.
type NodeMetrics struct {
	Free, Stranded Vec3
	// FragGPU is the node's free GPUs when no GPU-requesting shape of the
	// model fits in its free vector (ATC'23-style GPU fragmentation), else 0.
	FragGPU float64
}

// Eval returns the stranded capacity and GPU fragmentation of a node with
// allocatable alloc and requested used.
func (m *Model) Eval(alloc, used Vec3) NodeMetrics {
	var out NodeMetrics
	var free stranding.Vec
	for i := range alloc {
		out.Free[i] = math.Max(0, alloc[i]-used[i])
		free[i] = out.Free[i]
	}
	s := stranding.Stranded(&m.Layout, &m.Shapes, &free)
	copy(out.Stranded[:], s[:3])
	if out.Free[GPU] > 0 {
		fits := false
		for _, v := range m.gpuShapes {
			if v[CPU] <= out.Free[CPU] && v[Mem] <= out.Free[Mem] && v[GPU] <= out.Free[GPU] {
				fits = true
				break
			}
		}
		if !fits {
			out.FragGPU = out.Free[GPU]
		}
	}
	return out
}

// Cluster is the state of the whole cluster at one point: totals in
// (cpu millicores, memory bytes, GPUs).
type Cluster struct {
	Allocatable, Requested, Free, Stranded Vec3
	FragGPU                                float64
}

// Allocation returns requested/allocatable of resource i.
func (c Cluster) Allocation(i int) float64 {
	if c.Allocatable[i] == 0 {
		return 0
	}
	return c.Requested[i] / c.Allocatable[i]
}

// Measure sums the model's metrics over nodes.
func (m *Model) Measure(nodes []fwk.NodeInfo) Cluster {
	var c Cluster
	for _, ni := range nodes {
		alloc, used, _, _ := NodeVecs(ni)
		nm := m.Eval(alloc, used)
		for i := range alloc {
			c.Allocatable[i] += alloc[i]
			c.Requested[i] += used[i]
			c.Free[i] += nm.Free[i]
			c.Stranded[i] += nm.Stranded[i]
		}
		c.FragGPU += nm.FragGPU
	}
	return c
}

// NodeClass groups nodes of one shape for breakdowns.
type NodeClass struct {
	// Key is "96c/384Gi/8 G2" style: cores, memory GiB, GPUs, model.
	Key   string
	Nodes int
	Cluster
	// Empty is the number of nodes without pods.
	Empty int
}

// Breakdown returns the model's metrics per node class, in order of
// decreasing stranded GPUs then key.
func (m *Model) Breakdown(nodes []fwk.NodeInfo) []NodeClass {
	byKey := map[string]*NodeClass{}
	for _, ni := range nodes {
		alloc, used, _, pods := NodeVecs(ni)
		key := fmt.Sprintf("%gc/%gGi/%g", alloc[CPU]/1000, alloc[Mem]/(1<<30), alloc[GPU])
		if model := ni.Node().Labels[workload.LabelGPUModel]; model != "" {
			key += " " + model
		}
		nc := byKey[key]
		if nc == nil {
			nc = &NodeClass{Key: key}
			byKey[key] = nc
		}
		nc.Nodes++
		if pods == 0 {
			nc.Empty++
		}
		nm := m.Eval(alloc, used)
		for i := range alloc {
			nc.Allocatable[i] += alloc[i]
			nc.Requested[i] += used[i]
			nc.Free[i] += nm.Free[i]
			nc.Stranded[i] += nm.Stranded[i]
		}
		nc.FragGPU += nm.FragGPU
	}
	out := make([]NodeClass, 0, len(byKey))
	for _, nc := range byKey {
		out = append(out, *nc)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Stranded[GPU] != out[j].Stranded[GPU] {
			return out[i].Stranded[GPU] > out[j].Stranded[GPU]
		}
		return out[i].Key < out[j].Key
	})
	return out
}
