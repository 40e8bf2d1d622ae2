package quality

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"

	"github.com/snug-sched/snug/pkg/workload"
)

// Pool is protocol C's node pool when pods are bound to GPU models: one node
// shape per GPU model of the node list and one deterministic sequence of
// those shapes, of which the pool of N nodes is the first N (node i is
// named c-%05d as in the single-shape protocol). So pool(N) is part of
// pool(N+1), and a policy that hosts the pods on N nodes has at least as
// much room on N+1.
//
// Sequence: first one node of each model some constrained pod accepts
// (Demanded), largest target share first; then each next node goes to the
// model furthest below its target share of the pool's GPUs, the largest
// Target - (model's GPUs)/(pool's GPUs), ties to the larger target share,
// then the model's name. A model's target share is its share of the GPU
// demand the pool must serve: each pod's GPUs are split over the models it
// accepts in proportion to their share of the node list's GPUs (TraceShare),
// so a pod constrained to one model counts for that model only and an
// unconstrained pod is split by the trace's GPU share per model.
type Pool struct {
	// Shapes are the models' node shapes, by model name.
	Shapes []PoolShape
}

// PoolShape is one GPU model's node shape in the pool.
type PoolShape struct {
	// NodeShape is the node list's most common GPU-node shape of the model
	// (cpu, memory, GPUs, pod slots; ties to the node with more GPUs, then
	// cpu, memory, pods).
	NodeShape
	// Nodes of the node list with the shape, of ModelNodes GPU nodes of the
	// model.
	Nodes, ModelNodes int
	// TraceShare is the model's share of the node list's GPUs (over GPU
	// nodes with a model label).
	TraceShare float64
	// ConstrainedGPUs is the GPU demand of pods that accept only this model;
	// DemandGPUs the model's part of the whole GPU demand (see Pool) and
	// Target its share of it.
	ConstrainedGPUs, DemandGPUs, Target float64
	// Demanded: some pod constrained to GPU models accepts this one, so the
	// sequence starts with a node of it.
	Demanded bool
}

// maxPoolModels bounds the models of a pool (accepted sets are bit masks).
const maxPoolModels = 64

// PoolShapes returns the node list's GPU models and, for each, its most
// common GPU-node shape, by model name. GPU nodes without a model label
// and nodes without GPUs are not counted.
func PoolShapes(nodes []*corev1.Node) []PoolShape {
	type key struct {
		model                string
		cpu, mem, gpus, pods int64
	}
	counts := map[key]int{}
	modelNodes := map[string]int{}
	modelGPUs := map[string]float64{}
	var gpus float64
	for _, n := range nodes {
		model := NodeGPUModel(n)
		a := n.Status.Allocatable
		g := a[workload.GPUResource]
		if model == "" || g.Value() <= 0 {
			continue
		}
		c, m, p := a[corev1.ResourceCPU], a[corev1.ResourceMemory], a[corev1.ResourcePods]
		counts[key{model, c.MilliValue(), m.Value(), g.Value(), p.Value()}]++
		modelNodes[model]++
		modelGPUs[model] += float64(g.Value())
		gpus += float64(g.Value())
	}
	best := map[string]key{}
	for k, n := range counts {
		b, ok := best[k.model]
		if !ok || n > counts[b] || n == counts[b] && larger(k.gpus, k.cpu, k.mem, k.pods, b.gpus, b.cpu, b.mem, b.pods) {
			best[k.model] = k
		}
	}
	var out []PoolShape
	for _, model := range slices.Sorted(maps.Keys(best)) {
		k := best[model]
		out = append(out, PoolShape{NodeShape: NodeShape{CPUMilli: k.cpu, MemBytes: k.mem, GPUs: k.gpus, Pods: k.pods, Model: model},
			Nodes: counts[k], ModelNodes: modelNodes[model], TraceShare: modelGPUs[model] / gpus})
	}
	return out
}

// larger compares two vectors lexicographically.
func larger(a0, a1, a2, a3, b0, b1, b2, b3 int64) bool {
	return slices.Compare([]int64{a0, a1, a2, a3}, []int64{b0, b1, b2, b3}) > 0
}

// PoolError says why a pod list cannot be sized as a pool.
type PoolError struct {
	Reason string
}

