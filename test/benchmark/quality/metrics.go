package quality

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

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

// ShapeCount is a distinct request vector of the trace with the GPU models
// its pods accept, and its frequency.
type ShapeCount struct {
	V Vec3
	// Models are the GPU models the shape's pods accept
	// (workload.GPUModels: nil accepts any node, an empty non-nil slice none).
	Models []string `json:",omitempty"`
	N      int
}

// Model is the stranding model of a run: the layout (cpu, memory,
// nvidia.com/gpu, weight 1 each) and the trace's most frequent shapes, a
// shape being a request vector with the set of GPU models its pods accept.
// A node is judged only by the shapes that accept its GPU model (label
// workload.LabelGPUModel): unconstrained shapes accept every node, and a
// node without the label accepts only unconstrained shapes.
type Model struct {
	Layout stranding.Layout
	// List are the shapes in the model, most frequent first: for each GPU
	// model, the Max most frequent shapes that accept it, and the Max most
	// frequent unconstrained shapes (the only ones on a list without
	// GPU-model constraints). Covered is the number of pods whose (vector,
	// accepted models) is one of them, out of Pods; Distinct is the number
	// of distinct (vector, accepted models).
	List          []ShapeCount
	Covered, Pods int
	Distinct      int
	// Max is the number of shapes a node is judged by, at most.
	Max int
	// Constrained is the number of shapes in List whose pods accept only
	// some GPU models.
	Constrained int
	// demanded marks the resources some shape of List requests.
	demanded [3]bool
	// base judges nodes whose GPU model no constrained shape accepts (and
	// nodes without a model): the unconstrained shapes only. byModel holds
	// the shapes of every GPU model some constrained shape accepts. Both
	// are built once by NewModel and only read afterwards, so a model can
	// be shared by concurrent runs.
	base    *nodeShapes
	byModel map[string]*nodeShapes
}

// nodeShapes are the shapes of the model that accept one GPU model.
type nodeShapes struct {
	shapes    stranding.Shapes
	gpuShapes []Vec3
}

// shapeKey identifies a shape: request vector and accepted models.
type shapeKey struct {
	v Vec3
	// constrained is false for pods that accept any node; models are then
	// "". Otherwise models are the accepted models joined by "|".
	constrained bool
	models      string
}

func keyOf(p *corev1.Pod) (shapeKey, []string) {
	ms := workload.GPUModels(p)
	if ms == nil {
		return shapeKey{v: PodVec(p)}, nil
	}
	return shapeKey{v: PodVec(p), constrained: true, models: strings.Join(ms, "|")}, ms
}

