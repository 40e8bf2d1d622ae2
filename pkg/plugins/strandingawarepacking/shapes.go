package strandingawarepacking

import (
	"context"
	"iter"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	resourcehelper "k8s.io/component-helpers/resource"

	"github.com/snug-sched/snug/pkg/apis/config"
	"github.com/snug-sched/snug/pkg/resourcemodel"
	"github.com/snug-sched/snug/pkg/stranding"
)

// Quantity is one resource of a shape in scheduler units.
type Quantity struct {
	Name  corev1.ResourceName
	Value int64
}

// Shape is a pod request vector, sorted by resource name.
type Shape []Quantity

// ShapeOf returns the shape of a pod's effective requests.
func ShapeOf(pod *corev1.Pod) Shape {
	return shapeOfList(resourcemodel.Requests(pod))
}

func shapeOfList(list corev1.ResourceList) Shape {
	s := make(Shape, 0, len(list))
	for name := range list {
		if v := resourcemodel.Value(name, list); v > 0 {
			s = append(s, Quantity{Name: name, Value: v})
		}
	}
	slices.SortFunc(s, func(a, b Quantity) int { return strings.Compare(string(a.Name), string(b.Name)) })
	return s
}

// String renders the exact shape, e.g. "cpu=1000;memory=1073741824;".
func (s Shape) String() string {
	var b strings.Builder
	for _, q := range s {
		b.WriteString(string(q.Name))
		b.WriteByte('=')
		b.WriteString(strconv.FormatInt(q.Value, 10))
		b.WriteByte(';')
	}
	return b.String()
}

// key groups shapes whose quantities agree to within an eighth of an
// octave (about 9%), so pods sized individually (e.g. by a vertical
// autoscaler) still form frequent shapes instead of one shape per pod.
func (s Shape) key() string {
	var b strings.Builder
	for _, q := range s {
		frac, exp := math.Frexp(float64(q.Value))
		b.WriteString(string(q.Name))
		b.WriteByte('=')
		b.WriteString(strconv.Itoa(exp*8 + int(frac*16) - 8))
		b.WriteByte(';')
	}
	return b.String()
}

// ignored reports pods whose shape says nothing about future demand: a
// DaemonSet or static (mirror) pod exists once per node, so however
// frequent its shape, no more of them will arrive to use leftover capacity.
func ignored(pod *corev1.Pod) bool {
	if _, mirror := pod.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return true
	}
	for _, o := range pod.OwnerReferences {
		if o.Controller != nil && *o.Controller && o.Kind == "DaemonSet" {
			return true
		}
	}
	return false
}

// ShapeLearner keeps a histogram of the shapes of the pods the scheduler
// sees (pending and bound, not terminal; DaemonSet and static pods are left
// out) and serves the most frequent ones, after the operator's static shapes.
// It also counts, per shape, the pods still pending (not bound to a node).
// Updates are O(1) under a mutex; readers get an immutable snapshot rebuilt
// at most once per change batch (a binding changes only pending counts,
// which are read at every Set and need no rebuild).
type ShapeLearner struct {
	static     []Shape
	maxLearned int

	mu     sync.Mutex
	counts map[string]*shapeCount
	demand map[string]*demandCount // by constraint key, "" for none
	// counted holds the pods counted in a bucket (for SetFor) and whether
	// each is counted as pending, so a binding reported twice (or an undo
	// of one never made) changes nothing.
	counted map[types.NamespacedName]bool
	dirty   atomic.Bool
	current atomic.Pointer[shapeSnapshot]
}

// shapeSnapshot is an immutable list of shapes, their frequencies and the
// nodes their pods require (nil: any), and the demand per constraint.
type shapeSnapshot struct {
	static, keep int
	shapes       []Shape
	weights      []float64
	constraints  []*Constraint
	demand       []ConstraintDemand
	// buckets of the learned shapes, for their pending counts (read
	// under the learner's lock).
	buckets []*shapeCount
}