func (e *PoolError) Error() string { return e.Reason }

// NewPool sizes protocol C's pool for pods on the GPU models of nodes: the
// models' shapes (PoolShapes), the pods that fit an empty node of a shape
// they accept (fit) and those that fit none (oversize, left out), and the
// models' target shares of the fit pods' GPU demand. A pod accepts a shape
// when its required node affinity matches a node of the shape. It fails
// with a *PoolError when the node list has no GPU model or a pod accepts no
// shape of the pool.
func NewPool(nodes []*corev1.Node, pods []*corev1.Pod) (p *Pool, fit, oversize []*corev1.Pod, err error) {
	p = &Pool{Shapes: PoolShapes(nodes)}
	if len(p.Shapes) == 0 {
		return nil, nil, nil, &PoolError{"the node list has no GPU node with a " + workload.LabelGPUModel + " label, so no pool of GPU models can be sized"}
	}
	if len(p.Shapes) > maxPoolModels {
		return nil, nil, nil, &PoolError{fmt.Sprintf("the node list has %d GPU models, more than the %d a pool can have", len(p.Shapes), maxPoolModels)}
	}
	masks, err := p.accepts(pods)
	if err != nil {
		return nil, nil, nil, err
	}
	all := p.all()
	for i, pod := range pods {
		v := PodVec(pod)
		if p.fitsSome(masks[i], v) {
			fit = append(fit, pod)
		} else {
			oversize = append(oversize, pod)
			continue
		}
		g := v[GPU]
		if masks[i] != all {
			for k := range p.Shapes {
				if masks[i]&(1<<k) != 0 {
					p.Shapes[k].Demanded = true
				}
			}
			if bits(masks[i]) == 1 {
				p.Shapes[firstBit(masks[i])].ConstrainedGPUs += g
			}
		}
		if g == 0 {
			continue
		}
		var w float64
		for k, s := range p.Shapes {
			if masks[i]&(1<<k) != 0 {
				w += s.TraceShare
			}
		}
		for k, s := range p.Shapes {
			if masks[i]&(1<<k) != 0 {
				p.Shapes[k].DemandGPUs += g * s.TraceShare / w
			}
		}
	}
	var total float64
	for _, s := range p.Shapes {
		total += s.DemandGPUs
	}
	for k := range p.Shapes {
		if total > 0 {
			p.Shapes[k].Target = p.Shapes[k].DemandGPUs / total
		} else {
			p.Shapes[k].Target = p.Shapes[k].TraceShare // no GPU demand: the trace's mix
		}
	}
	return p, fit, oversize, nil
}

func (p *Pool) all() uint64 {
	if len(p.Shapes) == 64 {
		return math.MaxUint64
	}
	return 1<<len(p.Shapes) - 1
}

func bits(m uint64) int {
	n := 0
	for ; m != 0; m &= m - 1 {
		n++
	}
	return n
}

func firstBit(m uint64) int {
	for k := 0; k < 64; k++ {
		if m&(1<<k) != 0 {
			return k
		}
	}
	return -1
}

// accepts returns, per pod, the bit mask of the pool shapes whose node its
// required node affinity matches, or a *PoolError if a pod accepts none.
func (p *Pool) accepts(pods []*corev1.Pod) ([]uint64, error) {
	sample := make([]*corev1.Node, len(p.Shapes))
	for k, s := range p.Shapes {
		sample[k] = s.Node(0)
	}
	masks := make([]uint64, len(pods))
	var refused refusals
	for i, pod := range pods {
		aff := nodeaffinity.GetRequiredNodeAffinity(pod)
		for k, n := range sample {
			if ok, err := aff.Match(n); err == nil && ok {
				masks[i] |= 1 << k
			}
		}
		if masks[i] == 0 {
			refused.add(pod)
		}
	}
	if refused.n > 0 {
		var have []string
		for _, s := range p.Shapes {
			have = append(have, s.Model)
		}
		return nil, &PoolError{fmt.Sprintf("%d pods accept no node of the pool, whose node shapes are the node list's GPU models (%s), "+
			"so no node count hosts them under any policy (%s)", refused.n, strings.Join(have, ", "), refused.accept())}
	}
	return masks, nil
}

