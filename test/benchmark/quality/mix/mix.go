package mix

import (
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// File names of an openb trace directory; Generated.Write uses them, so a
// written mix is a trace directory of its own.
const (
	NodeFile = "openb_node_list_all_node.csv"
	PodFile  = "openb_pod_list_default.csv"
)

// Mix is one workload mix: changes to a pod list and its node pool. The
// zero value changes nothing.
type Mix struct {
	Name string
	// CPUScale multiplies cpu_milli and memory_mib of the CPU-only pods
	// (num_gpu 0 and gpu_milli 0); 0 or 1 keeps them.
	CPUScale float64
	// MultiGPUShare raises the share of GPU pods that ask for more than one
	// GPU to this (0: unchanged): 1-GPU pods, chosen at random, take the
	// requests (cpu_milli, memory_mib, num_gpu, gpu_milli, gpu_spec) of a
	// multi-GPU pod of the list, chosen at random, so the multi-GPU shapes
	// keep the list's proportions. Names and times are kept.
	MultiGPUShare float64
	// ConstrainedShare raises the share of GPU pods with a gpu_spec to this
	// (0: unchanged): GPU pods without one, chosen at random, get one model
	// (or the spec) drawn in the trace's own proportions: those of the
	// list's gpu_spec values if it has any, else each GPU model's share of
	// the pool's GPUs (node list, model column). Only specs with a node of
	// the pool that fits the pod empty are drawn (weights renormalised); a
	// pod no spec fits is passed over for the next one.
	ConstrainedShare float64
	Pool             Pool
}

// Pool changes the node list.
type Pool struct {
	// HomogeneousGPU replaces the GPU nodes by nodes of one shape, the most
	// common GPU node shape of the list (cpu, memory, GPUs, model; ties to
	// more GPUs, then the first listed), as many as hold at least the
	// list's GPUs. CPU-only nodes stay, first.
	HomogeneousGPU bool
	// CPUNodeCopies lists every CPU-only node this many times (copies
	// <sn>-c1, <sn>-c2, ... follow the node); 0 or 1 keeps them once.
	CPUNodeCopies int
}

// Family is the benchmark's workload-mix family: the baseline and one
// change at a time, except cpu-heavy, where a CPU-heavy pool meets the
// CPU-heavy demand it is for (cpu-x2.5 is the same demand on openb's pool).
func Family() []Mix {
	return []Mix{
		{Name: "openb"},
		{Name: "cpu-x0.5", CPUScale: 0.5},
		{Name: "cpu-x1.5", CPUScale: 1.5},
		{Name: "cpu-x2.5", CPUScale: 2.5},
		{Name: "multi-gpu", MultiGPUShare: 0.1},
		{Name: "gpu-spec", ConstrainedShare: 1.0 / 3},
		{Name: "homogeneous-gpu", Pool: Pool{HomogeneousGPU: true}},
		{Name: "cpu-heavy", CPUScale: 2.5, Pool: Pool{CPUNodeCopies: 3}},
	}
}

// Parse returns the family mix of that name, or a mix from a list of
// key=value settings separated by commas: cpu (CPUScale), multi
// (MultiGPUShare), constrained (ConstrainedShare), homogeneous (true or
// false), cpu-copies (CPUNodeCopies), name. Example:
// "cpu=3,cpu-copies=2,name=my-mix". A mix without a name is named by its
// settings.
func Parse(s string) (Mix, error) {
	for _, m := range Family() {
		if m.Name == s {
			return m, nil
		}
	}
	if !strings.Contains(s, "=") {
		var names []string
		for _, m := range Family() {
			names = append(names, m.Name)
		}
		return Mix{}, fmt.Errorf("mix %q: not a family mix (%s) nor key=value settings", s, strings.Join(names, ", "))
	}
	var m Mix
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		var err error
		switch k {
		case "name":
			m.Name = v
		case "cpu":
			m.CPUScale, err = strconv.ParseFloat(v, 64)
		case "multi":
			m.MultiGPUShare, err = strconv.ParseFloat(v, 64)
		case "constrained":
			m.ConstrainedShare, err = strconv.ParseFloat(v, 64)
		case "homogeneous":
			m.Pool.HomogeneousGPU, err = strconv.ParseBool(v)
		case "cpu-copies":
			m.Pool.CPUNodeCopies, err = strconv.Atoi(v)
		default:
			return Mix{}, fmt.Errorf("mix %q: unknown setting %q (cpu, multi, constrained, homogeneous, cpu-copies, name)", s, k)
		}
		if err != nil {
			return Mix{}, fmt.Errorf("mix %q: %s: %w", s, k, err)
		}
	}
	if m.CPUScale < 0 || m.MultiGPUShare < 0 || m.MultiGPUShare > 1 || m.ConstrainedShare < 0 || m.ConstrainedShare > 1 || m.Pool.CPUNodeCopies < 0 {
		return Mix{}, fmt.Errorf("mix %q: scales and copies must be >= 0, shares within [0, 1]", s)
	}
	if m.Name == "" {
		m.Name = s
	}
	return m, nil
}