// ShapeSet is what the learner knows: the shapes (static first) with their
// frequency weights and the nodes their pods require (nil: any), and the
// total requests of the pods per node constraint, of every pod the learner
// counts rather than only those of the shapes kept. The learned shapes are
// candidates, most frequent first: the stranding model judges at most Keep
// of them (see NewShapeModels). Pending, when set, counts each shape's
// pods not bound to a node, but for the pod being scheduled (SetFor).
type ShapeSet struct {
	Static, Keep int
	Shapes       []Shape
	Weights      []float64
	Constraints  []*Constraint
	Demand       []ConstraintDemand
	Pending      []float64
	// Largest marks, per node constraint (none included), the pending
	// shapes that request the most of some resource. They follow the
	// candidates when not among them, and the model keeps them however rare
	// (byDensity): a large pod needs a node of the few that can host it
	// whole, and the host term protects only the hosts of shapes it knows.
	Largest []bool
	// need[k] is the pending demand for shape k's hosts (hostDemand).
	need []float64
}

// ConstraintDemand is the sum of the requests of the pods that require
// Constraint's nodes (nil: of the pods that require none), and how many of
// them are pending (in a ShapeSet with Pending).
type ConstraintDemand struct {
	Constraint *Constraint
	Pods       int
	Requests   Shape
	Pending    int
}

// demandCount accumulates a ConstraintDemand.
type demandCount struct {
	constraint *Constraint
	pods       int
	requests   map[corev1.ResourceName]int64
}

// shapeCount is a bucket of similar shapes whose pods require the same
// nodes; shape is the first pod's exact shape, so round requests (1 cpu,
// 4Gi) stay exact.
type shapeCount struct {
	shape      Shape
	constraint *Constraint
	n, pending int
}

// NewShapeLearner returns a learner for a shape source.
func NewShapeLearner(src config.ShapeSource) *ShapeLearner {
	l := &ShapeLearner{counts: map[string]*shapeCount{}, demand: map[string]*demandCount{}, counted: map[types.NamespacedName]bool{}, maxLearned: int(src.MaxLearned)}
	for _, s := range src.Static {
		if shape := shapeOfList(s.Requests); len(shape) > 0 {
			l.static = append(l.static, shape)
		}
	}
	if src.Mode == config.ShapeSourceStatic {
		l.maxLearned = 0
	}
	// The model holds stranding.MaxShapes shapes, static ones first.
	l.maxLearned = max(0, min(l.maxLearned, stranding.MaxShapes-len(l.static)))
	l.current.Store(l.withStatic(nil, nil, nil, nil, nil))
	return l
}

// withStatic puts the static shapes before the learned ones. An operator's
// static shape weighs as much as the most frequent learned shape (1 when
// nothing is learned): declared shapes are expected to matter.
func (l *ShapeLearner) withStatic(learned []Shape, counts []float64, constraints []*Constraint, demand []ConstraintDemand, buckets []*shapeCount) *shapeSnapshot {
	top := 1.0
	for _, c := range counts {
		top = math.Max(top, c)
	}
	snap := &shapeSnapshot{static: len(l.static), keep: l.maxLearned, shapes: slices.Clone(l.static), constraints: make([]*Constraint, len(l.static))}
	for range l.static {
		snap.weights = append(snap.weights, top)
	}
	snap.shapes = append(snap.shapes, learned...)
	snap.weights = append(snap.weights, counts...)
	snap.constraints = append(snap.constraints, constraints...)
	snap.demand = demand
	snap.buckets = buckets
	return snap
}