// refusals counts pods that no node can take and the GPU models they
// accept, for the reason a protocol cannot size them.
type refusals struct {
	n      int
	models map[string]bool
}

func (r *refusals) add(pod *corev1.Pod) {
	r.n++
	for _, m := range workload.GPUModels(pod) {
		if r.models == nil {
			r.models = map[string]bool{}
		}
		r.models[m] = true
	}
}

// accept says what the refused pods accept.
func (r *refusals) accept() string {
	if len(r.models) == 0 {
		return "other node affinity"
	}
	return "GPU models they accept: " + strings.Join(slices.Sorted(maps.Keys(r.models)), ", ")
}

// fitsSome reports whether v fits an empty node of a shape of mask.
func (p *Pool) fitsSome(mask uint64, v Vec3) bool {
	for k, s := range p.Shapes {
		if mask&(1<<k) != 0 && s.Fits(v) {
			return true
		}
	}
	return false
}

// SplitOversize separates the pods that fit an empty node of some pool
// shape they accept from those that fit none (NewPool's split).
func (p *Pool) SplitOversize(pods []*corev1.Pod) (fit, oversize []*corev1.Pod, err error) {
	masks, err := p.accepts(pods)
	if err != nil {
		return nil, nil, err
	}
	for i, pod := range pods {
		if p.fitsSome(masks[i], PodVec(pod)) {
			fit = append(fit, pod)
		} else {
			oversize = append(oversize, pod)
		}
	}
	return fit, oversize, nil
}

// poolSeq generates the pool's sequence node by node.
type poolSeq struct {
	p      *Pool
	order  []int // the first round: demanded models, largest target first
	n      int
	count  []int
	gpus   []float64
	gpuSum float64
}

func (p *Pool) newSeq() *poolSeq {
	q := &poolSeq{p: p, count: make([]int, len(p.Shapes)), gpus: make([]float64, len(p.Shapes))}
	for k, s := range p.Shapes {
		if s.Demanded {
			q.order = append(q.order, k)
		}
	}
	sort.SliceStable(q.order, func(a, b int) bool {
		return p.Shapes[q.order[a]].Target > p.Shapes[q.order[b]].Target // ties: by name (Shapes' order)
	})
	return q
}

// next returns the shape of the next node.
func (q *poolSeq) next() int {
	k := -1
	if q.n < len(q.order) {
		k = q.order[q.n]
	} else {
		var gap float64
		for j, s := range q.p.Shapes {
			if s.Target <= 0 {
				continue
			}
			g := s.Target
			if q.gpuSum > 0 {
				g -= q.gpus[j] / q.gpuSum
			}
			if k < 0 || g > gap || g == gap && s.Target > q.p.Shapes[k].Target {
				k, gap = j, g
			}
		}
	}
	q.n++
	q.count[k]++
	q.gpus[k] += float64(q.p.Shapes[k].GPUs)
	q.gpuSum += float64(q.p.Shapes[k].GPUs)
	return k
}

// Sequence returns the shape (index into Shapes) of nodes 0 to n-1.
func (p *Pool) Sequence(n int) []int {
	q := p.newSeq()
	out := make([]int, n)
	for i := range out {
		out[i] = q.next()
	}
	return out
}

// Composition returns the number of nodes of each shape in the pool of n
// nodes.
func (p *Pool) Composition(n int) []int {
	out := make([]int, len(p.Shapes))
	for _, k := range p.Sequence(n) {
		out[k]++
	}
	return out
}

// CompositionString renders Composition, e.g. "G2 70, T4 25", largest
// count first (ties by model).
func (p *Pool) CompositionString(n int) string {
	c := p.Composition(n)
	idx := make([]int, 0, len(c))
	for k := range c {
		if c[k] > 0 {
			idx = append(idx, k)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return c[idx[a]] > c[idx[b]] })
	var parts []string
	for _, k := range idx {
		parts = append(parts, fmt.Sprintf("%s %d", p.Shapes[k].Model, c[k]))
	}
	return strings.Join(parts, ", ")
}

// Node returns node i of the pool given its shape k (Sequence).
func (p *Pool) Node(i, k int) *corev1.Node { return p.Shapes[k].Node(i) }

