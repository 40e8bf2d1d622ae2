package strandingawarepacking

import (
	"cmp"
	"encoding/json"
	"iter"
	"math"
	"reflect"
	"slices"
	"sync"
	"unsafe"

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

	// seen caches Match per node name, valid while the node's labels map is
	// the one matched: Match reads only labels and the name, an update
	// that changes labels brings a new map, and matching every node of a
	// large cluster every cycle allocates on each call. Keeping the labels
	// map rather than the node keeps no old node object alive.
	mu   sync.Mutex
	seen map[string]seenNode
}

type seenNode struct {
	labels unsafe.Pointer // the matched node's labels map (nil: none)
	ok     bool
}

// maxSeen bounds a constraint's cache; it starts over when full (names of
// deleted nodes are never looked up again).
const maxSeen = 1 << 15

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
	labels := mapIdentity(node.Labels)
	c.mu.Lock()
	e, hit := c.seen[node.Name]
	c.mu.Unlock()
	if hit && e.labels == labels {
		return e.ok
	}
	m, err := c.required.Match(node)
	ok := m && err == nil
	c.mu.Lock()
	if c.seen == nil || len(c.seen) >= maxSeen {
		c.seen = map[string]seenNode{}
	}
	c.seen[node.Name] = seenNode{labels: labels, ok: ok}
	c.mu.Unlock()
	return ok
}

// mapIdentity is the address of m's map header, nil for a nil map. Holding
// it keeps the map alive, so no other map can take its address meanwhile.
func mapIdentity(m map[string]string) unsafe.Pointer {
	return reflect.ValueOf(m).UnsafePointer()
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
	// The average pod (requests in the layout) per distinct constraint and
	// of all pods, and the share of all pods that require each constraint,
	// 0 when its pods request no scarce resource (see Reservation).
	avg   []stranding.Vec
	share []float64
	// pending pods per distinct constraint (ConstraintDemand.Pending).
	pending []float64
	avgAll  stranding.Vec
	all     *stranding.Shapes
	byMask  map[uint64]*stranding.Shapes
	// members[s] are the indexes, among shapes, of model s's shapes.
	members map[*stranding.Shapes][]int
	// need[k] is the pending demand for the hosts of shape k (hostDemand);
	// nil: none.
	need []float64
	// largest is the cluster's largest allocatable if hostDemand read it,
	// so that buildHosts does not read it again; nil otherwise.
	largest *stranding.Vec
}

// maxConstraints bounds the distinct constraints: a node's are a bit mask.
const maxConstraints = 64

// NewShapeModels prepares the models of a learner's shape set in layout l,
// which must outlive them and have its Scale set, for a cluster of nodes
// (nil: every shape accepted everywhere as far as the choice of shapes goes;
// see byDensity).
func NewShapeModels(l *stranding.Layout, set ShapeSet, nodes iter.Seq[*corev1.Node]) *ShapeModels {
	var largest *stranding.Vec
	set.need, largest = set.hostDemand(l, nodes)
	set = set.byDensity(l, nodes)
	n := min(len(set.Shapes), stranding.MaxShapes)
	m := &ShapeModels{layout: l, shapes: set.Shapes[:n], weights: set.Weights[:n], of: make([]int, n), largest: largest}
	if set.need != nil {
		m.need = set.need[:n]
	}
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
		m.avg, m.share, m.pending = append(m.avg, stranding.Vec{}), append(m.share, 0), append(m.pending, 0)
		return len(m.distinct) - 1
	}
	for k := range m.of {
		m.of[k] = -1
		if k < len(set.Constraints) && set.Constraints[k] != nil {
			m.of[k] = add(set.Constraints[k])
		}
	}
	var pods int
	for _, d := range set.Demand {
		v := shapeVector(l, d.Requests)
		pods += d.Pods
		for j := range v {
			m.avgAll[j] += v[j]
		}
		if d.Constraint == nil || d.Pods <= 0 {
			continue
		}
		i := add(d.Constraint)
		if i < 0 {
			continue
		}
		for j := range v {
			m.avg[i][j] = v[j] / float64(d.Pods)
		}
		m.pending[i] = float64(d.Pending)
		// Only pods that request a scarce resource reserve nodes: a pod
		// pinned to a node by hostname, or to a CPU pool, must not push
		// every other pod off the nodes it may use.
		if scarceShape(l, &m.avg[i]) {
			m.share[i] = float64(d.Pods)
		}
	}
	if pods > 0 {
		for j := range m.avgAll {
			m.avgAll[j] /= float64(pods)
		}
		for i := range m.share {
			m.share[i] /= float64(pods)
		}
	}
	m.members = map[*stranding.Shapes][]int{}
	m.all = m.build(^uint64(0))
	if len(m.distinct) > 0 {
		m.byMask = map[uint64]*stranding.Shapes{}
	}
	return m
}