// Observe adds delta pods of the given pod's shape, pending ones if the pod
// is not bound to a node. A positive delta marks the pod as counted and a
// negative one as no longer counted (see SetFor); a negative delta takes
// the pod from the pending ones if it was counted as pending.
func (l *ShapeLearner) Observe(pod *corev1.Pod, delta int) {
	if l.maxLearned == 0 || pod == nil || ignored(pod) {
		return
	}
	shape := ShapeOf(pod)
	if len(shape) == 0 {
		return // BestEffort pods consume nothing the model can strand
	}
	c := constraintOf(pod)
	l.mu.Lock()
	defer l.mu.Unlock()
	waiting := pending(pod)
	if was, ok := l.counted[podKey(pod)]; ok && delta < 0 {
		waiting = was
	}
	l.addLocked(shape, c, bucketKey(shape, c), delta, waiting)
	l.markLocked(pod, delta > 0, waiting)
}

// Bind reports that a counted pod was bound to a node (delta 1), so it is
// no longer pending, or that its binding was undone (-1, as when a
// simulation is reverted). Reports that do not change the pod's state, a
// binding seen twice, are ignored.
func (l *ShapeLearner) Bind(pod *corev1.Pod, delta int) {
	shape := learnedShape(pod)
	if l.maxLearned == 0 || len(shape) == 0 {
		return
	}
	c := constraintOf(pod)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.setPendingLocked(pod, l.counts[bucketKey(shape, c)], delta < 0)
}

// setPendingLocked moves a counted pod of bucket b to pending or bound.
func (l *ShapeLearner) setPendingLocked(pod *corev1.Pod, b *shapeCount, waiting bool) {
	k := podKey(pod)
	was, ok := l.counted[k]
	if !ok || was == waiting || b == nil {
		return
	}
	l.counted[k] = waiting
	b.pending = max(0, b.pending+boolDelta(waiting)-boolDelta(was))
}

// pending reports whether a pod waits for a node.
func pending(pod *corev1.Pod) bool { return pod.Spec.NodeName == "" }

func podKey(pod *corev1.Pod) types.NamespacedName {
	return types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
}

func (l *ShapeLearner) markLocked(pod *corev1.Pod, counted, waiting bool) {
	if counted {
		l.counted[podKey(pod)] = waiting
	} else {
		delete(l.counted, podKey(pod))
	}
}

// bucketKey groups pods of similar shapes that require the same nodes.
func bucketKey(shape Shape, c *Constraint) string {
	if c == nil {
		return shape.key()
	}
	return shape.key() + "|" + c.key
}