// SetBound is the lower bound's term for one set of accepted GPU models:
// the GPU demand of the pods that accept only models of the set must fit
// the GPUs of the set's models in the pool.
type SetBound struct {
	Models []string
	GPUs   float64
	Nodes  int
}

// maxPoolNodes stops the lower bound's scan (a pool this large is not
// simulated anyway).
const maxPoolNodes = 10_000_000

// LowerBound of pods (that fit: SplitOversize) on the pool: the smallest N
// whose pool(N) has the total cpu, memory, GPUs and pod slots the pods
// request and, for each distinct set S of models the pods accept (other
// than all of them), at least as many GPUs of models in S as the pods
// whose set is part of S request.
func (p *Pool) LowerBound(pods []*corev1.Pod) (LowerBound, error) {
	masks, err := p.accepts(pods)
	if err != nil {
		return LowerBound{}, err
	}
	var total Vec3
	setGPUs := map[uint64]float64{}
	all := p.all()
	for i, pod := range pods {
		v := PodVec(pod)
		for j := range total {
			total[j] += v[j]
		}
		if masks[i] != all {
			setGPUs[masks[i]] += 0 // the set exists even if its pods ask for no GPU
		}
	}
	sets := slices.Sorted(maps.Keys(setGPUs))
	for i, pod := range pods {
		g := PodVec(pod)[GPU]
		for _, s := range sets {
			if masks[i]&^s == 0 {
				setGPUs[s] += g
			}
		}
	}
	demand := [4]float64{total[CPU], total[Mem], total[GPU], float64(len(pods))}
	var lb LowerBound
	done := [4]bool{}
	for j, d := range demand {
		done[j] = d <= 0
	}
	setDone := make([]bool, len(sets))
	for j, s := range sets {
		setDone[j] = setGPUs[s] <= 0
		lb.Sets = append(lb.Sets, SetBound{Models: p.models(s), GPUs: setGPUs[s]})
	}
	var have [4]float64
	setHave := make([]float64, len(sets))
	q := p.newSeq()
	for n := 1; ; n++ {
		if !slices.Contains(done[:], false) && !slices.Contains(setDone, false) {
			break
		}
		if n > maxPoolNodes {
			return LowerBound{}, &PoolError{fmt.Sprintf("no pool of up to %d nodes covers the demand", maxPoolNodes)}
		}
		k := q.next()
		s := p.Shapes[k]
		have[0] += float64(s.CPUMilli)
		have[1] += float64(s.MemBytes)
		have[2] += float64(s.GPUs)
		have[3] += float64(s.Pods)
		for j := range have {
			if !done[j] && have[j] >= demand[j]-1e-9 {
				done[j], lb.PerResource[j] = true, n
			}
		}
		for j, set := range sets {
			if set&(1<<k) != 0 {
				setHave[j] += float64(s.GPUs)
			}
			if !setDone[j] && setHave[j] >= setGPUs[set]-1e-9 {
				setDone[j], lb.Sets[j].Nodes = true, n
			}
		}
	}
	for _, n := range lb.PerResource {
		lb.Nodes = max(lb.Nodes, n)
	}
	for _, s := range lb.Sets {
		lb.Nodes = max(lb.Nodes, s.Nodes)
	}
	return lb, nil
}

// models returns the models of a mask's shapes.
func (p *Pool) models(mask uint64) []string {
	var out []string
	for k, s := range p.Shapes {
		if mask&(1<<k) != 0 {
			out = append(out, s.Model)
		}
	}
	return out
}

// Binding names the terms of the lower bound that reach its node count:
// "cpu", "memory", "GPUs", "pod slots", or "GPUs of pods accepting only
// T4" for a set of models.
func (lb LowerBound) Binding() []string {
	if lb.Nodes == 0 {
		return nil
	}
	var out []string
	for j, name := range []string{"cpu", "memory", "GPUs", "pod slots"} {
		if lb.PerResource[j] == lb.Nodes {
			out = append(out, name)
		}
	}
	for _, s := range lb.Sets {
		if s.Nodes == lb.Nodes {
			out = append(out, "GPUs of pods accepting only "+strings.Join(s.Models, " or "))
		}
	}
	return out
}