// byDensity keeps the static shapes and set.Keep of the learned ones,
// chosen by density: a shape whose pods request a scarce resource and may
// run only on some nodes ranks by its pod count times the cluster's nodes
// over the nodes it may use. Its pods arrive only there, so on those nodes
// it is as frequent as that, not as rare as it is among all pods: the large
// pods of a small GPU-model pool are judged on the pool's nodes. The kept
// shapes weigh their pod counts (frequency among the shapes a node accepts);
// a shape no node accepts is dropped. The largest pending shapes
// (ShapeSet.Largest), of any kind, rank first, up to maxLargest of them: an
// 80-core pod needs a node nothing else has broken into as much as an
// 8-GPU pod does.
// Without such shapes (or without nodes) the most frequent learned shapes
// are kept.
func (s ShapeSet) byDensity(l *stranding.Layout, nodes iter.Seq[*corev1.Node]) ShapeSet {
	var dense, largest []int
	for k := s.Static; k < len(s.Shapes); k++ {
		largestK := k < len(s.Largest) && s.Largest[k]
		v := shapeVector(l, s.Shapes[k])
		scarce := scarceShape(l, &v)
		if !largestK && !scarce {
			continue
		}
		switch {
		case largestK && len(largest) < maxLargest(s.Keep):
			largest = append(largest, k)
		case scarce && s.constraint(k) != nil:
			dense = append(dense, k)
		}
	}
	if len(dense)+len(largest) == 0 || nodes == nil {
		return s.mostFrequent()
	}
	// accepting counts, per constraint key, the nodes that accept it.
	var distinct []*Constraint
	for _, k := range slices.Concat(dense, largest) {
		if c := s.constraint(k); c != nil && !slices.ContainsFunc(distinct, func(d *Constraint) bool { return d.key == c.key }) {
			distinct = append(distinct, c)
		}
	}
	accepting := make(map[string]float64, len(distinct))
	var all float64
	for node := range nodes {
		all++
		for _, c := range distinct {
			if c.accepts(node) {
				accepting[c.key]++
			}
		}
	}
	if all == 0 {
		return s.mostFrequent() // no cluster to judge density by
	}
	rank := slices.Clone(s.Weights)
	accepted := func(k int) float64 {
		if c := s.constraint(k); c != nil {
			return accepting[c.key]
		}
		return all
	}
	for _, k := range dense {
		if a := accepted(k); a > 0 {
			rank[k] *= all / a
		} else {
			rank[k] = 0
		}
	}
	for _, k := range largest {
		if accepted(k) > 0 {
			rank[k] = math.Inf(1)
		} else {
			rank[k] = 0
		}
	}
	order := make([]int, 0, len(s.Shapes)-s.Static)
	for k := s.Static; k < len(s.Shapes); k++ {
		if rank[k] > 0 {
			order = append(order, k)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(rank[b], rank[a]) })
	order = order[:min(len(order), s.Keep)]
	return s.take(slices.Concat(firstN(s.Static), order))
}