// NewModel builds the model from a pod list: its distinct (request vector,
// accepted GPU models), most frequent first, ties broken by the vector,
// then unconstrained before constrained, then the models, so the model is
// deterministic. A node of GPU model L is judged by the max (at most
// stranding.MaxShapes) most frequent shapes that accept L, a node of
// another model or none by the max most frequent unconstrained shapes. On
// a list without GPU-model constraints that is one set for every node: the
// max most frequent distinct request vectors.
func NewModel(pods []*corev1.Pod, max int) *Model {
	max = min(max, stranding.MaxShapes)
	m := &Model{Layout: stranding.NewLayout(), Pods: len(pods), Max: max}
	for _, n := range ResourceNames {
		m.Layout.Add(n, 1, false)
	}
	type entry struct {
		key    shapeKey
		models []string
		n      int
	}
	counts := map[shapeKey]*entry{}
	for _, p := range pods {
		k, ms := keyOf(p)
		e := counts[k]
		if e == nil {
			e = &entry{key: k, models: ms}
			counts[k] = e
		}
		e.n++
	}
	m.Distinct = len(counts)
	all := make([]*entry, 0, len(counts))
	for _, e := range counts {
		if e.key.v != (Vec3{}) { // requests nothing: cannot use (or strand) anything
			all = append(all, e)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.n != b.n {
			return a.n > b.n
		}
		for k := range a.key.v {
			if a.key.v[k] != b.key.v[k] {
				return a.key.v[k] < b.key.v[k]
			}
		}
		if a.key.constrained != b.key.constrained {
			return !a.key.constrained
		}
		return a.key.models < b.key.models
	})
	// The shapes of one node set: the first max of all that accept it.
	inList := make([]bool, len(all))
	pick := func(accepts func(*entry) bool) *nodeShapes {
		ns := &nodeShapes{}
		for i, e := range all {
			if ns.shapes.N == max {
				break
			}
			if !accepts(e) {
				continue
			}
			inList[i] = true
			ns.shapes.Add(&m.Layout, stranding.Vec{e.key.v[0], e.key.v[1], e.key.v[2]})
			if e.key.v[GPU] > 0 {
				ns.gpuShapes = append(ns.gpuShapes, e.key.v)
			}
		}
		return ns
	}
	m.base = pick(func(e *entry) bool { return !e.key.constrained })
	m.byModel = map[string]*nodeShapes{}
	for _, e := range all {
		for _, model := range e.models {
			if m.byModel[model] == nil && model != "" {
				m.byModel[model] = pick(func(e *entry) bool { return !e.key.constrained || slices.Contains(e.models, model) })
			}
		}
	}
	for i, e := range all {
		if !inList[i] {
			continue
		}
		m.List = append(m.List, ShapeCount{V: e.key.v, Models: e.models, N: e.n})
		m.Covered += e.n
		if e.key.constrained {
			m.Constrained++
		}
		for k := range m.demanded {
			m.demanded[k] = m.demanded[k] || e.key.v[k] > 0
		}
	}
	return m
}

// forModel returns the shapes that accept a node of GPU model gpuModel
// ("": a node without the label).
func (m *Model) forModel(gpuModel string) *nodeShapes {
	if ns := m.byModel[gpuModel]; ns != nil {
		return ns
	}
	return m.base
}

// NodeMetrics of one node's free vector.
type NodeMetrics struct {
	Free, Stranded Vec3
	// FragGPU is the node's free GPUs when no GPU-requesting shape of the
	// model that accepts the node fits in its free vector (ATC'23-style GPU
	// fragmentation), else 0.
	FragGPU float64
}

// Eval returns the stranded capacity and GPU fragmentation of a node of GPU
// model gpuModel (its workload.LabelGPUModel label, "" if none) with
// allocatable alloc and requested used, judged by the shapes that accept
// the node. A resource some shape of the model requests but none of those
// that accept the node does is stranded entirely.
func (m *Model) Eval(gpuModel string, alloc, used Vec3) NodeMetrics {
	ns := m.forModel(gpuModel)
	var out NodeMetrics
	var free stranding.Vec
	for i := range alloc {
		out.Free[i] = math.Max(0, alloc[i]-used[i])
		free[i] = out.Free[i]
	}
	s := stranding.Stranded(&m.Layout, &ns.shapes, &free)
	copy(out.Stranded[:], s[:3])
	for i := range out.Stranded {
		if m.demanded[i] && !ns.shapes.Demanded[i] {
			out.Stranded[i] = out.Free[i] // wanted elsewhere, by no shape that may run here
		}
	}
	if out.Free[GPU] > 0 {
		fits := false
		for _, v := range ns.gpuShapes {
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

// EvalNode is Eval of a node's model, allocatable and requested vectors.
func (m *Model) EvalNode(ni fwk.NodeInfo) NodeMetrics {
	alloc, used, _, _ := NodeVecs(ni)
	return m.Eval(NodeGPUModel(ni.Node()), alloc, used)
}

// NodeGPUModel is a node's workload.LabelGPUModel label ("" if none).
func NodeGPUModel(n *corev1.Node) string {
	if n == nil {
		return ""
	}
	return n.Labels[workload.LabelGPUModel]
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
		nm := m.Eval(NodeGPUModel(ni.Node()), alloc, used)
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
		model := NodeGPUModel(ni.Node())
		if model != "" {
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
		nm := m.Eval(model, alloc, used)
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