// replace moves a pod from the shape of its old object to the shape of its
// new one (an in-place resize, or the pod finishing), under one lock so
// that no snapshot sees it in neither bucket.
func (l *ShapeLearner) replace(oldPod, newPod *corev1.Pod) {
	if l.maxLearned == 0 {
		return
	}
	oldShape, newShape := learnedShape(oldPod), learnedShape(newPod)
	oldC, newC := constraintOf(oldPod), constraintOf(newPod)
	oldKey, newKey := bucketKey(oldShape, oldC), bucketKey(newShape, newC)
	if oldKey == newKey {
		// Same bucket, but demand sums exact requests: a resize within the
		// bucket must move them, or the pod's deletion takes away more or
		// less than its add brought.
		if len(oldShape) == 0 {
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if !slices.Equal(oldShape, newShape) {
			l.addDemandLocked(oldShape, oldC, -1)
			l.addDemandLocked(newShape, newC, 1)
			l.dirty.Store(true)
		}
		l.setPendingLocked(newPod, l.counts[oldKey], pending(newPod))
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(oldShape) > 0 {
		was, ok := l.counted[podKey(oldPod)]
		if !ok {
			was = pending(oldPod)
		}
		l.addLocked(oldShape, oldC, oldKey, -1, was)
	}
	if len(newShape) > 0 {
		l.addLocked(newShape, newC, newKey, 1, pending(newPod))
	}
	l.markLocked(newPod, len(newShape) > 0, pending(newPod))
}

// learnedShape is the shape a pod counts under, nil if it counts under none.
func learnedShape(pod *corev1.Pod) Shape {
	if terminal(pod) || ignored(pod) {
		return nil
	}
	return ShapeOf(pod)
}

func boolDelta(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (l *ShapeLearner) addLocked(shape Shape, constraint *Constraint, k string, delta int, pending bool) {
	c := l.counts[k]
	if c == nil {
		c = &shapeCount{shape: shape, constraint: constraint}
		l.counts[k] = c
	}
	c.n += delta
	if pending {
		c.pending = max(0, c.pending+delta)
	}
	if c.n <= 0 {
		delete(l.counts, k)
	}
	l.addDemandLocked(shape, constraint, delta)
	l.dirty.Store(true)
}

func (l *ShapeLearner) addDemandLocked(shape Shape, constraint *Constraint, delta int) {
	key := ""
	if constraint != nil {
		key = constraint.key
	}
	d := l.demand[key]
	if d == nil {
		d = &demandCount{constraint: constraint, requests: map[corev1.ResourceName]int64{}}
		l.demand[key] = d
	}
	d.pods += delta
	if d.pods <= 0 {
		delete(l.demand, key)
		return
	}
	for _, q := range shape {
		d.requests[q.Name] += int64(delta) * q.Value
	}
}

// candidatesPerKept is how many learned shapes the learner hands out per
// shape the model keeps: a rarer shape whose pods may use few nodes can
// outweigh a more frequent one that may use any (NewShapeModels).
const candidatesPerKept = 4

// Snapshot returns the static shapes followed by the most frequent learned
// ones, as many as the model keeps (ties broken by key, so the result is
// deterministic); Set has the candidates too.
func (l *ShapeLearner) Snapshot() []Shape { return l.snapshot().set().mostFrequent().Shapes }

// Weighted returns Snapshot and each shape's frequency weight: the learned
// shapes' pod counts, static shapes as heavy as the most frequent one.
func (l *ShapeLearner) Weighted() ([]Shape, []float64) {
	s := l.snapshot().set().mostFrequent()
	return s.Shapes, s.Weights
}

func (l *ShapeLearner) snapshot() *shapeSnapshot {
	if !l.dirty.Load() {
		return l.current.Load()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.snapshotLocked()
}

func (l *ShapeLearner) snapshotLocked() *shapeSnapshot {
	if !l.dirty.Load() {
		return l.current.Load()
	}
	snap := l.buildLocked()
	l.current.Store(snap)
	l.dirty.Store(false)
	return snap
}

// buildLocked makes a snapshot of the counts as they are.
func (l *ShapeLearner) buildLocked() *shapeSnapshot {
	type kc struct {
		key string
		c   *shapeCount
	}
	all := make([]kc, 0, len(l.counts))
	for k, c := range l.counts {
		all = append(all, kc{k, c})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].c.n != all[j].c.n {
			return all[i].c.n > all[j].c.n
		}
		return all[i].key < all[j].key
	})
	var learned []Shape
	var counts []float64
	var constraints []*Constraint
	var buckets []*shapeCount
	for i := 0; i < len(all) && i < l.maxLearned*candidatesPerKept; i++ {
		learned = append(learned, all[i].c.shape)
		counts = append(counts, float64(all[i].c.n))
		constraints = append(constraints, all[i].c.constraint)
		buckets = append(buckets, all[i].c)
	}
	demand := make([]ConstraintDemand, 0, len(l.demand))
	for _, d := range l.demand {
		req := make(Shape, 0, len(d.requests))
		for n, v := range d.requests {
			if v > 0 {
				req = append(req, Quantity{Name: n, Value: v})
			}
		}
		slices.SortFunc(req, func(a, b Quantity) int { return strings.Compare(string(a.Name), string(b.Name)) })
		demand = append(demand, ConstraintDemand{Constraint: d.constraint, Pods: d.pods, Requests: req})
	}
	// Most pods first, then by key: deterministic, and a consumer that
	// keeps only some keeps the largest.
	slices.SortFunc(demand, func(a, b ConstraintDemand) int {
		if a.Pods != b.Pods {
			return b.Pods - a.Pods
		}
		return strings.Compare(a.Constraint.keyOrEmpty(), b.Constraint.keyOrEmpty())
	})
	return l.withStatic(learned, counts, constraints, demand, buckets)
}

// Set returns what the learner knows (see ShapeSet), pending counts
// included.
func (l *ShapeLearner) Set() ShapeSet {
	if l.maxLearned == 0 {
		return l.snapshot().set()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.withPendingLocked(l.snapshotLocked(), nil)
}

// withPendingLocked is snap's set with the buckets' pending counts, one
// fewer in the bucket of skip (the pod being scheduled), and the largest
// pending shapes (ShapeSet.Largest).
func (l *ShapeLearner) withPendingLocked(snap *shapeSnapshot, skip *shapeCount) ShapeSet {
	pendingOf := func(b *shapeCount) float64 {
		n := b.pending
		if b == skip {
			n--
		}
		return float64(max(0, n))
	}
	set := snap.set()
	set.Pending = make([]float64, len(snap.shapes))
	for i, b := range snap.buckets {
		set.Pending[snap.static+i] = pendingOf(b)
	}
	byConstraint, largest := l.pendingLocked(pendingOf)
	set.Demand = withPendingDemand(snap.demand, byConstraint)
	if len(largest) == 0 {
		return set
	}
	set.Shapes, set.Weights, set.Constraints = slices.Clip(set.Shapes), slices.Clip(set.Weights), slices.Clip(set.Constraints)
	set.Largest = make([]bool, len(set.Shapes))
	for _, b := range largest {
		if i := slices.Index(snap.buckets, b); i >= 0 {
			set.Largest[snap.static+i] = true
			continue
		}
		set.Shapes = append(set.Shapes, b.shape)
		set.Weights = append(set.Weights, float64(b.n))
		set.Constraints = append(set.Constraints, b.constraint)
		set.Pending = append(set.Pending, pendingOf(b))
		set.Largest = append(set.Largest, true)
	}
	return set
}

// withPendingDemand returns demand with each constraint's pending pods
// (byConstraint, by constraint key; nil: none pending).
func withPendingDemand(demand []ConstraintDemand, byConstraint map[string]int) []ConstraintDemand {
	if byConstraint == nil {
		return demand
	}
	out := slices.Clone(demand)
	for i := range out {
		out[i].Pending = byConstraint[out[i].Constraint.keyOrEmpty()]
	}
	return out
}

// pendingLocked counts the pending pods per node constraint (by key; nil
// when none is pending) and returns, per node constraint and resource, the
// pending bucket that requests the most of it (ties to the smaller key),
// but those another of them covers, in key order: one pass over the
// buckets.
func (l *ShapeLearner) pendingLocked(pendingOf func(*shapeCount) float64) (map[string]int, []*shapeCount) {
	type slot struct {
		constraint string
		resource   corev1.ResourceName
	}
	type best struct {
		b   *shapeCount
		key string
	}
	var byConstraint map[string]int
	var top map[slot]best
	for k, b := range l.counts {
		n := pendingOf(b)
		if n <= 0 {
			continue
		}
		if top == nil {
			byConstraint, top = map[string]int{}, map[slot]best{}
		}
		byConstraint[b.constraint.keyOrEmpty()] += int(n)
		for _, q := range b.shape {
			s := slot{b.constraint.keyOrEmpty(), q.Name}
			if cur, ok := top[s]; !ok || q.Value > cur.b.shape.value(q.Name) || (q.Value == cur.b.shape.value(q.Name) && k < cur.key) {
				top[s] = best{b, k}
			}
		}
	}
	var out []best
	for _, t := range top {
		if !slices.ContainsFunc(out, func(o best) bool { return o.b == t.b }) {
			out = append(out, t)
		}
	}
	// A winner that another of its constraint covers adds nothing: the
	// nodes the larger one needs whole are among its hosts.
	out = slices.DeleteFunc(slices.Clone(out), func(t best) bool {
		return slices.ContainsFunc(out, func(o best) bool {
			return o.b != t.b && o.b.constraint.keyOrEmpty() == t.b.constraint.keyOrEmpty() && o.b.shape.covers(t.b.shape)
		})
	})
	slices.SortFunc(out, func(a, b best) int { return strings.Compare(a.key, b.key) })
	largest := make([]*shapeCount, len(out))
	for i, o := range out {
		largest[i] = o.b
	}
	return byConstraint, largest
}

// covers reports whether s requests at least as much as o of every
// resource.
func (s Shape) covers(o Shape) bool {
	for _, q := range o {
		if s.value(q.Name) < q.Value {
			return false
		}
	}
	return true
}

// value is the shape's request of a resource, 0 if none.
func (s Shape) value(name corev1.ResourceName) int64 {
	for _, q := range s {
		if q.Name == name {
			return q.Value
		}
	}
	return 0
}

func (s *shapeSnapshot) set() ShapeSet {
	return ShapeSet{Static: s.static, Keep: s.keep, Shapes: s.shapes, Weights: s.weights, Constraints: s.constraints, Demand: s.demand}
}

// SetFor is Set with pod counted, for the cycle that schedules pod. The
// scheduler's queue and the learner hear of a new pod from separate
// informer handlers, so the pod's first cycle can start before the learner
// has counted it; the pod is counted for that cycle only, so a pod deleted
// meanwhile is not counted for good. A cycle thus judges with the same
// shapes whichever handler ran first, as the simulator does.
func (l *ShapeLearner) SetFor(pod *corev1.Pod) ShapeSet {
	if l.maxLearned == 0 || pod == nil {
		return l.Set()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	shape := learnedShape(pod)
	if len(shape) == 0 {
		return l.withPendingLocked(l.snapshotLocked(), nil)
	}
	c := constraintOf(pod)
	k := bucketKey(shape, c)
	if waiting, ok := l.counted[podKey(pod)]; ok {
		var skip *shapeCount
		if waiting {
			skip = l.counts[k]
		}
		return l.withPendingLocked(l.snapshotLocked(), skip)
	}
	current := l.snapshotLocked()
	// Counted as bound: the pod is not pending demand of its own cycle.
	l.addLocked(shape, c, k, 1, false)
	snap := l.buildLocked()
	set := l.withPendingLocked(snap, nil)
	l.addLocked(shape, c, k, -1, false)
	// The counts are as they were, and current holds them.
	l.current.Store(current)
	l.dirty.Store(false)
	return set
}

// Models returns the learner's shapes in layout l, weighted by frequency,
// as the stranding model takes them, per set of shapes a node accepts, for
// a cluster of nodes.
func (l *ShapeLearner) Models(layout *stranding.Layout, nodes iter.Seq[*corev1.Node]) *ShapeModels {
	return NewShapeModels(layout, l.Set(), nodes)
}

// ModelOf converts shapes and their weights into layout's dimensions.
func ModelOf(layout *stranding.Layout, shapes []Shape, weights []float64) stranding.Shapes {
	var out stranding.Shapes
	for k, sh := range shapes {
		out.AddWeighted(layout, shapeVector(layout, sh), weights[k])
	}
	return out
}

// shapeVector is a shape in layout's dimensions (resources outside it
// left out).
func shapeVector(layout *stranding.Layout, sh Shape) stranding.Vec {
	var v stranding.Vec
	for _, q := range sh {
		if i := layout.Index(q.Name); i >= 0 {
			v[i] = float64(q.Value)
		}
	}
	return v
}

// EventHandler keeps the histogram in step with the scheduler's pod informer.
func (l *ShapeLearner) EventHandler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj interface{}) {
			if p, ok := obj.(*corev1.Pod); ok && !terminal(p) {
				l.Observe(p, 1)
			}
		},
		UpdateFunc: func(oldObj, newObj interface{}) {
			o, ok1 := oldObj.(*corev1.Pod)
			n, ok2 := newObj.(*corev1.Pod)
			if !ok1 || !ok2 {
				return
			}
			if terminal(o) == terminal(n) && ignored(o) == ignored(n) && sameResources(o, n) && sameConstraint(o, n) {
				// The shape is unchanged: a binding, or a status update.
				if pending(o) && !pending(n) && !terminal(n) {
					l.Bind(n, 1)
				}
				return
			}
			l.replace(o, n)
		},
		DeleteFunc: func(obj interface{}) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok && !terminal(p) {
				l.Observe(p, -1)
			}
		},
	}
}