// take returns the shapes of s at idx, in that order, with everything the
// set holds per shape.
func (s ShapeSet) take(idx []int) ShapeSet {
	out := ShapeSet{Static: s.Static, Keep: s.Keep, Demand: s.Demand}
	for _, k := range idx {
		out.Shapes = append(out.Shapes, s.Shapes[k])
		out.Weights = append(out.Weights, s.Weights[k])
		out.Constraints = append(out.Constraints, s.Constraints[k])
		if s.Pending != nil {
			out.Pending = append(out.Pending, s.Pending[k])
		}
		if s.need != nil {
			out.need = append(out.need, s.need[k])
		}
		if s.Largest != nil {
			out.Largest = append(out.Largest, s.Largest[k])
		}
	}
	return out
}

// firstN is 0, 1, ..., n-1.
func firstN(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// maxLargest is how many of the kept shapes may be largest pending shapes
// (ShapeSet.Largest) that their counts would not keep.
func maxLargest(keep int) int { return max(1, keep/4) }

// mostFrequent keeps the static shapes and the set.Keep most frequent
// learned ones.
func (s ShapeSet) mostFrequent() ShapeSet {
	if keep := s.Static + s.Keep; len(s.Shapes) > keep {
		return s.take(firstN(keep))
	}
	return s
}

// hostDemand returns, per shape, the pending pods that need one of its
// hosts: those of every candidate shape that may run only where it may and
// either requests at least as much of everything (a larger pod pending for
// a GPU model needs the same whole nodes as a smaller one) or, like it,
// needs more than half of some resource of the cluster's largest node: no
// node holds two such pods, so each takes a node that could have hosted the
// shape (a 64-core 8-GPU pod breaks a host of an 80-core CPU pod). nil when
// nothing is pending. nodes are the cluster's (nil: l.Scale is the largest);
// largest is their largest allocatable if it was read, else nil.
func (s ShapeSet) hostDemand(l *stranding.Layout, nodes iter.Seq[*corev1.Node]) (need []float64, largest *stranding.Vec) {
	var vecs []stranding.Vec
	for j, p := range s.Pending {
		if p <= 0 || j >= len(s.Shapes) {
			continue
		}
		if vecs == nil {
			vecs = make([]stranding.Vec, len(s.Shapes))
			for k, sh := range s.Shapes {
				vecs[k] = shapeVector(l, sh)
			}
			need = make([]float64, len(s.Shapes))
		}
		for k := range s.Shapes {
			if !within(s.constraint(j), s.constraint(k)) {
				continue
			}
			if covers(l, &vecs[j], &vecs[k]) {
				need[k] += p
				continue
			}
			// The candidates' largest node is no larger than the
			// cluster's: a pair that needs half of it may need half of
			// the cluster's.
			if exclusive(l, &l.Scale, &vecs[j], &vecs[k]) {
				if largest == nil {
					largest = largestOf(l, nodes)
				}
				if exclusive(l, largest, &vecs[j], &vecs[k]) {
					need[k] += p
				}
			}
		}
	}
	return need, largest
}

// exclusive reports whether a and b both need more than half of some
// resource of a node with allocatable largest: no node holds both.
func exclusive(l *stranding.Layout, largest, a, b *stranding.Vec) bool {
	for i := 0; i < l.N; i++ {
		if needsHalf(l, largest, a, i) && needsHalf(l, largest, b, i) {
			return true
		}
	}
	return false
}

// largestOf is the largest allocatable of nodes per dimension of l, l.Scale
// when nodes is nil.
func largestOf(l *stranding.Layout, nodes iter.Seq[*corev1.Node]) *stranding.Vec {
	if nodes == nil {
		return &l.Scale
	}
	var out stranding.Vec
	for n := range nodes {
		a := listVector(l, n.Status.Allocatable)
		for i := 0; i < l.N; i++ {
			out[i] = max(out[i], a[i])
		}
	}
	return &out
}

// constraint is shape k's constraint, nil for none.
func (s ShapeSet) constraint(k int) *Constraint {
	if k < len(s.Constraints) {
		return s.Constraints[k]
	}
	return nil
}

// covers reports whether a requests at least as much as b of everything.
func covers(l *stranding.Layout, a, b *stranding.Vec) bool {
	for i := 0; i < l.N; i++ {
		if a[i] < b[i] {
			return false
		}
	}
	return true
}

// within reports whether every node that constraint a admits is known to
// admit b: b admits all, or both are the same.
func within(a, b *Constraint) bool {
	return b == nil || (a != nil && a.key == b.key)
}

// build returns the model of the shapes in mask and records its members.
func (m *ShapeModels) build(mask uint64) *stranding.Shapes {
	s := &stranding.Shapes{}
	var members []int
	for k := range m.of {
		if mask&(1<<uint(k)) == 0 {
			continue
		}
		n := s.N
		s.AddWeighted(m.layout, shapeVector(m.layout, m.shapes[k]), m.weights[k])
		if s.N > n { // empty or past MaxShapes: not in the model
			members = append(members, k)
		}
	}
	m.members[s] = members
	return s
}

// constraint is shape k's constraint, nil for none.
func (m *ShapeModels) constraint(k int) *Constraint {
	if i := m.of[k]; i >= 0 {
		return m.distinct[i]
	}
	return nil
}

// hasConstrained reports whether model s has a shape whose pods request a
// scarce resource and require some nodes (a GPU model): a CPU-only shape
// with a node selector does not count.
func (m *ShapeModels) hasConstrained(s *stranding.Shapes) bool {
	for _, k := range m.members[s] {
		if m.of[k] < 0 {
			continue
		}
		if v := shapeVector(m.layout, m.shapes[k]); scarceShape(m.layout, &v) {
			return true
		}
	}
	return false
}

// Members returns, for each shape of model s (from For), its index among
// the shape set's shapes.
func (m *ShapeModels) Members(s *stranding.Shapes) []int { return m.members[s] }

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
	s, ok := m.byMask[mask]
	if !ok {
		s = m.build(mask)
		m.byMask[mask] = s
	}
	return admitted, s
}

