package strandingawarepacking

import (
	"encoding/json"
	"math/bits"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"

	"github.com/snug-sched/snug/pkg/stranding"
)

// Constraint is the set of nodes a shape's pods may run on: their
// nodeSelector and required node affinity. Free capacity only pods of a
// constrained shape could use (GPUs of a model that only some pods accept,
// a node pool) is usable on the nodes they accept and stranded on others.
type Constraint struct {
	key      string
	required nodeaffinity.RequiredNodeAffinity
}

// constraintOf returns a pod's node constraint, nil if it accepts every
// node.
func constraintOf(pod *corev1.Pod) *Constraint {
	key := constraintKey(pod)
	if key == "" {
		return nil
	}
	return &Constraint{key: key, required: nodeaffinity.GetRequiredNodeAffinity(pod)}
}

// constraintKey is a canonical text of the pod's nodeSelector and required
// node affinity ("" without either), so pods that require the same nodes
// share a shape bucket. json sorts the selector's keys.
func constraintKey(pod *corev1.Pod) string {
	var terms []corev1.NodeSelectorTerm
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		terms = a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	}
	if len(pod.Spec.NodeSelector) == 0 && len(terms) == 0 {
		return ""
	}
	b, err := json.Marshal(struct {
		S map[string]string         `json:"s,omitempty"`
		T []corev1.NodeSelectorTerm `json:"t,omitempty"`
	}{pod.Spec.NodeSelector, terms})
	if err != nil {
		return "" // cannot happen for these types; judge as unconstrained
	}
	return string(b)
}

// sameConstraint reports whether two versions of a pod require the same
// nodes (a gated pod's node affinity may still change).
func sameConstraint(a, b *corev1.Pod) bool {
	eq := apiequality.Semantic.DeepEqual
	if !eq(a.Spec.NodeSelector, b.Spec.NodeSelector) {
		return false
	}
	var na, nb *corev1.NodeAffinity
	if a.Spec.Affinity != nil {
		na = a.Spec.Affinity.NodeAffinity
	}
	if b.Spec.Affinity != nil {
		nb = b.Spec.Affinity.NodeAffinity
	}
	var ra, rb *corev1.NodeSelector
	if na != nil {
		ra = na.RequiredDuringSchedulingIgnoredDuringExecution
	}
	if nb != nil {
		rb = nb.RequiredDuringSchedulingIgnoredDuringExecution
	}
	return eq(ra, rb)
}

// accepts reports whether the constraint admits node (nil admits all).
// A selector that fails to parse admits none, as the NodeAffinity filter
// then rejects the pod everywhere.
func (c *Constraint) accepts(node *corev1.Node) bool {
	if c == nil {
		return true
	}
	ok, err := c.required.Match(node)
	return ok && err == nil
}

// keyOrEmpty is the constraint's key, "" for nil.
func (c *Constraint) keyOrEmpty() string {
	if c == nil {
		return ""
	}
	return c.key
}

// ShapeModels are the stranding models of one layout, one per set of
// shapes a node accepts: a node is judged against the shapes whose pods
// may run on it, each set normalised on its own. Without constraints
// every node gets the same model and nothing is matched.
type ShapeModels struct {
	layout  *stranding.Layout
	shapes  []Shape
	weights []float64
	// distinct constraints (of the shapes, then of the demand; at most
	// maxConstraints) and, per shape (at most stranding.MaxShapes), the
	// index of its constraint among them, -1 for none.
	distinct []*Constraint
	of       []int
	// demand per distinct constraint, and of all pods: their requests of
	// scarce resources in Scale units (see Reserved).
	demand []float64
	total  float64
	all    *stranding.Shapes
	byMask map[uint64]*stranding.Shapes
}

// maxConstraints bounds the distinct constraints: a node's are a bit mask.
const maxConstraints = 64

