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

// ShapeModels are the stranding models of one layout, one per set of
// shapes a node accepts: a node is judged against the shapes whose pods
// may run on it, each set normalised on its own. Without constrained
// shapes every node gets the same model and nothing is matched.
type ShapeModels struct {
	layout  *stranding.Layout
	shapes  []Shape
	weights []float64
	// distinct constraints and, per shape (at most stranding.MaxShapes),
	// the index of its constraint among them, -1 for none.
	distinct []*Constraint
	of       []int
	all      *stranding.Shapes
	byMask   map[uint64]*stranding.Shapes
}

// NewShapeModels prepares the models of shapes (with their weights and
// constraints, nil for none) in layout l, which must outlive them.
func NewShapeModels(l *stranding.Layout, shapes []Shape, weights []float64, constraints []*Constraint) *ShapeModels {
	n := min(len(shapes), stranding.MaxShapes)
	m := &ShapeModels{layout: l, shapes: shapes[:n], weights: weights[:n], of: make([]int, n)}
	index := map[string]int{}
	for k := range m.of {
		m.of[k] = -1
		if k >= len(constraints) || constraints[k] == nil {
			continue
		}
		i, ok := index[constraints[k].key]
		if !ok {
			i = len(m.distinct)
			index[constraints[k].key] = i
			m.distinct = append(m.distinct, constraints[k])
		}
		m.of[k] = i
	}
	all := ModelOf(l, m.shapes, m.weights)
	m.all = &all
	if len(m.distinct) > 0 {
		m.byMask = map[uint64]*stranding.Shapes{}
	}
	return m
}

// Constrained reports whether some shape requires particular nodes.
func (m *ShapeModels) Constrained() bool { return len(m.distinct) > 0 }

// For returns the model of node: the shapes it accepts. The result is
// shared by nodes that accept the same shapes and must not be modified
// but by stranding.NewPlan's normalisation. A nil node gets every shape.
func (m *ShapeModels) For(node *corev1.Node) *stranding.Shapes {
	if len(m.distinct) == 0 || node == nil {
		return m.all
	}
	var admitted uint64 // per distinct constraint
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
		return s
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
	return &s
}