// Reservation decides which nodes' capacity the pods that require
// particular nodes need. For each constraint whose pods request a scarce
// resource (a GPU model; not a hostname or a CPU pool) it compares the room
// left for its average pod on the nodes that admit it with its share of the
// pods times the room left for the average pod of all pods, and with its
// pending pods: a constraint whose room is no larger than either is short,
// and the nodes that admit a short constraint are reserved. A pod that may use other nodes then leaves them to the pods
// that may use nothing else, as a pod that does not request a scarce
// resource leaves it to those that do. Room counts whole pods, so capacity
// fragmented into pieces smaller than the pod does not count.
type Reservation struct {
	m        *ShapeModels
	room     []float64
	roomAll  float64
	admitted uint64 // constraints some node admits
}

// Reservation returns an empty reservation, nil without constrained pods.
func (m *ShapeModels) Reservation() *Reservation {
	for _, s := range m.share {
		if s > 0 {
			return &Reservation{m: m, room: make([]float64, len(m.share))}
		}
	}
	return nil
}

// Add counts a node that admits the constraints of mask (from variant) and
// has free capacity free (raw requests' units).
func (r *Reservation) Add(admitted uint64, free *stranding.Vec) {
	l := r.m.layout
	r.roomAll += fits(l, &r.m.avgAll, free)
	r.admitted |= admitted
	for i := range r.room {
		if admitted&(1<<uint(i)) != 0 && r.m.share[i] > 0 {
			r.room[i] += fits(l, &r.m.avg[i], free)
		}
	}
}

// Short returns the mask of the constraints whose room is no larger than
// their share of the room of all pods or than their pending pods.
func (r *Reservation) Short() uint64 {
	var short uint64
	for i, s := range r.m.share {
		if s > 0 && r.admitted&(1<<uint(i)) != 0 && (r.room[i] <= s*r.roomAll || r.room[i] <= r.m.pending[i]) {
			short |= 1 << uint(i)
		}
	}
	return short
}

// fits is how many pods of vector pod fit in free, floored.
func fits(l *stranding.Layout, pod, free *stranding.Vec) float64 {
	n := math.Inf(1)
	for j := 0; j < l.N; j++ {
		if pod[j] > 0 {
			n = math.Min(n, math.Floor(free[j]/pod[j]))
		}
	}
	if math.IsInf(n, 1) {
		return 0
	}
	return n
}