// Describe says what the mix changes, in words.
func (m Mix) Describe() string {
	var out []string
	if m.CPUScale > 0 && m.CPUScale != 1 {
		out = append(out, fmt.Sprintf("CPU-only pods' cpu and memory x%g", m.CPUScale))
	}
	if m.MultiGPUShare > 0 {
		out = append(out, fmt.Sprintf("%g%% of GPU pods multi-GPU", 100*m.MultiGPUShare))
	}
	if m.ConstrainedShare > 0 {
		out = append(out, fmt.Sprintf("%.0f%% of GPU pods constrained to GPU models (gpu_spec)", 100*m.ConstrainedShare))
	}
	if m.Pool.HomogeneousGPU {
		out = append(out, "GPU nodes replaced by the most common GPU node shape, same GPU count")
	}
	if m.Pool.CPUNodeCopies > 1 {
		out = append(out, fmt.Sprintf("CPU-only nodes x%d", m.Pool.CPUNodeCopies))
	}
	if len(out) == 0 {
		return "the lists as loaded"
	}
	return strings.Join(out, "; ")
}

// Generated is a mix applied to a trace.
type Generated struct {
	Mix         Mix
	Nodes, Pods *Table
	// Notes say what the generator changed, in numbers.
	Notes []string
}

// Write writes the generated lists into dir as NodeFile and PodFile (a
// trace directory bench-quality -openb can read).
func (g *Generated) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, NodeFile), g.Nodes.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, PodFile), g.Pods.Bytes(), 0o644)
}

