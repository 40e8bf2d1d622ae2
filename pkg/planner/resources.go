package planner

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	v1helper "k8s.io/kubernetes/pkg/apis/core/v1/helper"

	"github.com/snug-sched/snug/pkg/resourcemodel"
	"github.com/snug-sched/snug/pkg/stranding"
)

// GPU is the extended resource the report always names after cpu and memory
// when present.
const GPU corev1.ResourceName = "nvidia.com/gpu"

// dims are the resource dimensions of one planning run: the reported
// resources (cpu, memory, then every other resource some pod requests or,
// for extended resources, some node offers), followed by the pod count.
type dims struct {
	names    []corev1.ResourceName // reported resources, then corev1.ResourcePods last
	reported int                   // names[:reported] are reported
}

// vec is a resource vector in a run's dims, in scheduler units (millicores
// for cpu, bytes or counts otherwise).
type vec []int64

func (d *dims) podsDim() int { return len(d.names) - 1 }

// newDims picks the dimensions of a run from the nodes (every node list the
// run uses) and pods.
func newDims(pods []*corev1.Pod, nodeLists ...[]*corev1.Node) *dims {
	seen := map[corev1.ResourceName]bool{}
	for _, p := range pods {
		for name, q := range resourcemodel.Requests(p) {
			if !q.IsZero() {
				seen[name] = true
			}
		}
	}
	for _, nodes := range nodeLists {
		for _, n := range nodes {
			for name, q := range n.Status.Allocatable {
				if !q.IsZero() && v1helper.IsExtendedResourceName(name) {
					seen[name] = true
				}
			}
		}
	}
	d := &dims{names: []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory}}
	var rest []corev1.ResourceName
	for name := range seen {
		switch name {
		case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods, GPU:
		default:
			rest = append(rest, name)
		}
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i] < rest[j] })
	if seen[GPU] {
		d.names = append(d.names, GPU)
	}
	d.names = append(d.names, rest...)
	d.reported = len(d.names)
	d.names = append(d.names, corev1.ResourcePods)
	return d
}

// podVec is a pod's effective requests (resourcemodel.Requests), one pod slot.
func (d *dims) podVec(p *corev1.Pod) vec {
	req := resourcemodel.Requests(p)
	v := make(vec, len(d.names))
	for i, name := range d.names[:d.reported] {
		v[i] = resourcemodel.Value(name, req)
	}
	v[d.podsDim()] = 1
	return v
}

// nodeVec is a node's allocatable.
func (d *dims) nodeVec(n *corev1.Node) vec {
	v := make(vec, len(d.names))
	for i, name := range d.names {
		v[i] = resourcemodel.Value(name, n.Status.Allocatable)
	}
	return v
}

func (v vec) add(w vec, sign int64) {
	for i := range v {
		v[i] += sign * w[i]
	}
}

func (v vec) key() string {
	var b strings.Builder
	for _, x := range v {
		b.WriteString(strconv.FormatInt(x, 10))
		b.WriteByte(',')
	}
	return b.String()
}

// shapeModel is the stranding model of a run: the layout of its dims and the
// workload's most frequent distinct request vectors as shapes.
type shapeModel struct {
	layout stranding.Layout
	shapes stranding.Shapes
	// dim maps the layout's dimensions to the run's (a layout holds at most
	// stranding.MaxDims; dimensions beyond that are not modelled).
	dim []int
	// count is how many distinct shapes the workload has (may exceed the
	// stranding.MaxShapes used).
	count int
}

func newShapeModel(d *dims, podVecs []vec) *shapeModel {
	m := &shapeModel{layout: stranding.NewLayout()}
	for i, name := range d.names {
		if m.layout.Add(name, 1, false) >= 0 {
			m.dim = append(m.dim, i)
		}
	}
	type shape struct {
		v     vec
		n     int
		first int
	}
	byKey := map[string]*shape{}
	var all []*shape
	for i, v := range podVecs {
		k := v.key()
		if s, ok := byKey[k]; ok {
			s.n++
			continue
		}
		s := &shape{v: v, n: 1, first: i}
		byKey[k] = s
		all = append(all, s)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].n > all[j].n })
	m.count = len(all)
	for _, s := range all {
		if m.shapes.N == stranding.MaxShapes {
			break
		}
		m.shapes.Add(&m.layout, m.toStranding(s.v))
	}
	return m
}

func (m *shapeModel) toStranding(v vec) stranding.Vec {
	var out stranding.Vec
	for li, di := range m.dim {
		out[li] = float64(v[di])
	}
	return out
}

// stranded returns, per run dimension, the free capacity of a node that no
// shape can use (0 for the pod count and unmodelled dimensions).
func (m *shapeModel) stranded(alloc, used vec) vec {
	var free stranding.Vec
	for li, di := range m.dim {
		free[li] = math.Max(0, float64(alloc[di]-used[di]))
	}
	s := stranding.Stranded(&m.layout, &m.shapes, &free)
	out := make(vec, len(alloc))
	for li, di := range m.dim {
		out[di] = int64(math.Round(s[li]))
	}
	return out
}

// percent is 100*a/b, nil when b is 0.
func percent(a, b int64) *float64 {
	if b == 0 {
		return nil
	}
	p := math.Round(1000*float64(a)/float64(b)) / 10
	return &p
}

// formatQuantity renders v (scheduler units of name) for people: cores for
// cpu, binary units for memory and other byte resources, counts otherwise.
func formatQuantity(name corev1.ResourceName, v int64) string {
	switch {
	case name == corev1.ResourceCPU && (v < 100_000 && v > -100_000):
		return strconv.FormatFloat(float64(v)/1000, 'f', -1, 64) // exact below 100 cores: 4.5, 0.25
	case name == corev1.ResourceCPU:
		return strings.TrimSuffix(strconv.FormatFloat(float64(v)/1000, 'f', 1, 64), ".0")
	case isBytes(name):
		return formatBytes(v)
	default:
		return strconv.FormatInt(v, 10)
	}
}

func isBytes(name corev1.ResourceName) bool {
	return name == corev1.ResourceMemory || name == corev1.ResourceEphemeralStorage ||
		strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix)
}

func formatBytes(v int64) string {
	units := []string{"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}
	f := float64(v)
	u := 0
	for math.Abs(f) >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	if u == 0 {
		return strconv.FormatInt(v, 10)
	}
	s := strconv.FormatFloat(f, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	return s + units[u]
}

// unit names the JSON unit of a resource.
func unit(name corev1.ResourceName) string {
	switch {
	case name == corev1.ResourceCPU:
		return "millicores"
	case isBytes(name):
		return "bytes"
	default:
		return "count"
	}
}

func podKey(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

func pctString(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", *p)
}
