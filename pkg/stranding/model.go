package stranding

import (
	"math"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// Bounds of the fixed-size vectors, so that evaluating a node allocates nothing.
const (
	MaxDims   = 16
	MaxShapes = 64
)

// Vec is a resource vector in a Layout's dimensions, in scheduler units
// (millicores for cpu, bytes or counts otherwise). float64 keeps sums of huge
// quantities from overflowing.
type Vec [MaxDims]float64

// Layout fixes the dimensions of a scoring cycle.
type Layout struct {
	N       int
	Names   [MaxDims]corev1.ResourceName
	Weights [MaxDims]float64
	// Scarce marks dimensions pods avoid unless they request them.
	Scarce [MaxDims]bool
	// PodsDim is the index of the pod-count dimension, or -1.
	PodsDim int
	// ScarceFragmentation multiplies the weight of scarce dimensions in the
	// fragmentation term dF only (NewLayout: 1).
	ScarceFragmentation float64
	// Scale is the unit of each dimension when fragmentation is compared
	// across nodes (the largest allocatable among them), so a stranded GPU
	// costs the same on a 4-GPU and on an 8-GPU node. 0: the node's own
	// allocatable.
	Scale Vec
}

// fragWeight is dimension i's weight in the fragmentation term.
func (l *Layout) fragWeight(i int) float64 {
	if l.Scarce[i] {
		return l.Weights[i] * l.ScarceFragmentation
	}
	return l.Weights[i]
}

// NewLayout returns an empty layout.
func NewLayout() Layout { return Layout{PodsDim: -1, ScarceFragmentation: 1} }

// Index returns the dimension of name, or -1.
func (l *Layout) Index(name corev1.ResourceName) int {
	for i := 0; i < l.N; i++ {
		if l.Names[i] == name {
			return i
		}
	}
	return -1
}

// Add appends a dimension unless present or full; it returns its index or -1.
func (l *Layout) Add(name corev1.ResourceName, weight float64, scarce bool) int {
	if i := l.Index(name); i >= 0 {
		l.Scarce[i] = l.Scarce[i] || scarce
		return i
	}
	if l.N == MaxDims {
		return -1
	}
	i := l.N
	l.Names[i], l.Weights[i], l.Scarce[i] = name, weight, scarce
	if name == corev1.ResourcePods {
		l.PodsDim = i
	}
	l.N++
	return i
}

// AddSorted adds names (sorted in place; duplicates and names already
// present are skipped) in name order, each with weight and scarce(name)
// (nil: not scarce). Names usually come from map keys, whose order Go
// randomises: a layout must not depend on it, since the dimensions past
// MaxDims are the ones dropped and sums over dimensions round in their order.
func (l *Layout) AddSorted(names []corev1.ResourceName, weight float64, scarce func(corev1.ResourceName) bool) {
	slices.Sort(names)
	for _, name := range names {
		l.Add(name, weight, scarce != nil && scarce(name))
	}
}

// Shapes is a bounded set of pod request vectors in a Layout.
type Shapes struct {
	N int
	V [MaxShapes]Vec
	// Demanded marks dimensions some shape requests.
	Demanded [MaxDims]bool

	// Per shape, its nonzero dimensions and their reciprocals, so a fit
	// count costs a few multiplications instead of a pass over all dims.
	nnz [MaxShapes]uint8
	nz  [MaxShapes][MaxDims]uint8
	inv [MaxShapes][MaxDims]float64
	// podsDim is the layout's pod-count dimension (every shape takes one
	// slot), or -1.
	podsDim int

	// weight[k] is shape k's frequency; rho[k][j] its share among the
	// shapes that demand dimension nz[k][j] (so the shares of a dimension
	// sum to 1), filled in lazily by normalise.
	weight     [MaxShapes]float64
	rho        [MaxShapes][MaxDims]float64
	normalised bool
}

// fitSlack lifts a fit count computed through a reciprocal over the rounding
// of 1/v: v*(1/v) is just below 1 for many integers (49, 850, 5500), and a
// shape that fits free exactly must count as fitting. Requests are integers
// (millicores, bytes), so a request 1 unit short of free stays short for
// any free below 1e14.
const fitSlack = 1e-14

// Add appends a shape of weight 1 (ignored when full or empty in this
// layout).
func (s *Shapes) Add(l *Layout, v Vec) { s.AddWeighted(l, v, 1) }

// AddWeighted appends a shape with a frequency weight (how many pods of that
// shape run or are expected); weights only matter relative to each other.
// A weight <= 0 counts as 1.
func (s *Shapes) AddWeighted(l *Layout, v Vec, weight float64) {
	if s.N == MaxShapes {
		return
	}
	if l.PodsDim >= 0 {
		v[l.PodsDim] = 1 // every pod takes one slot
	}
	any := false
	for i := 0; i < l.N; i++ {
		if v[i] > 0 && i != l.PodsDim {
			any = true
		}
	}
	if !any {
		return
	}
	for i := 0; i < l.N; i++ {
		if v[i] > 0 && i != l.PodsDim {
			s.Demanded[i] = true
		}
	}
	k := s.N
	s.V[k] = v
	s.podsDim = l.PodsDim
	for i := 0; i < l.N; i++ {
		if v[i] > 0 && i != l.PodsDim { // pod slots are checked once per node in usable
			s.nz[k][s.nnz[k]] = uint8(i)
			s.inv[k][s.nnz[k]] = 1 / v[i] * (1 + fitSlack)
			s.nnz[k]++
		}
	}
	if !(weight > 0) {
		weight = 1
	}
	s.weight[k] = weight
	s.normalised = false
	s.N++
}

// normalise fills rho. Called once per cycle by NewPlan, never from the hot
// path.
func (s *Shapes) normalise() {
	if s.normalised {
		return
	}
	var total [MaxDims]float64
	for k := 0; k < s.N; k++ {
		for j := 0; j < int(s.nnz[k]); j++ {
			total[s.nz[k][j]] += s.weight[k]
		}
	}
	for k := 0; k < s.N; k++ {
		for j := 0; j < int(s.nnz[k]); j++ {
			s.rho[k][j] = s.weight[k] / total[s.nz[k][j]]
		}
	}
	s.normalised = true
}

// Weights of the terms of R.
type Weights struct {
	Packing, Stranding float64
	// Level weighs the stranded share left after placement (StrandedShare).
	Level float64
	// Host weighs taking away one of the last nodes a shape fits on (see
	// Plan.SetHosts).
	Host float64
	// Bundle weighs the scarce capacity a placement leaves without the
	// other resources its pods need beside it (see Plan.bundleTerm).
	Bundle float64
}

// Free returns max(0, alloc - used - pod) per dimension.
func Free(l *Layout, alloc, used, pod *Vec) Vec {
	var f Vec
	for i := 0; i < l.N; i++ {
		f[i] = math.Max(0, alloc[i]-used[i]-pod[i])
	}
	return f
}

// Stranded returns, per dimension, the free capacity no known shape can use
// (see the package doc). Dimensions no shape demands, and pods, are 0.
func Stranded(l *Layout, s *Shapes, free *Vec) Vec {
	var usable Vec
	s.reachUsable(free, nil, &usable)
	var out Vec
	for i := 0; i < l.N; i++ {
		if s.Demanded[i] && i != l.PodsDim {
			out[i] = free[i] - usable[i]
		}
	}
	return out
}

// FitsOnce reports whether shape k fits in free at least once (pod slots
// included).
func (s *Shapes) FitsOnce(k int, free *Vec) bool { return s.fit(k, free, s.slots(free)) >= 1 }

// fit returns how many times shape k fits in free, floored, or 0 if it does
// not fit once; slots bounds it (free pod slots). Plain comparisons instead
// of math.Min/Max: the inputs are finite, and this is the Score hot path.
func (s *Shapes) fit(k int, free *Vec, slots float64) float64 {
	n := int(s.nnz[k])
	nz, inv := &s.nz[k], &s.inv[k]
	c := slots
	for j := 0; j < n; j++ {
		if q := free[nz[j]] * inv[j]; q < c {
			c = q
			if c < 1 {
				return 0 // does not fit even once
			}
		}
	}
	if c < 1 || n == 0 {
		return 0
	}
	if c < 1<<62 {
		return float64(int64(c)) // floor of a positive number
	}
	return math.Floor(c)
}

func (s *Shapes) slots(free *Vec) float64 {
	if s.N > 0 && s.podsDim >= 0 {
		return free[s.podsDim]
	}
	return math.MaxFloat64 // no pod-count dimension: slots never bind
}

// reachUsable returns, per dimension, what the shapes can put to use of
// free in one pass (one fit count per shape):
//
//   - reach_i: the expected part of free_i that the next pod demanding i can
//     use, over the shapes k demanding i weighted by frequency,
//     sum of rho_k,i * min(free_i, c_k * s^k_i) (0 when k does not fit);
//     free - reach is the expected fragmentation F of the package doc.
//     Needs normalise (NewPlan).
//   - usable_i: the most of free_i that one shape repeated can consume;
//     free - usable is the stranded capacity.
//
// reach and usable must be zero; either may be nil when not wanted (Score
// needs only reach of the free vector before placement).
func (s *Shapes) reachUsable(free, reach, usable *Vec) {
	slots := s.slots(free)
	for k := 0; k < s.N; k++ {
		c := s.fit(k, free, slots)
		if c == 0 {
			continue
		}
		shape, nz, rho := &s.V[k], &s.nz[k], &s.rho[k]
		for j := 0; j < int(s.nnz[k]); j++ {
			i := nz[j]
			u := c * shape[i]
			if u > free[i] {
				u = free[i]
			}
			if reach != nil {
				reach[i] += rho[j] * u
			}
			if usable != nil && u > usable[i] {
				usable[i] = u
			}
		}
	}
}

// StrandedShare is the weighted share of a node's capacity that would be
// stranded (Stranded, single-shape relaxation) after placing pod:
// sum w_i * stranded_i / a_i / sum w_i over demanded dimensions with a_i > 0.
// It is a level, not a change: the preemption plugin compares nodes by what
// they are left with.
func StrandedShare(l *Layout, s *Shapes, alloc, used, pod *Vec) float64 {
	free := Free(l, alloc, used, pod)
	var usable Vec
	s.reachUsable(&free, nil, &usable)
	return strandedShare(l, s, alloc, &free, &usable)
}

// strandedShare is StrandedShare of a free vector whose usable part is known.
func strandedShare(l *Layout, s *Shapes, alloc, free, usable *Vec) float64 {
	var w, sum float64
	for i := 0; i < l.N; i++ {
		if s.Demanded[i] && i != l.PodsDim && alloc[i] > 0 && l.Weights[i] > 0 {
			w += l.Weights[i]
			sum += l.Weights[i] * math.Min(1, (free[i]-usable[i])/alloc[i])
		}
	}
	if w == 0 {
		return 0
	}
	return sum / w
}

// Eval is the model's verdict on one placement.
type Eval struct {
	Packing float64 // P in [0, 1]
	// Fragmentation is dF in [-1, 1]: how much the placement adds to the
	// node's expected fragmentation (negative: it uses up fragments).
	Fragmentation float64
	Score         float64 // R in [0, 1]
	// HostCost is the host term's cost in [0, 1] (Plan.SetHosts).
	HostCost float64
	// BundleWaste is the scarce capacity, in units of the largest node's,
	// that the placement leaves unusable at the scarce shapes' mix of other
	// resources, beyond what the pod takes itself (>= 0).
	BundleWaste float64
	// BundleFit is the part of the pod's scarce request, in the same
	// units, that comes from capacity the node could not serve at the mix
	// (>= 0; Plan.bundleTerm). The score counts BundleWaste - BundleFit.
	BundleFit float64
	Scarce    bool // the pod would sit on free scarce capacity it does not use
}

// Evaluate judges placing pod on a node with allocatable alloc and requested
// used. It allocates nothing. For many nodes, build a Plan once instead.
func Evaluate(l *Layout, s *Shapes, w Weights, alloc, used, pod *Vec) Eval {
	p := NewPlan(l, s, w, pod)
	return p.Evaluate(alloc, used)
}

// Plan is Evaluate with everything that depends only on the pod, the layout
// and the shapes worked out once per scheduling cycle.
type Plan struct {
	l   *Layout
	s   *Shapes
	w   Weights
	pod Vec

	// packDims count towards P, strandDims towards dF, scarceDims towards the tier.
	packDims, strandDims, scarceDims [MaxDims]uint8
	nPack, nStrand, nScarce          int
	strandWeight                     float64 // sum of w_i over strandDims
	requestsScarce                   bool
	// hosts[k] is how many nodes shape k fits on now, 0 for shapes the
	// host term ignores; nil: no host term.
	hosts *[MaxShapes]float64
	// hostBase is the host cost the pod pays wherever it goes (SetHostBase).
	hostBase float64
	// bundles are the scarce dimensions the bundle term judges, with the
	// shapes' mix of other resources per unit of each (bundleMix).
	bundles  [MaxDims]bundle
	nBundles int
	// noFit drops the bundle fit (NoBundleCredit).
	noFit bool
}

// bundle is a scarce dimension g and the other dimensions dims[:n] of its
// mix, with the shapes' requests of each per unit of g.
type bundle struct {
	g     uint8
	n     uint8
	dims  [MaxDims]uint8
	ratio [MaxDims]float64
	// own is what the pod takes of it, in units of g (min over the bundle's
	// dimensions of request / ratio).
	own float64
}

// Shapes returns the plan's shapes.
func (p *Plan) Shapes() *Shapes { return p.s }

// SetHosts turns the host term on: hosts[k] is the number of nodes shape k
// of the plan's shapes fits on now (0: ignore the shape; at least 1
// otherwise, fractions allowed). A placement that takes away one of them
// costs 1/hosts[k], the largest over the shapes it takes a host from: the
// fewer nodes a shape still has, the more losing one costs, so a node that
// is one of few that can host a large pod stays whole while other nodes
// can take the pod. hosts must not change while the plan is in use.
func (p *Plan) SetHosts(hosts *[MaxShapes]float64) { p.hosts = hosts }

// SetHostBase sets the host cost the pod pays wherever it goes (the least
// HostCost over the candidate nodes), which Evaluate leaves out: a cost
// every candidate pays ranks no node above another, and subtracted it
// cannot push every score to the floor of R, where their order is lost.
func (p *Plan) SetHostBase(base float64) { p.hostBase = base }

// HostCost is the host term's cost of placing the pod on a node with
// allocatable alloc and requested used, 0 without the host term.
func (p *Plan) HostCost(alloc, used *Vec) float64 {
	if p.w.Host <= 0 || p.hosts == nil {
		return 0
	}
	var before, after Vec
	p.freeBeforeAfter(alloc, used, &before, &after)
	return p.hostCost(&before, &after)
}

// hostCost is the host term's cost of going from free before to after.
func (p *Plan) hostCost(before, after *Vec) float64 {
	var cost float64
	for k := 0; k < p.s.N; k++ {
		if h := p.hosts[k]; h > 0 && 1/h > cost && p.s.FitsOnce(k, before) && !p.s.FitsOnce(k, after) {
			cost = 1 / h
		}
	}
	return cost
}

// freeBeforeAfter fills the node's free capacity before and after the pod.
func (p *Plan) freeBeforeAfter(alloc, used, before, after *Vec) {
	for i := 0; i < p.l.N; i++ {
		if f := alloc[i] - used[i]; f > 0 {
			before[i] = f
			if f -= p.pod[i]; f > 0 {
				after[i] = f
			}
		}
	}
}

// NewPlan prepares the evaluation of pod against many nodes. It normalises
// the shapes' weights, so s must not change while the plan is in use.
func NewPlan(l *Layout, s *Shapes, w Weights, pod *Vec) Plan {
	s.normalise()
	p := Plan{l: l, s: s, w: w, pod: *pod}
	if w.Bundle > 0 {
		p.bundleMix()
	}
	for i := 0; i < l.N; i++ {
		if l.Scarce[i] {
			p.scarceDims[p.nScarce] = uint8(i)
			p.nScarce++
			p.requestsScarce = p.requestsScarce || pod[i] > 0
		}
		if l.Weights[i] <= 0 {
			continue
		}
		if pod[i] > 0 || s.Demanded[i] || i == l.PodsDim {
			p.packDims[p.nPack] = uint8(i)
			p.nPack++
		}
		if s.Demanded[i] && i != l.PodsDim {
			p.strandDims[p.nStrand] = uint8(i)
			p.nStrand++
			p.strandWeight += l.fragWeight(i)
		}
	}
	return p
}

// bundleMix fills the plan's bundles: for each scarce dimension g some
// shape requests, the frequency-weighted requests per unit of g of the
// shapes that request g, r_i = sum pi_k s^k_i / sum pi_k s^k_g, over the
// weighted dimensions that are neither scarce nor pods.
func (p *Plan) bundleMix() {
	l, s := p.l, p.s
	for g := 0; g < l.N; g++ {
		if !l.Scarce[g] || !s.Demanded[g] || l.Weights[g] <= 0 {
			continue
		}
		var sum Vec
		for k := 0; k < s.N; k++ {
			if v := &s.V[k]; v[g] > 0 {
				for i := 0; i < l.N; i++ {
					sum[i] += s.weight[k] * v[i]
				}
			}
		}
		b := bundle{g: uint8(g), own: p.pod[g]}
		for i := 0; i < l.N; i++ {
			if l.Scarce[i] || i == l.PodsDim || l.Weights[i] <= 0 || sum[i] <= 0 {
				continue
			}
			r := sum[i] / sum[g]
			b.dims[b.n], b.ratio[b.n] = uint8(i), r
			b.n++
			b.own = min(b.own, p.pod[i]/r)
		}
		p.bundles[p.nBundles] = b
		p.nBundles++
	}
}

// NoBundleCredit makes the pod's own share of each bundle its request of
// the scarce dimension alone. A pod with few cores then gains nothing on a
// node short of cores over a node short of GPUs; with the credit it is drawn
// to the former, which on a cluster of GPU models are often the nodes of the
// models that pods bound to them need.
func (p *Plan) NoBundleCredit() {
	for j := 0; j < p.nBundles; j++ {
		p.bundles[j].own = p.pod[p.bundles[j].g]
	}
	p.noFit = true
}

// units is how many units of b's scarce dimension free can serve with the
// other resources at b's mix beside them, min(f_g, min_i f_i / r_i), and
// the index among b.dims of the dimension that binds them (-1: g itself).
func (b *bundle) units(free *Vec) (float64, int) {
	u, bind := free[b.g], -1
	for j := 0; j < int(b.n); j++ {
		if q := free[b.dims[j]] / b.ratio[j]; q < u {
			u, bind = q, j
		}
	}
	return u, bind
}

// bundleTerm returns the bundle term's waste and fit, in units of each
// scarce dimension g's scale.
//
// The waste is the units of g the placement takes from what the node can
// serve (units before less after) beyond what the pod takes itself (own).
// units is concave (a minimum of linear functions), so the difference is at
// least own and the waste is never negative: 0 for a pod that takes only
// cores left over beside busy GPUs, or a GPU pod whose cores match the mix;
// positive for a pod that takes the cores idle GPUs need, or GPUs whose
// cores other GPU pods need.
//
// The fit (unless NoBundleCredit) is p_g * (1 - U(f) / f_g), where U(f) /
// f_g is the share of the node's free g that its other resources can serve
// at the mix, when the pod asks less than the mix of the dimension that
// binds U (p_i / p_g < r_i). Such a node can only serve pods lighter than
// the mix, and the shorter it is, the fewer pods can use it: taking its
// unservable capacity first leaves the nodes with the resources beside
// their GPUs to the pods that need them. The waste alone does not order
// short nodes (a light pod wastes nothing on any of them).
func (p *Plan) bundleTerm(alloc, before, after *Vec) (waste, fit float64) {
	for j := 0; j < p.nBundles; j++ {
		b := &p.bundles[j]
		scale := p.l.Scale[b.g]
		if scale <= 0 {
			scale = alloc[b.g]
		}
		if scale <= 0 {
			continue
		}
		u, bind := b.units(before)
		uAfter, _ := b.units(after)
		if d := u - uAfter - b.own; d > 0 {
			waste += d / scale
		}
		// bind >= 0 only when the node serves fewer units than its free g,
		// so free g is positive.
		if pg := p.pod[b.g]; !p.noFit && pg > 0 && bind >= 0 && p.pod[b.dims[bind]] < pg*b.ratio[bind] {
			fit += pg * (1 - u/before[b.g]) / scale
		}
	}
	return waste, fit
}

// Evaluate judges placing the plan's pod on a node. It allocates nothing.
func (p *Plan) Evaluate(alloc, used *Vec) Eval {
	l := p.l
	var e Eval
	var pw, pSum float64
	for j := 0; j < p.nPack; j++ {
		i := p.packDims[j]
		if alloc[i] > 0 {
			w := l.Weights[i]
			pw += w
			if scale := l.Scale[i]; scale > 0 {
				// Free capacity left in units of the largest node: best
				// fit across node sizes, so a small node's leftover is
				// used before a large node is broken into.
				if f := alloc[i] - used[i] - p.pod[i]; f <= 0 {
					pSum += w
				} else if f < scale {
					pSum += w * (1 - f/scale)
				}
				continue
			}
			if u := (used[i] + p.pod[i]) / alloc[i]; u >= 1 {
				pSum += w
			} else if u > 0 {
				pSum += w * u
			}
		}
	}
	if pw > 0 {
		e.Packing = pSum / pw
	}
	var before, after Vec
	p.freeBeforeAfter(alloc, used, &before, &after)
	var reachAfter, usableAfter Vec
	if p.nStrand > 0 {
		p.s.reachUsable(&after, &reachAfter, &usableAfter)
	}
	if p.nStrand > 0 && p.strandWeight > 0 {
		var reachBefore Vec
		p.s.reachUsable(&before, &reachBefore, nil)
		var sum float64
		for j := 0; j < p.nStrand; j++ {
			i := p.strandDims[j]
			scale := l.Scale[i]
			if scale <= 0 {
				scale = alloc[i]
			}
			if scale <= 0 {
				continue // the node has none: nothing to fragment
			}
			d := (after[i] - reachAfter[i]) - (before[i] - reachBefore[i])
			sum += l.fragWeight(int(i)) * d / scale
		}
		e.Fragmentation = math.Max(-1, math.Min(1, sum/p.strandWeight))
	}
	if !p.requestsScarce {
		for j := 0; j < p.nScarce; j++ {
			if after[p.scarceDims[j]] > 0 {
				e.Scarce = true
				break
			}
		}
	}
	var level float64
	if p.w.Level > 0 && p.nStrand > 0 {
		level = strandedShare(l, p.s, alloc, &after, &usableAfter)
	}
	if p.w.Host > 0 && p.hosts != nil {
		e.HostCost = max(0, p.hostCost(&before, &after)-p.hostBase)
	}
	if p.nBundles > 0 {
		e.BundleWaste, e.BundleFit = p.bundleTerm(alloc, &before, &after)
	}
	// The host and bundle terms are penalties in units of the other terms'
	// weights, so placements that take no shape's host and waste no bundle
	// score exactly as without them.
	if tw := p.w.Packing + p.w.Stranding + p.w.Level; tw > 0 {
		e.Score = (p.w.Packing*e.Packing + p.w.Stranding*(1-e.Fragmentation)/2 + p.w.Level*(1-level) - p.w.Host*e.HostCost - p.w.Bundle*(e.BundleWaste-e.BundleFit)) / tw
	}
	e.Score = clamp01(e.Score)
	return e
}

func clamp01(x float64) float64 {
	if !(x >= 0) { // also catches NaN
		return 0
	}
	if x > 1 {
		return 1
	}
	return x
}