// Generate applies the mix to an openb node list and pod list (neither is
// modified). The result is a function of seed, the mix's settings and the
// lists: every random step draws from its own stream of seed.
func (m Mix) Generate(seed uint64, nodes, pods *Table) (*Generated, error) {
	for _, c := range []string{"sn", "cpu_milli", "memory_mib", "gpu"} {
		if !nodes.Has(c) {
			return nil, fmt.Errorf("node list: no %s column (openb format: sn,cpu_milli,memory_mib,gpu[,model])", c)
		}
	}
	for _, c := range []string{"name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli"} {
		if !pods.Has(c) {
			return nil, fmt.Errorf("pod list: no %s column (openb format: name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec,...])", c)
		}
	}
	g := &Generated{Mix: m, Nodes: nodes.Clone(), Pods: pods.Clone()}
	ns, err := readNodes(g.Nodes)
	if err != nil {
		return nil, fmt.Errorf("node list: %w", err)
	}
	if m.Pool.HomogeneousGPU {
		if err := g.homogeneous(ns); err != nil {
			return nil, err
		}
		if ns, err = readNodes(g.Nodes); err != nil {
			return nil, err
		}
	}
	if m.Pool.CPUNodeCopies > 1 {
		g.copyCPUNodes(ns)
		if ns, err = readNodes(g.Nodes); err != nil {
			return nil, err
		}
	}
	ps, err := readPods(g.Pods)
	if err != nil {
		return nil, fmt.Errorf("pod list: %w", err)
	}
	if m.CPUScale > 0 && m.CPUScale != 1 {
		g.scaleCPU(ps, ns)
	}
	if m.MultiGPUShare > 0 {
		if err := g.multiGPU(seed, ps); err != nil {
			return nil, err
		}
	}
	if m.ConstrainedShare > 0 {
		if err := g.constrain(seed, ps, ns); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// vec is (cpu millicores, memory MiB, GPUs).
type vec [3]int64

func (v vec) fits(in vec) bool { return v[0] <= in[0] && v[1] <= in[1] && v[2] <= in[2] }

type node struct {
	v     vec
	model string
}

func readNodes(t *Table) ([]node, error) {
	out := make([]node, len(t.Rows))
	for i := range t.Rows {
		v, err := t.ints(i, "cpu_milli", "memory_mib", "gpu")
		if err != nil {
			return nil, err
		}
		out[i] = node{vec{v[0], v[1], v[2]}, t.Get(i, "model")}
	}
	return out, nil
}

type pod struct {
	v    vec
	spec string
}

func readPods(t *Table) ([]pod, error) {
	out := make([]pod, len(t.Rows))
	for i := range t.Rows {
		v, err := t.ints(i, "cpu_milli", "memory_mib", "num_gpu", "gpu_milli")
		if err != nil {
			return nil, err
		}
		if v[2] == 0 && v[3] > 0 {
			v[2] = 1 // as pkg/workload reads it
		}
		out[i] = pod{vec{v[0], v[1], v[2]}, normSpec(t.Get(i, "gpu_spec"))}
	}
	return out, nil
}

// normSpec sorts a gpu_spec's models and drops empty and repeated ones.
func normSpec(s string) string {
	var ms []string
	for _, m := range strings.Split(s, "|") {
		if m = strings.TrimSpace(m); m != "" {
			ms = append(ms, m)
		}
	}
	slices.Sort(ms)
	return strings.Join(slices.Compact(ms), "|")
}

// stream returns the random stream of one generator step.
func stream(seed uint64, step string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(step))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

func (g *Generated) notef(format string, a ...any) {
	g.Notes = append(g.Notes, fmt.Sprintf(format, a...))
}

func (g *Generated) homogeneous(ns []node) error {
	type shape struct {
		n   node
		row int
	}
	count := map[node]int{}
	var shapes []shape
	var gpus int64
	for i, n := range ns {
		if n.v[2] == 0 {
			continue
		}
		gpus += n.v[2]
		if count[n] == 0 {
			shapes = append(shapes, shape{n, i})
		}
		count[n]++
	}
	if len(shapes) == 0 {
		return fmt.Errorf("pool: the node list has no GPU node to make a homogeneous GPU pool of")
	}
	best := shapes[0]
	for _, s := range shapes[1:] {
		if c, b := count[s.n], count[best.n]; c > b || (c == b && s.n.v[2] > best.n.v[2]) {
			best = s
		}
	}
	n := int((gpus + best.n.v[2] - 1) / best.n.v[2])
	t := g.Nodes
	var rows [][]string
	for i, nd := range ns {
		if nd.v[2] == 0 {
			rows = append(rows, t.Rows[i])
		}
	}
	cpuNodes := len(rows)
	sn := t.col["sn"]
	for i := range n {
		r := slices.Clone(t.Rows[best.row])
		r[sn] = fmt.Sprintf("hgpu-node-%04d", i)
		rows = append(rows, r)
	}
	t.Rows = rows
	g.notef("pool: %d GPU nodes (%d GPUs) replaced by %d nodes of the most common GPU node shape %s (%d GPUs); %d CPU-only nodes kept",
		len(ns)-cpuNodes, gpus, n, nodeString(best.n), int64(n)*best.n.v[2], cpuNodes)
	return nil
}

func nodeString(n node) string {
	s := fmt.Sprintf("%g cores / %g GiB / %d GPUs", float64(n.v[0])/1000, float64(n.v[1])/1024, n.v[2])
	if n.model != "" {
		s += " " + n.model
	}
	return s
}

func (g *Generated) copyCPUNodes(ns []node) {
	t := g.Nodes
	sn := t.col["sn"]
	var rows [][]string
	cpuNodes, added := 0, 0
	for i, nd := range ns {
		rows = append(rows, t.Rows[i])
		if nd.v[2] > 0 {
			continue
		}
		cpuNodes++
		for c := 1; c < g.Mix.Pool.CPUNodeCopies; c++ {
			r := slices.Clone(t.Rows[i])
			r[sn] = fmt.Sprintf("%s-c%d", r[sn], c)
			rows = append(rows, r)
			added++
		}
	}
	t.Rows = rows
	g.notef("pool: %d CPU-only nodes listed %d times each (%d copies added)", cpuNodes, g.Mix.Pool.CPUNodeCopies, added)
}

func (g *Generated) scaleCPU(ps []pod, ns []node) {
	s := g.Mix.CPUScale
	t := g.Pods
	var n, unfit int
	var before, after [2]int64
	for i, p := range ps {
		if p.v[2] != 0 {
			continue
		}
		n++
		for j, c := range []string{"cpu_milli", "memory_mib"} {
			v := int64(math.Round(float64(p.v[j]) * s))
			before[j] += p.v[j]
			after[j] += v
			ps[i].v[j] = v
			t.Set(i, c, strconv.FormatInt(v, 10))
		}
		if !fitsSome(ps[i].v, ns, nil) {
			unfit++
		}
	}
	g.notef("%d CPU-only pods: cpu and memory x%g (%.0f → %.0f cores, %.0f → %.0f GiB)", n, s,
		float64(before[0])/1000, float64(after[0])/1000, float64(before[1])/1024, float64(after[1])/1024)
	if unfit > 0 {
		g.notef("%d of them now fit no node of the pool (they fail for every policy)", unfit)
	}
}

// fitsSome reports whether v fits some empty node of ns whose model is in
// models (any node when models is nil).
func fitsSome(v vec, ns []node, models []string) bool {
	for _, n := range ns {
		if (models == nil || slices.Contains(models, n.model)) && v.fits(n.v) {
			return true
		}
	}
	return false
}

// choose returns the first k of a random permutation of idx (all of them,
// permuted, when k >= len(idx) or k < 0).
func choose(r *rand.Rand, idx []int, k int) []int {
	idx = slices.Clone(idx)
	r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	if k >= 0 && k < len(idx) {
		idx = idx[:k]
	}
	return idx
}

func (g *Generated) multiGPU(seed uint64, ps []pod) error {
	var single, donors []int
	gpuPods := 0
	for i, p := range ps {
		switch {
		case p.v[2] == 1:
			single = append(single, i)
		case p.v[2] > 1:
			donors = append(donors, i)
		}
		if p.v[2] > 0 {
			gpuPods++
		}
	}
	target := int(math.Ceil(g.Mix.MultiGPUShare*float64(gpuPods) - 1e-9))
	k := target - len(donors)
	if k <= 0 {
		g.notef("multi-GPU pods: already %d of %d GPU pods, nothing changed", len(donors), gpuPods)
		return nil
	}
	if len(donors) == 0 {
		return fmt.Errorf("multi-GPU share: the pod list has no multi-GPU pod to take requests from")
	}
	r := stream(seed, "multi-gpu")
	t := g.Pods
	cols := []string{"cpu_milli", "memory_mib", "num_gpu", "gpu_milli"}
	if t.Has("gpu_spec") {
		cols = append(cols, "gpu_spec")
	}
	byGPUs := map[int64]int{}
	chosen := choose(r, single, k)
	for _, i := range chosen {
		d := donors[r.IntN(len(donors))]
		for _, c := range cols {
			t.Set(i, c, t.Get(d, c))
		}
		ps[i] = ps[d]
		byGPUs[ps[d].v[2]]++
	}
	var split []string
	for _, n := range slices.Sorted(maps.Keys(byGPUs)) {
		split = append(split, fmt.Sprintf("%d with %d GPUs", byGPUs[n], n))
	}
	g.notef("multi-GPU pods: %d → %d of %d GPU pods; %d 1-GPU pods took the requests of a multi-GPU pod of the list (%s)",
		len(donors), len(donors)+len(chosen), gpuPods, len(chosen), strings.Join(split, ", "))
	return nil
}

// weight is a gpu_spec and its weight in the trace.
type weight struct {
	spec   string
	models []string
	w      float64
}

// specWeights are the trace's model proportions: its pods' gpu_spec values
// by count if any pod has one, else the pool's models by GPUs.
func specWeights(ps []pod, ns []node) (ws []weight, source string) {
	byKey := map[string]float64{}
	for _, p := range ps {
		if p.spec != "" {
			byKey[p.spec]++
		}
	}
	source = "the pod list's gpu_spec values"
	if len(byKey) == 0 {
		for _, n := range ns {
			if n.model != "" && n.v[2] > 0 {
				byKey[n.model] += float64(n.v[2])
			}
		}
		source = "each model's share of the pool's GPUs"
	}
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		ws = append(ws, weight{k, strings.Split(k, "|"), byKey[k]})
	}
	return ws, source
}

func (g *Generated) constrain(seed uint64, ps []pod, ns []node) error {
	ws, source := specWeights(ps, ns)
	if len(ws) == 0 {
		return fmt.Errorf("GPU-model constraints: the node list names no GPU model (model column) to constrain pods to")
	}
	var free []int
	gpuPods, have := 0, 0
	for i, p := range ps {
		if p.v[2] == 0 {
			continue
		}
		gpuPods++
		if p.spec != "" {
			have++
		} else {
			free = append(free, i)
		}
	}
	k := int(math.Round(g.Mix.ConstrainedShare*float64(gpuPods))) - have
	if k <= 0 {
		g.notef("GPU-model constraints: already %d of %d GPU pods, nothing changed", have, gpuPods)
		return nil
	}
	r := stream(seed, "gpu-spec")
	t := g.Pods
	count := map[string]int{}
	done, passed := 0, 0
	feasible := make([]float64, len(ws))
	for _, i := range choose(r, free, -1) {
		if done == k {
			break
		}
		var total float64
		for j, w := range ws {
			feasible[j] = 0
			if fitsSome(ps[i].v, ns, w.models) {
				feasible[j] = w.w
				total += w.w
			}
		}
		if total == 0 {
			passed++
			continue
		}
		x := r.Float64() * total
		j := 0
		for ; j < len(ws)-1; j++ {
			if x < feasible[j] {
				break
			}
			x -= feasible[j]
		}
		for feasible[j] == 0 { // rounding at the end: the last feasible spec
			j--
		}
		t.Set(i, "gpu_spec", ws[j].spec)
		ps[i].spec = ws[j].spec
		count[ws[j].spec]++
		done++
	}
	var total float64
	for _, w := range ws {
		total += w.w
	}
	var split []string
	for _, w := range ws {
		split = append(split, fmt.Sprintf("%s %d (%.1f%%; weight %.1f%%)", w.spec, count[w.spec], 100*float64(count[w.spec])/float64(max(1, done)), 100*w.w/total))
	}
	g.notef("GPU-model constraints: %d → %d of %d GPU pods have a gpu_spec, drawn in proportion to %s: %s",
		have, have+done, gpuPods, source, strings.Join(split, ", "))
	if passed > 0 {
		g.notef("%d GPU pods drawn were passed over: no node of any model fits them", passed)
	}
	if done < k {
		g.notef("only %d of the %d constraints wanted could be placed on pods some model fits", done, k)
	}
	return nil
}