// sameResources reports whether nothing that resourcemodel.Requests reads
// differs, without allocating: every container's spec requests and, during
// an in-place resize, its allocated and actuated requests in the status
// (init container statuses too: sidecars resize) and whether the resize was
// found infeasible (the spec then no longer counts). Any field missed here
// leaves the pod counted under a shape it no longer has, for good.
func sameResources(a, b *corev1.Pod) bool {
	eq := apiequality.Semantic.DeepEqual
	if len(a.Spec.Containers) != len(b.Spec.Containers) || len(a.Spec.InitContainers) != len(b.Spec.InitContainers) {
		return false
	}
	for i := range a.Spec.Containers {
		if a.Spec.Containers[i].Name != b.Spec.Containers[i].Name || !eq(a.Spec.Containers[i].Resources, b.Spec.Containers[i].Resources) {
			return false
		}
	}
	for i := range a.Spec.InitContainers {
		ca, cb := &a.Spec.InitContainers[i], &b.Spec.InitContainers[i]
		if ca.Name != cb.Name || !eq(ca.RestartPolicy, cb.RestartPolicy) || !eq(ca.Resources, cb.Resources) {
			return false
		}
	}
	return sameStatusResources(a.Status.ContainerStatuses, b.Status.ContainerStatuses) &&
		sameStatusResources(a.Status.InitContainerStatuses, b.Status.InitContainerStatuses) &&
		resourcehelper.IsPodResizeInfeasible(a) == resourcehelper.IsPodResizeInfeasible(b) &&
		eq(a.Spec.Resources, b.Spec.Resources) && eq(a.Spec.Overhead, b.Spec.Overhead) &&
		eq(a.Status.Resources, b.Status.Resources) && eq(a.Status.AllocatedResources, b.Status.AllocatedResources)
}

