package stranding

import (
	"math"

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
}

// NewLayout returns an empty layout.
func NewLayout() Layout { return Layout{PodsDim: -1} }

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
}

// Add appends a shape (ignored when full or empty in this layout).
func (s *Shapes) Add(l *Layout, v Vec) {
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
			s.inv[k][s.nnz[k]] = 1 / v[i]
			s.nnz[k]++
		}
	}
	s.N++
}

// Weights of the two terms of R.
type Weights struct {
	Packing, Stranding float64
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
	usable := s.usable(free)
	var out Vec
	for i := 0; i < l.N; i++ {
		if s.Demanded[i] && i != l.PodsDim {
			out[i] = free[i] - usable[i]
		}
	}
	return out
}

// usable returns, per dimension, the most of free that one shape repeated
// can consume. Plain comparisons instead of math.Min/Max: the inputs are
// finite, and this loop is the Score hot path.
func (s *Shapes) usable(free *Vec) Vec {
	var usable Vec
	slots := math.MaxFloat64 // every shape takes one pod slot
	if s.N > 0 && s.podsDim >= 0 {
		slots = free[s.podsDim]
	}
	for k := 0; k < s.N; k++ {
		n := int(s.nnz[k])
		nz, inv := &s.nz[k], &s.inv[k]
		c := slots
		for j := 0; j < n; j++ {
			if q := free[nz[j]] * inv[j]; q < c {
				c = q
				if c < 1 {
					break // does not fit even once
				}
			}
		}
		if c < 1 || n == 0 {
			continue
		}
		if c < 1<<62 {
			c = float64(int64(c)) // floor of a positive number
		} else {
			c = math.Floor(c)
		}
		shape := &s.V[k]
		for j := 0; j < n; j++ {
			i := nz[j]
			u := c * shape[i]
			if u > free[i] {
				u = free[i]
			}
			if u > usable[i] {
				usable[i] = u
			}
		}
	}
	return usable
}

// Eval is the model's verdict on one placement.
type Eval struct {
	Packing   float64 // P in [0, 1]
	Stranding float64 // S in [0, 1]
	Score     float64 // R in [0, 1]
	Scarce    bool    // the pod would sit on free scarce capacity it does not use
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

	// packDims count towards P, strandDims towards S, scarceDims towards the tier.
	packDims, strandDims, scarceDims [MaxDims]uint8
	nPack, nStrand, nScarce          int
	requestsScarce                   bool
}

// NewPlan prepares the evaluation of pod against many nodes.
func NewPlan(l *Layout, s *Shapes, w Weights, pod *Vec) Plan {
	p := Plan{l: l, s: s, w: w, pod: *pod}
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
		}
	}
	return p
}

// Evaluate judges placing the plan's pod on a node. It allocates nothing.
func (p *Plan) Evaluate(alloc, used *Vec) Eval {
	l := p.l
	var free Vec
	for i := 0; i < l.N; i++ {
		if f := alloc[i] - used[i] - p.pod[i]; f > 0 {
			free[i] = f
		}
	}
	var e Eval
	var pw, pSum, sw, sSum float64
	for j := 0; j < p.nPack; j++ {
		i := p.packDims[j]
		if alloc[i] > 0 {
			w := l.Weights[i]
			pw += w
			if u := (used[i] + p.pod[i]) / alloc[i]; u >= 1 {
				pSum += w
			} else if u > 0 {
				pSum += w * u
			}
		}
	}
	if p.nStrand > 0 {
		usable := p.s.usable(&free)
		for j := 0; j < p.nStrand; j++ {
			i := p.strandDims[j]
			if alloc[i] > 0 {
				w := l.Weights[i]
				sw += w
				if st := (free[i] - usable[i]) / alloc[i]; st >= 1 {
					sSum += w
				} else {
					sSum += w * st
				}
			}
		}
	}
	if pw > 0 {
		e.Packing = pSum / pw
	}
	if sw > 0 {
		e.Stranding = sSum / sw
	}
	if !p.requestsScarce {
		for j := 0; j < p.nScarce; j++ {
			if free[p.scarceDims[j]] > 0 {
				e.Scarce = true
				break
			}
		}
	}
	if tw := p.w.Packing + p.w.Stranding; tw > 0 {
		e.Score = (p.w.Packing*e.Packing + p.w.Stranding*(1-e.Stranding)) / tw
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