// NewShapeModels prepares the models of a learner's shape set in layout l,
// which must outlive them and have its Scale set.
func NewShapeModels(l *stranding.Layout, set ShapeSet) *ShapeModels {
	n := min(len(set.Shapes), stranding.MaxShapes)
	m := &ShapeModels{layout: l, shapes: set.Shapes[:n], weights: set.Weights[:n], of: make([]int, n)}
	index := map[string]int{}
	add := func(c *Constraint) int {
		if i, ok := index[c.key]; ok {
			return i
		}
		if len(m.distinct) == maxConstraints {
			return -1
		}
		index[c.key] = len(m.distinct)
		m.distinct = append(m.distinct, c)
		m.demand = append(m.demand, 0)
		return len(m.distinct) - 1
	}
	for k := range m.of {
		m.of[k] = -1
		if k < len(set.Constraints) && set.Constraints[k] != nil {
			m.of[k] = add(set.Constraints[k])
		}
	}
	for _, d := range set.Demand {
		v := m.scarce(d.Requests)
		m.total += v
		if d.Constraint != nil && v > 0 {
			if i := add(d.Constraint); i >= 0 {
				m.demand[i] += v
			}
		}
	}
	all := ModelOf(l, m.shapes, m.weights)
	m.all = &all
	if len(m.distinct) > 0 {
		m.byMask = map[uint64]*stranding.Shapes{}
	}
	return m
}

// scarce is requests' scarce resources, each in units of the layout's Scale.
func (m *ShapeModels) scarce(requests Shape) float64 {
	l := m.layout
	var v float64
	for _, q := range requests {
		if i := l.Index(q.Name); i >= 0 && l.Scarce[i] && l.Scale[i] > 0 {
			v += float64(q.Value) / l.Scale[i]
		}
	}
	return v
}

// Constrained reports whether some shape or some pod's demand requires
// particular nodes.
func (m *ShapeModels) Constrained() bool { return len(m.distinct) > 0 }

// For returns the model of node: the shapes it accepts. The result is
// shared by nodes that accept the same shapes and must not be modified
// but by stranding.NewPlan's normalisation. A nil node gets every shape.
func (m *ShapeModels) For(node *corev1.Node) *stranding.Shapes {
	_, s := m.variant(node)
	return s
}

// variant returns the constraints node admits, as a mask of indexes into
// the distinct constraints, and the model of the shapes it accepts.
func (m *ShapeModels) variant(node *corev1.Node) (uint64, *stranding.Shapes) {
	if len(m.distinct) == 0 || node == nil {
		return 0, m.all
	}
	var admitted uint64
	for i, c := range m.distinct {
		if c.accepts(node) {
			admitted |= 1 << uint(i)
		}
	}
	var mask uint64 // per shape
	for k, i := range m.of {
		if i < 0 || admitted&(1<<uint(i)) != 0 {
			mask |= 1 << uint(k)
		}
	}
	if s, ok := m.byMask[mask]; ok {
		return admitted, s
	}
	shapes := make([]Shape, 0, bits.OnesCount64(mask))
	weights := make([]float64, 0, cap(shapes))
	for k := range m.of {
		if mask&(1<<uint(k)) != 0 {
			shapes = append(shapes, m.shapes[k])
			weights = append(weights, m.weights[k])
		}
	}
	s := ModelOf(m.layout, shapes, weights)
	m.byMask[mask] = &s
	return admitted, &s
}

// Reserved marks, among groups of nodes that admit the same constraints
// (admitted, from variant), those whose free scarce capacity the pods that
// require particular nodes need: the group's share of their scarce demand
// (a constraint's demand split over the groups that admit it by their free
// capacity) is at least its share of the free scarce capacity, the demand
// of every pod counted. free is each group's free scarce capacity in Scale
// units. A pod that may use several groups then leaves the reserved ones
// to the pods that may use nothing else, as a pod that does not request a
// scarce resource leaves it to those that do.
func (m *ShapeModels) Reserved(admitted []uint64, free []float64) []bool {
	out := make([]bool, len(admitted))
	var freeTotal float64
	for _, f := range free {
		freeTotal += f
	}
	if m.total <= 0 || freeTotal <= 0 {
		return out
	}
	demand := make([]float64, len(admitted))
	for i, d := range m.demand {
		if d == 0 {
			continue
		}
		var room float64
		for g, a := range admitted {
			if a&(1<<uint(i)) != 0 {
				room += free[g]
			}
		}
		if room <= 0 {
			continue
		}
		for g, a := range admitted {
			if a&(1<<uint(i)) != 0 {
				demand[g] += d * free[g] / room
			}
		}
	}
	for g := range admitted {
		out[g] = demand[g] > 0 && demand[g]/m.total >= free[g]/freeTotal
	}
	return out
}