func sameStatusResources(a, b []corev1.ContainerStatus) bool {
	if len(a) != len(b) {
		return false
	}
	eq := apiequality.Semantic.DeepEqual
	for i := range a {
		if a[i].Name != b[i].Name || !eq(a[i].Resources, b[i].Resources) || !eq(a[i].AllocatedResources, b[i].AllocatedResources) {
			return false
		}
	}
	return true
}

func terminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// sharedLearners holds one default learner per informer factory, so that
// several plugins of a profile (packing, preemption) watch pods once.
var sharedLearners sync.Map // informers.SharedInformerFactory -> *ShapeLearner

// DefaultShapeSource is the learner of plugins without their own shape args.
var DefaultShapeSource = config.ShapeSource{Mode: config.ShapeSourceLearned, MaxLearned: 64}

// SharedLearner returns the default learner fed by factory's pod informer,
// creating and registering it on first use. It is forgotten when ctx (the
// framework's) ends, so a process that builds a framework per run, as the
// simulator does for every descheduling run, does not keep each run's
// informer factory.
func SharedLearner(ctx context.Context, factory informers.SharedInformerFactory) (*ShapeLearner, error) {
	if v, ok := sharedLearners.Load(factory); ok {
		return v.(*ShapeLearner), nil
	}
	l := NewShapeLearner(DefaultShapeSource)
	if v, loaded := sharedLearners.LoadOrStore(factory, l); loaded {
		return v.(*ShapeLearner), nil
	}
	if _, err := factory.Core().V1().Pods().Informer().AddEventHandler(l.EventHandler()); err != nil {
		sharedLearners.Delete(factory)
		return nil, err
	}
	context.AfterFunc(ctx, func() { sharedLearners.CompareAndDelete(factory, l) })
	return l, nil
}
