package stranding

import (
	"math"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

const gpu corev1.ResourceName = "nvidia.com/gpu"

// Dimension indexes of testLayout.
const (
	dCPU = iota
	dMem
	dPods
	dGPU
)

// testLayout is cpu, memory, pods and a scarce nvidia.com/gpu, weight 1 each.
// Units are whatever the test says (millicores and GiB below): the model
// only ever divides quantities of the same dimension.
func testLayout(t *testing.T) *Layout {
	t.Helper()
	l := NewLayout()
	for i, r := range []struct {
		name   corev1.ResourceName
		scarce bool
	}{{corev1.ResourceCPU, false}, {corev1.ResourceMemory, false}, {corev1.ResourcePods, false}, {gpu, true}} {
		if got := l.Add(r.name, 1, r.scarce); got != i {
			t.Fatalf("Add(%s) = %d, want %d", r.name, got, i)
		}
	}
	if l.PodsDim != dPods {
		t.Fatalf("PodsDim = %d, want %d", l.PodsDim, dPods)
	}
	return &l
}

// vec builds a vector in testLayout's dimensions.
func vec(cpu, mem, pods, g float64) Vec {
	var v Vec
	v[dCPU], v[dMem], v[dPods], v[dGPU] = cpu, mem, pods, g
	return v
}

func shapesOf(l *Layout, vs ...Vec) *Shapes {
	var s Shapes
	for _, v := range vs {
		s.Add(l, v)
	}
	return &s
}

var defaultWeights = Weights{Packing: 1, Stranding: 2}

const eps = 1e-9

func near(a, b float64) bool { return math.Abs(a-b) <= eps }

func TestLayout(t *testing.T) {
	l := testLayout(t)
	if got := l.Index(corev1.ResourceMemory); got != dMem {
		t.Errorf("Index(memory) = %d, want %d", got, dMem)
	}
	if got := l.Index("example.com/foo"); got != -1 {
		t.Errorf("Index(unknown) = %d, want -1", got)
	}
	// Re-adding keeps the index and weight but can only raise scarcity.
	if got := l.Add(corev1.ResourceCPU, 7, true); got != dCPU || l.Weights[dCPU] != 1 || !l.Scarce[dCPU] || l.N != 4 {
		t.Errorf("re-Add(cpu) = %d, weight %v, scarce %v, N %d; want %d, 1, true, 4", got, l.Weights[dCPU], l.Scarce[dCPU], l.N, dCPU)
	}
	l.Add(corev1.ResourceCPU, 1, false)
	if !l.Scarce[dCPU] {
		t.Errorf("re-Add(cpu, scarce=false) cleared scarcity")
	}
	full := NewLayout()
	for i := 0; i < MaxDims; i++ {
		full.Add(corev1.ResourceName("example.com/r"+string(rune('a'+i))), 1, false)
	}
	if got := full.Add("example.com/overflow", 1, false); got != -1 || full.N != MaxDims {
		t.Errorf("Add on full layout = %d (N %d), want -1 (N %d)", got, full.N, MaxDims)
	}
}

// Layouts built from map keys (a node's allocatable) come out in name
// order on every build, and when there are more names than MaxDims the same
// ones are kept.
func TestLayoutAddSortedIsDeterministic(t *testing.T) {
	allocatable := map[corev1.ResourceName]bool{}
	for i := 0; i < MaxDims+4; i++ {
		allocatable[corev1.ResourceName("example.com/r"+string(rune('a'+i)))] = true
	}
	var want []corev1.ResourceName
	for i := 0; i < 20; i++ {
		l := NewLayout()
		l.Add(corev1.ResourceCPU, 1, false)
		names := make([]corev1.ResourceName, 0, len(allocatable)+1)
		for name := range allocatable {
			names = append(names, name)
		}
		names = append(names, corev1.ResourceCPU, "example.com/ra") // present, duplicate
		l.AddSorted(names, 2, func(n corev1.ResourceName) bool { return n == "example.com/rb" })
		got := l.Names[:l.N]
		if i == 0 {
			want = slices.Clone(got)
			if !slices.IsSorted(want[1:]) || want[0] != corev1.ResourceCPU || want[1] != "example.com/ra" || l.N != MaxDims {
				t.Fatalf("layout %v, want cpu then the first %d names in order", want, MaxDims-1)
			}
			if l.Weights[1] != 2 || l.Scarce[1] || !l.Scarce[2] {
				t.Fatalf("weights %v, scarce %v", l.Weights[:l.N], l.Scarce[:l.N])
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("build %d: layout %v, build 0: %v", i, got, want)
		}
	}
}

func TestShapesAdd(t *testing.T) {
	l := testLayout(t)
	var s Shapes
	s.Add(l, vec(0, 0, 5, 0)) // only pods: no demand, ignored
	s.Add(l, Vec{})           // empty, ignored
	if s.N != 0 {
		t.Fatalf("empty shapes were added: N = %d", s.N)
	}
	s.Add(l, vec(500, 0, 0, 0))
	if s.N != 1 || s.V[0][dPods] != 1 {
		t.Fatalf("N = %d, pods = %v; want 1, 1 (every pod takes one slot)", s.N, s.V[0][dPods])
	}
	if want := [MaxDims]bool{dCPU: true}; s.Demanded != want {
		t.Errorf("Demanded = %v, want only cpu", s.Demanded[:l.N])
	}
	for i := 0; i < MaxShapes+3; i++ {
		s.Add(l, vec(1, 1, 0, 0))
	}
	if s.N != MaxShapes {
		t.Errorf("N = %d after overfilling, want %d", s.N, MaxShapes)
	}
}

// A shape fits free exactly n times when free is n times the shape, also
// for requests whose reciprocal rounds down (v*(1/v) < 1), and one unit
// less does not fit the n-th time: the fit count is exact on integers.
func TestFitCountExact(t *testing.T) {
	l := testLayout(t)
	for _, v := range []float64{49, 98, 103, 850, 1450, 5500, 5800, 1000, 3 << 30, 385 << 30} {
		s := shapesOf(l, vec(v, 0, 0, 1))
		for n := 1.0; n <= 8; n++ {
			free := vec(n*v, 0, 110, 8)
			if got := s.fit(0, &free, s.slots(&free)); got != n {
				t.Errorf("request %v in free %v: fits %v times, want %v", v, n*v, got, n)
			}
			if !s.FitsOnce(0, &free) {
				t.Errorf("request %v in free %v: FitsOnce false", v, n*v)
			}
			free[dCPU]--
			if got := s.fit(0, &free, s.slots(&free)); got != n-1 {
				t.Errorf("request %v in free %v: fits %v times, want %v", v, free[dCPU], got, n-1)
			}
		}
	}
}

func TestFreeAndStranded(t *testing.T) {
	l := testLayout(t)
	tests := []struct {
		name             string
		shapes           []Vec
		alloc, used, pod Vec
		wantFree         Vec
		wantStranded     Vec
	}{
		{
			// Kubernetes Patterns, Figure 6-2: a CPU-heavy pod exhausts the
			// node's CPU; the memory left over is unusable by any pod.
			name:         "cpu exhausted strands all free memory",
			shapes:       []Vec{vec(1000, 2, 0, 0)},
			alloc:        vec(4000, 8, 10, 0),
			used:         vec(2000, 2, 2, 0),
			pod:          vec(2000, 1, 1, 0),
			wantFree:     vec(0, 5, 7, 0),
			wantStranded: vec(0, 5, 0, 0),
		},
		{
			name:         "free vector is a multiple of the shape",
			shapes:       []Vec{vec(1000, 2, 0, 0)},
			alloc:        vec(4000, 8, 10, 0),
			used:         vec(0, 3, 2, 0),
			pod:          vec(2000, 1, 1, 0),
			wantFree:     vec(2000, 4, 7, 0),
			wantStranded: vec(0, 0, 0, 0),
		},
		{
			// c = min(floor(2000/1000), floor(3/2)) = 1: the shape reaches
			// 1000m and 2 GiB; 1000m and 1 GiB stay stranded.
			name:         "partial fit strands the remainder",
			shapes:       []Vec{vec(1000, 2, 0, 0)},
			alloc:        vec(4000, 8, 10, 0),
			used:         vec(0, 4, 2, 0),
			pod:          vec(2000, 1, 1, 0),
			wantFree:     vec(2000, 3, 7, 0),
			wantStranded: vec(1000, 1, 0, 0),
		},
		{
			// Two shapes: usable is the per-dimension max over shapes.
			// cpu-heavy (4000,2): c = min(1, 4) = 1 -> (4000, 2)
			// mem-heavy (1000,7): c = min(7, 1) = 1 -> (1000, 7)
			// usable (4000, 7), stranded (3000, 2).
			name:         "max over shapes",
			shapes:       []Vec{vec(4000, 2, 0, 0), vec(1000, 7, 0, 0)},
			alloc:        vec(8000, 16, 10, 0),
			used:         vec(0, 0, 0, 0),
			pod:          vec(1000, 7, 1, 0),
			wantFree:     vec(7000, 9, 9, 0),
			wantStranded: vec(3000, 2, 0, 0),
		},
		{
			// No pod slot left: no shape fits, everything free is stranded.
			name:         "pod slots exhausted",
			shapes:       []Vec{vec(1000, 2, 0, 0)},
			alloc:        vec(4000, 8, 3, 0),
			used:         vec(1000, 2, 2, 0),
			pod:          vec(1000, 2, 1, 0),
			wantFree:     vec(2000, 4, 0, 0),
			wantStranded: vec(2000, 4, 0, 0),
		},
		{
			// Memory is not demanded by any shape, so it never strands.
			name:         "undemanded dimension never strands",
			shapes:       []Vec{vec(1000, 0, 0, 0)},
			alloc:        vec(4000, 8, 10, 0),
			used:         vec(0, 0, 0, 0),
			pod:          vec(3500, 1, 1, 0),
			wantFree:     vec(500, 7, 9, 0),
			wantStranded: vec(500, 0, 0, 0),
		},
		{
			name:         "overcommitted node clamps free at zero",
			shapes:       []Vec{vec(1000, 2, 0, 0)},
			alloc:        vec(4000, 8, 10, 0),
			used:         vec(5000, 9, 2, 0),
			pod:          vec(100, 1, 1, 0),
			wantFree:     vec(0, 0, 7, 0),
			wantStranded: vec(0, 0, 0, 0),
		},
		{
			name:         "gpu shape strands free gpus once cpu is gone",
			shapes:       []Vec{vec(1000, 2, 0, 1)},
			alloc:        vec(4000, 16, 10, 4),
			used:         vec(3000, 2, 1, 1),
			pod:          vec(1000, 2, 1, 1),
			wantFree:     vec(0, 12, 8, 2),
			wantStranded: vec(0, 12, 0, 2),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := shapesOf(l, tc.shapes...)
			free := Free(l, &tc.alloc, &tc.used, &tc.pod)
			if free != tc.wantFree {
				t.Errorf("Free = %v, want %v", free[:l.N], tc.wantFree[:l.N])
			}
			if got := Stranded(l, s, &free); got != tc.wantStranded {
				t.Errorf("Stranded = %v, want %v", got[:l.N], tc.wantStranded[:l.N])
			}
		})
	}
}

func TestEvaluate(t *testing.T) {
	l := testLayout(t)
	// Shapes of the complementary-pods cases.
	cpuHeavy, memHeavy := vec(4000, 2, 0, 0), vec(1000, 7, 0, 0)
	tests := []struct {
		name             string
		shapes           []Vec
		alloc, used, pod Vec
		want             Eval
	}{
		{
			// Figure 6-2, node 1. One shape (1000, 2), rho = 1.
			// before (2000, 6): c = 2, reach (2000, 4), F (0, 2)
			// after  (0, 5):    c = 0, reach 0,         F (0, 5)
			// dF = (0/4000 + 3/8)/2 = 0.1875
			// P = (4000/4000 + 3/8 + 3/10)/3 = 1.675/3
			// R = (P + 2(1-dF)/2)/3
			name:   "fig 6-2: cpu-heavy pod exhausts cpu",
			shapes: []Vec{vec(1000, 2, 0, 0)},
			alloc:  vec(4000, 8, 10, 0), used: vec(2000, 2, 2, 0), pod: vec(2000, 1, 1, 0),
			want: Eval{Packing: 1.675 / 3, Fragmentation: 0.1875, Score: (1.675/3 + 0.8125) / 3},
		},
		{
			// Figure 6-2, node 2.
			// before (4000, 5): c = 2, reach (2000, 4), F (2000, 1)
			// after  (2000, 4): c = 2, reach (2000, 4), F (0, 0)
			// dF = (-2000/4000 - 1/8)/2 = -0.3125: the pod uses up fragments
			// P = (2000/4000 + 4/8 + 3/10)/3 = 1.3/3, R = (1.3/3 + 1.3125)/3
			name:   "fig 6-2: free vector still fits the shape",
			shapes: []Vec{vec(1000, 2, 0, 0)},
			alloc:  vec(4000, 8, 10, 0), used: vec(0, 3, 2, 0), pod: vec(2000, 1, 1, 0),
			want: Eval{Packing: 1.3 / 3, Fragmentation: -0.3125, Score: (1.3/3 + 1.3125) / 3},
		},
		{
			// Memory-heavy pod next to a cpu-heavy pod. Shapes weigh 1 each:
			// rho = 1/2 in cpu and memory.
			// before (4000, 14): cpu-heavy c = 1 -> (4000, 2), mem-heavy c = 2 -> (2000, 14)
			//   reach (3000, 8), F (1000, 6)
			// after (3000, 7): cpu-heavy c = 0, mem-heavy c = 1 -> (1000, 7)
			//   reach (500, 3.5), F (2500, 3.5)
			// dF = (1500/8000 - 2.5/16)/2 = 0.015625
			// P = (5000/8000 + 9/16 + 2/10)/3 = 0.4625
			// R = (0.4625 + 0.984375)/3
			name:   "complementary: mem-heavy pod beside a cpu-heavy pod",
			shapes: []Vec{cpuHeavy, memHeavy},
			alloc:  vec(8000, 16, 10, 0), used: vec(4000, 2, 1, 0), pod: vec(1000, 7, 1, 0),
			want: Eval{Packing: 0.4625, Fragmentation: 0.015625, Score: (0.4625 + 0.984375) / 3},
		},
		{
			// Memory-heavy pod on an empty node.
			// before (8000, 16): cpu-heavy c = 2 -> (8000, 4), mem-heavy c = 2 -> (2000, 14)
			//   reach (5000, 9), F (3000, 7)
			// after (7000, 9): cpu-heavy c = 1 -> (4000, 2), mem-heavy c = 1 -> (1000, 7)
			//   reach (2500, 4.5), F (4500, 4.5)
			// dF = (1500/8000 - 2.5/16)/2 = 0.015625, as beside the cpu-heavy
			// pod: only packing tells the two apart.
			// P = (1000/8000 + 7/16 + 1/10)/3 = 0.6625/3
			name:   "complementary: mem-heavy pod on an empty node",
			shapes: []Vec{cpuHeavy, memHeavy},
			alloc:  vec(8000, 16, 10, 0), used: vec(0, 0, 0, 0), pod: vec(1000, 7, 1, 0),
			want: Eval{Packing: 0.6625 / 3, Fragmentation: 0.015625, Score: (0.6625/3 + 0.984375) / 3},
		},
		{
			// Second cpu-heavy pod beside the first.
			// before (4000, 14): F (1000, 6) as above; after (0, 12): F (0, 12)
			// dF = (-1000/8000 + 6/16)/2 = 0.125
			// P = (8000/8000 + 4/16 + 2/10)/3 = 1.45/3, R = (1.45/3 + 0.875)/3
			name:   "complementary: second cpu-heavy pod strands memory",
			shapes: []Vec{cpuHeavy, memHeavy},
			alloc:  vec(8000, 16, 10, 0), used: vec(4000, 2, 1, 0), pod: vec(4000, 2, 1, 0),
			want: Eval{Packing: 1.45 / 3, Fragmentation: 0.125, Score: (1.45/3 + 0.875) / 3},
		},
		{
			// Second cpu-heavy pod on an empty node.
			// before (8000, 16): F (3000, 7); after (4000, 14): F (1000, 6)
			// dF = (-2000/8000 - 1/16)/2 = -0.15625
			// P = (4000/8000 + 2/16 + 1/10)/3 = 0.725/3, R = (0.725/3 + 1.15625)/3
			name:   "complementary: second cpu-heavy pod on an empty node",
			shapes: []Vec{cpuHeavy, memHeavy},
			alloc:  vec(8000, 16, 10, 0), used: vec(0, 0, 0, 0), pod: vec(4000, 2, 1, 0),
			want: Eval{Packing: 0.725 / 3, Fragmentation: -0.15625, Score: (0.725/3 + 1.15625) / 3},
		},
		{
			// Without shapes nothing is demanded: dF = 0 and P covers the
			// dimensions the pod requests plus pods.
			// P = (2000/4000 + 4/8 + 5/10)/3 = 0.5, R = (0.5 + 1)/3
			name:  "no shapes: packing only",
			alloc: vec(4000, 8, 10, 0), used: vec(1000, 2, 4, 0), pod: vec(1000, 2, 1, 0),
			want: Eval{Packing: 0.5, Score: 0.5},
		},
		{
			// The pod requests no memory and no shape demands it: memory is
			// left out of P. P = (2000/4000 + 5/10)/2 = 0.5; the cpu shape
			// reaches all free cpu before and after: dF = 0.
			name:   "unrequested, undemanded dimension is not packed",
			shapes: []Vec{vec(1000, 0, 0, 0)},
			alloc:  vec(4000, 8, 10, 0), used: vec(1000, 6, 4, 0), pod: vec(1000, 0, 1, 0),
			want: Eval{Packing: 0.5, Score: 0.5},
		},
		{
			// CPU-only pod on a GPU node with free GPUs; shape (1000, 2, -, 1).
			// before (2000, 16, 9, 4): c = 2, reach (2000, 4, 2), F (0, 12, 2)
			// after  (1000, 14, 8, 4): c = 1, reach (1000, 2, 1), F (0, 12, 3)
			// dF = (0 + 0 + 1/4)/3: the cpu it takes strands a GPU
			// P = (3000/4000 + 2/16 + 2/10 + 0/4)/4 = 1.075/4
			// R = (1.075/4 + 2(1 - 1/12)/2)/3, scarce
			name:   "cpu-only pod on a node with a free gpu",
			shapes: []Vec{vec(1000, 2, 0, 1)},
			alloc:  vec(4000, 16, 10, 4), used: vec(2000, 0, 1, 0), pod: vec(1000, 2, 1, 0),
			want: Eval{Packing: 1.075 / 4, Fragmentation: 1.0 / 12, Score: (1.075/4 + 11.0/12) / 3, Scarce: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Evaluate(l, shapesOf(l, tc.shapes...), defaultWeights, &tc.alloc, &tc.used, &tc.pod)
			if !near(got.Packing, tc.want.Packing) || !near(got.Fragmentation, tc.want.Fragmentation) ||
				!near(got.Score, tc.want.Score) || got.Scarce != tc.want.Scarce {
				t.Errorf("Evaluate = %+v\nwant       %+v", got, tc.want)
			}
		})
	}
}

// TestFigure6_2 is the Kubernetes Patterns stranding picture as a choice
// between two nodes: the node where the pod exhausts CPU is fuller, but the
// memory it leaves behind is stranded, so it must lose.
func TestFigure6_2(t *testing.T) {
	l := testLayout(t)
	s := shapesOf(l, vec(1000, 2, 0, 0))
	alloc := vec(4000, 8, 10, 0)
	pod := vec(2000, 1, 1, 0)
	exhaust, fits := vec(2000, 2, 2, 0), vec(0, 3, 2, 0)
	e1 := Evaluate(l, s, defaultWeights, &alloc, &exhaust, &pod)
	e2 := Evaluate(l, s, defaultWeights, &alloc, &fits, &pod)
	if !(e1.Packing > e2.Packing) {
		t.Errorf("packing: exhausting node %v should be fuller than %v", e1.Packing, e2.Packing)
	}
	if !(e1.Score < e2.Score) {
		t.Errorf("R on the stranding node %v should be below R on the fitting node %v", e1.Score, e2.Score)
	}
	// With stranding switched off, pure packing picks the other node.
	pk := Weights{Packing: 1}
	if p1, p2 := Evaluate(l, s, pk, &alloc, &exhaust, &pod), Evaluate(l, s, pk, &alloc, &fits, &pod); !(p1.Score > p2.Score) {
		t.Errorf("packing-only R: %v should beat %v", p1.Score, p2.Score)
	}
	if c1, c2 := Encode(0, e1.Score), Encode(0, e2.Score); !(c1 > c2) {
		t.Errorf("cost of stranding node %d should exceed %d", c1, c2)
	}
}

// TestComplementaryPods checks that the model pairs a memory-heavy pod with
// a cpu-heavy one and keeps two cpu-heavy pods apart.
func TestComplementaryPods(t *testing.T) {
	l := testLayout(t)
	s := shapesOf(l, vec(4000, 2, 0, 0), vec(1000, 7, 0, 0))
	alloc := vec(8000, 16, 10, 0)
	holdsCPUHeavy, empty := vec(4000, 2, 1, 0), vec(0, 0, 0, 0)
	memPod, cpuPod := vec(1000, 7, 1, 0), vec(4000, 2, 1, 0)

	// Hand-computed in TestEvaluate: equal dF, packing decides.
	onFull := Evaluate(l, s, defaultWeights, &alloc, &holdsCPUHeavy, &memPod)
	onEmpty := Evaluate(l, s, defaultWeights, &alloc, &empty, &memPod)
	if !(onFull.Score > onEmpty.Score) {
		t.Errorf("mem-heavy pod: R beside cpu-heavy pod %v should exceed R on empty node %v", onFull.Score, onEmpty.Score)
	}
	// Hand-computed in TestEvaluate: dF 0.125 beside it vs -0.15625 on the empty node.
	onFull = Evaluate(l, s, defaultWeights, &alloc, &holdsCPUHeavy, &cpuPod)
	onEmpty = Evaluate(l, s, defaultWeights, &alloc, &empty, &cpuPod)
	if !(onEmpty.Score > onFull.Score) {
		t.Errorf("cpu-heavy pod: R on empty node %v should exceed R beside cpu-heavy pod %v", onEmpty.Score, onFull.Score)
	}
	if !(onFull.Packing > onEmpty.Packing) {
		t.Errorf("the stranding choice must be the fuller one, else the test proves nothing: %v <= %v", onFull.Packing, onEmpty.Packing)
	}
}

func TestScarce(t *testing.T) {
	l := testLayout(t)
	s := shapesOf(l, vec(1000, 2, 0, 0), vec(1000, 2, 0, 1))
	tests := []struct {
		name        string
		alloc, used Vec
		pod         Vec
		want        bool
	}{
		{"cpu pod, gpu free", vec(8000, 32, 10, 4), vec(0, 0, 0, 0), vec(1000, 2, 1, 0), true},
		{"cpu pod, one gpu free", vec(8000, 32, 10, 4), vec(3000, 6, 3, 3), vec(1000, 2, 1, 0), true},
		{"cpu pod, all gpus allocated", vec(8000, 32, 10, 4), vec(4000, 8, 4, 4), vec(1000, 2, 1, 0), false},
		{"cpu pod, gpus overcommitted", vec(8000, 32, 10, 4), vec(4000, 8, 4, 5), vec(1000, 2, 1, 0), false},
		{"cpu pod, node without gpus", vec(8000, 32, 10, 0), vec(0, 0, 0, 0), vec(1000, 2, 1, 0), false},
		{"gpu pod, gpus left after placement", vec(8000, 32, 10, 4), vec(0, 0, 0, 0), vec(1000, 2, 1, 1), false},
		{"gpu pod, takes the last gpu", vec(8000, 32, 10, 4), vec(3000, 6, 3, 3), vec(1000, 2, 1, 1), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Evaluate(l, s, defaultWeights, &tc.alloc, &tc.used, &tc.pod).Scarce; got != tc.want {
				t.Errorf("Scarce = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTier(t *testing.T) {
	const step, rstep = 1 << 20, 1 << 19
	tests := []struct {
		scarce, reserved bool
		violation        int64
		want             int64
	}{
		{false, false, 0, 0},
		{false, false, 3, 3},
		{false, false, -5, 0},
		{false, false, rstep + 10, rstep - 1},
		{false, true, 0, rstep},
		{false, true, 4, rstep + 4},
		{false, true, math.MaxInt64, step - 1},
		{true, false, 0, step},
		{true, false, 2, step + 2},
		{true, false, -1, step},
		{true, true, 1, step + rstep + 1},
		{true, true, math.MaxInt64, 2*step - 1},
	}
	for _, tc := range tests {
		if got := Tier(tc.scarce, tc.reserved, tc.violation); got != tc.want {
			t.Errorf("Tier(%v, %v, %d) = %d, want %d", tc.scarce, tc.reserved, tc.violation, got, tc.want)
		}
	}
	// Scarce outranks reserved, which outranks any spread violation.
	if !(Tier(false, true, math.MaxInt64) < Tier(true, false, 0)) {
		t.Errorf("Tier(false, true, max) = %d must be below Tier(true, false, 0) = %d", Tier(false, true, math.MaxInt64), Tier(true, false, 0))
	}
	if !(Tier(false, false, math.MaxInt64) < Tier(false, true, 0)) {
		t.Errorf("Tier(false, false, max) = %d must be below Tier(false, true, 0) = %d", Tier(false, false, math.MaxInt64), Tier(false, true, 0))
	}
}

func TestSpreadViolation(t *testing.T) {
	tests := []struct {
		count, min, maxSkew, want int64
	}{
		{0, 0, 1, 0}, // placing into the emptiest domain
		{1, 0, 1, 1}, // skew becomes 2 > 1
		{2, 0, 1, 2},
		{1, 1, 1, 0},
		{2, 0, 2, 1},
		{1, 0, 2, 0},
		{5, 2, 3, 1},
		{0, 0, 0, 0}, // maxSkew < 1 is treated as 1
		{1, 0, 0, 1},
		{1, 0, -4, 1},
		{0, 3, 1, 0}, // count below min (stale min) never goes negative
	}
	for _, tc := range tests {
		if got := SpreadViolation(tc.count, tc.min, tc.maxSkew); got != tc.want {
			t.Errorf("SpreadViolation(%d, %d, %d) = %d, want %d", tc.count, tc.min, tc.maxSkew, got, tc.want)
		}
	}
}

// TestSpreadBeatsPacking: a lower tier wins whatever R is; within a tier R decides.
func TestSpreadBeatsPacking(t *testing.T) {
	l := testLayout(t)
	s := shapesOf(l, vec(1000, 2, 0, 0))
	alloc := vec(4000, 8, 10, 0)
	pod := vec(1000, 2, 1, 0)
	full, half, empty := vec(2000, 4, 2, 0), vec(1000, 2, 1, 0), vec(0, 0, 0, 0)

	// Zone A (count 1) holds the fuller node; zone B (count 0) the others.
	rFull := Evaluate(l, s, defaultWeights, &alloc, &full, &pod).Score
	rHalf := Evaluate(l, s, defaultWeights, &alloc, &half, &pod).Score
	rEmpty := Evaluate(l, s, defaultWeights, &alloc, &empty, &pod).Score
	if !(rFull > rHalf && rHalf > rEmpty) {
		t.Fatalf("R must grow with packing: %v, %v, %v", rFull, rHalf, rEmpty)
	}
	vA, vB := SpreadViolation(1, 0, 1), SpreadViolation(0, 0, 1)
	costs := []int64{
		Encode(Tier(false, false, vA), rFull),
		Encode(Tier(false, false, vB), rHalf),
		Encode(Tier(false, false, vB), rEmpty),
		Encode(Tier(true, false, vB), 1), // scarce: worst whatever its R
	}
	if !(costs[1] < costs[2] && costs[2] < costs[0] && costs[0] < costs[3]) {
		t.Errorf("costs %v: want half < empty < full (violating) < scarce", costs)
	}
	Normalize(costs)
	// Best tier (half, empty): R differs by less than minRSpan, so the
	// better gets 100 and the worse 100 - 80 x dR / minRSpan; the second
	// tier (full) alone gets 1 + 18.
	want := []int64{19, 100, 47, 0}
	for i := range want {
		if costs[i] != want[i] {
			t.Errorf("Normalize = %v, want %v", costs, want)
			break
		}
	}
}

func TestEncodeDecode(t *testing.T) {
	const q = 1.0 / (rResolution - 1)
	maxTier := int64(math.MaxInt64/rResolution - 1)
	for _, tier := range []int64{0, 1, 2, 7, 1 << 20, 1<<20 + 3, 2<<20 - 1, maxTier} {
		for _, r := range []float64{0, q, 0.25, 0.5, 0.123456789, 1 - q, 1} {
			c := Encode(tier, r)
			if c < 0 {
				t.Fatalf("Encode(%d, %v) = %d < 0", tier, r, c)
			}
			gt, gr := Decode(c)
			if gt != tier || math.Abs(gr-r) > q/2+1e-15 {
				t.Errorf("Decode(Encode(%d, %v)) = (%d, %v)", tier, r, gt, gr)
			}
		}
	}
	clamped := []struct {
		tier     int64
		r        float64
		wantTier int64
		wantR    float64
	}{
		{-3, 0.5, 0, 0.5},
		{0, -1, 0, 0},
		{0, 2, 0, 1},
		{0, math.NaN(), 0, 0},
		{0, math.Inf(1), 0, 1},
		{0, math.Inf(-1), 0, 0},
		{math.MaxInt64, 1, maxTier, 1},
	}
	for _, tc := range clamped {
		gt, gr := Decode(Encode(tc.tier, tc.r))
		if gt != tc.wantTier || math.Abs(gr-tc.wantR) > q {
			t.Errorf("Decode(Encode(%d, %v)) = (%d, %v), want (%d, %v)", tc.tier, tc.r, gt, gr, tc.wantTier, tc.wantR)
		}
	}
	if gt, gr := Decode(-42); gt != 0 || gr != 1 {
		t.Errorf("Decode(-42) = (%d, %v), want (0, 1)", gt, gr)
	}
	// Lower is better: higher R, lower tier => lower cost.
	if !(Encode(0, 0.9) < Encode(0, 0.8)) || !(Encode(0, 0) < Encode(1, 1)) {
		t.Errorf("Encode order broken")
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name  string
		costs []int64
		want  []int64
	}{
		{
			name: "three tiers",
			costs: []int64{
				Encode(0, 0.5), Encode(0, 1), Encode(0, 0),
				Encode(1, 1), Encode(1, 0), Encode(7, 1), Encode(1<<20, 1),
			},
			// best: 20 + round(80 (r - min)/(max - min)); second: 1 + round(18 ...); rest: 0
			want: []int64{60, 100, 20, 19, 1, 0, 0},
		},
		{
			name:  "best tier need not be zero",
			costs: []int64{Encode(1<<20+2, 0.25), Encode(1<<20, 0.75), Encode(1<<20, 0.25), Encode(1<<20, 0.5)},
			want:  []int64{19, 100, 20, 60},
		},
		{
			name:  "gap between tiers",
			costs: []int64{Encode(5, 0.5), Encode(2, 0.5), Encode(9, 0), Encode(5, 0.25), Encode(2, 0.75)},
			want:  []int64{19, 20, 0, 1, 100},
		},
		{
			name:  "nearly equal R is not stretched over the band",
			costs: []int64{Encode(0, 0.5), Encode(0, 0.51), Encode(0, 0.45)},
			// 100 - 80 x (0.51 - r) / minRSpan
			want: []int64{92, 100, 52},
		},
		{
			name:  "only the best R gets the top score",
			costs: []int64{Encode(0, 0.5), Encode(0, 0.50001), Encode(1, 0.3), Encode(1, 0.30001)},
			want:  []int64{99, 100, 18, 19},
		},
		{name: "single", costs: []int64{Encode(3, 0)}, want: []int64{100}},
		{name: "empty", costs: []int64{}, want: []int64{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := append([]int64(nil), tc.costs...)
			Normalize(got)
			if len(got) != len(tc.want) {
				t.Fatalf("len = %d", len(got))
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("Normalize(%v) = %v, want %v", tc.costs, got, tc.want)
				}
			}
			checkNormalized(t, tc.costs, got)
		})
	}
}

// checkNormalized asserts the Normalize contract on costs and their scores:
// range, order preservation, and the best tier >= bestFloor and strictly
// above every other tier.
func checkNormalized(t testing.TB, costs, scores []int64) {
	t.Helper()
	if len(costs) == 0 {
		return
	}
	best := int64(math.MaxInt64)
	for _, c := range costs {
		if tier, _ := Decode(c); tier < best {
			best = tier
		}
	}
	minBest, maxOther := int64(MaxScore+1), int64(MinScore-1)
	for i, s := range scores {
		if s < MinScore || s > MaxScore {
			t.Fatalf("score %d of cost %d out of [%d, %d]", s, costs[i], MinScore, MaxScore)
		}
		if tier, _ := Decode(costs[i]); tier == best {
			minBest = min(minBest, s)
		} else {
			maxOther = max(maxOther, s)
		}
		for j := range scores {
			if costs[i] < costs[j] && scores[i] < scores[j] {
				t.Fatalf("order inverted: cost %d -> %d but cost %d -> %d", costs[i], s, costs[j], scores[j])
			}
		}
	}
	if minBest < bestFloor {
		t.Fatalf("best tier score %d below %d", minBest, bestFloor)
	}
	if maxOther >= minBest {
		t.Fatalf("other tier score %d not below best tier score %d", maxOther, minBest)
	}
}

func TestRankerUnobserved(t *testing.T) {
	// Observe/Score used separately, as NormalizeScore does.
	var k Ranker
	for _, c := range []int64{Encode(4, 0.5), Encode(2, 0.5), Encode(3, 1), Encode(2, 1)} {
		k.Observe(c)
	}
	if got := k.Score(Encode(2, 1)); got != 100 {
		t.Errorf("best = %d, want 100", got)
	}
	if got := k.Score(Encode(3, 1)); got != 19 {
		t.Errorf("second = %d, want 19", got)
	}
	if got := k.Score(Encode(4, 0.5)); got != 0 {
		t.Errorf("third = %d, want 0", got)
	}
}

// The stranded-level term: R adds W_level * (1 - StrandedShare after
// placement). Figure 6-2 again, weights (1, 2, 1).
func TestEvaluateLevelTerm(t *testing.T) {
	l := testLayout(t)
	s := shapesOf(l, vec(1000, 2, 0, 0))
	w := Weights{Packing: 1, Stranding: 2, Level: 1}
	alloc, pod := vec(4000, 8, 10, 0), vec(2000, 1, 1, 0)
	tests := []struct {
		name  string
		used  Vec
		level float64 // stranded share after placement
		want  float64
	}{
		// free after (0, 5): nothing fits, stranded (0, 5): (0 + 5/8)/2
		{"exhausts cpu", vec(2000, 2, 2, 0), 0.3125, (1.675/3 + 0.8125 + (1 - 0.3125)) / 4},
		// free after (2000, 4) tiles the shape: nothing stranded
		{"still fits", vec(0, 3, 2, 0), 0, (1.3/3 + 1.3125 + 1) / 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := StrandedShare(l, s, &alloc, &tc.used, &pod); !near(got, tc.level) {
				t.Errorf("StrandedShare = %v, want %v", got, tc.level)
			}
			if got := Evaluate(l, s, w, &alloc, &tc.used, &pod).Score; !near(got, tc.want) {
				t.Errorf("Score = %v, want %v", got, tc.want)
			}
		})
	}
}

// ScarceFragmentation multiplies a scarce dimension's weight in dF only.
func TestScarceFragmentationWeight(t *testing.T) {
	l := testLayout(t)
	s := shapesOf(l, vec(1000, 2, 0, 1))
	alloc, used, pod := vec(4000, 16, 10, 4), vec(2000, 0, 1, 0), vec(1000, 2, 1, 0)
	// As in TestEvaluate: dF per dim (0, 0, 1/4 for the GPU).
	for _, tc := range []struct {
		boost, want float64
	}{{1, 0.25 / 3}, {10, 2.5 / 12}, {0, 0}} {
		l.ScarceFragmentation = tc.boost
		e := Evaluate(l, s, defaultWeights, &alloc, &used, &pod)
		if !near(e.Fragmentation, tc.want) {
			t.Errorf("boost %v: Fragmentation = %v, want %v", tc.boost, e.Fragmentation, tc.want)
		}
		if p := Evaluate(l, s, Weights{Packing: 1}, &alloc, &used, &pod).Packing; !near(p, 1.075/4) {
			t.Errorf("boost %v: Packing = %v, want 1.075/4 (packing ignores the boost)", tc.boost, p)
		}
	}
}

// The host term: a placement that leaves a shape one host fewer out of h
// costs W_host/h in units of the other weights; others score as without it.
func TestEvaluateHostTerm(t *testing.T) {
	l := testLayout(t)
	// 0: 1 GPU; 1: 8 GPUs, 48 cores; 2: 4 GPUs (not counted: hosts 0).
	s := shapesOf(l, vec(8000, 32, 0, 1), vec(48000, 256, 0, 8), vec(24000, 128, 0, 4))
	hosts := [MaxShapes]float64{3, 2, 0}
	w := Weights{Packing: 1, Stranding: 16, Level: 4, Host: 16}
	pod := vec(8000, 32, 1, 1)
	alloc := vec(96000, 384, 110, 8)
	tests := []struct {
		name string
		used Vec
		cost float64
	}{
		// An empty node hosts the 8-GPU shape; after the pod it does not.
		{"breaks a host of the 8-GPU shape", vec(0, 0, 0, 0), 0.5},
		// 2 GPUs free: only the 1-GPU shape fits, and still does after.
		{"keeps every host", vec(48000, 200, 6, 6), 0},
		// The last GPU: the 1-GPU shape loses this host (1/3).
		{"takes the last GPU", vec(48000, 200, 7, 7), 1.0 / 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPlan(l, s, w, &pod)
			p.SetHosts(&hosts)
			got := p.Evaluate(&alloc, &tc.used)
			if !near(got.HostCost, tc.cost) {
				t.Errorf("HostCost = %v, want %v", got.HostCost, tc.cost)
			}
			without := NewPlan(l, s, w, &pod) // no hosts: no penalty
			base := without.Evaluate(&alloc, &tc.used)
			if want := clamp01(base.Score - 16*tc.cost/21); !near(got.Score, want) {
				t.Errorf("Score = %v, want %v (%v without hosts)", got.Score, want, base.Score)
			}
		})
	}
}

// A host cost every candidate pays (SetHostBase) is left out: the order of
// two nodes that both take the last host stays that of the other terms,
// where the full cost would push both to a score of 0.
func TestHostBase(t *testing.T) {
	l := testLayout(t)
	s := shapesOf(l, vec(8000, 32, 0, 1), vec(48000, 256, 0, 8))
	hosts := [MaxShapes]float64{3, 1}
	w := Weights{Packing: 1, Stranding: 16, Level: 4, Host: 16}
	pod := vec(8000, 32, 1, 1)
	// Both nodes lose the 8-GPU shape, the only host each: an empty 8-GPU
	// node and a 16-GPU node with 8 GPUs in use.
	alloc, alloc16 := vec(96000, 384, 110, 8), vec(192000, 768, 110, 16)
	emptyUsed, halfUsed := vec(0, 0, 0, 0), vec(48000, 256, 1, 8)
	p := NewPlan(l, s, w, &pod)
	p.SetHosts(&hosts)
	if c := p.HostCost(&alloc, &emptyUsed); c != 1 {
		t.Fatalf("HostCost = %v, want 1 (the one host)", c)
	}
	if a, b := p.Evaluate(&alloc, &emptyUsed).Score, p.Evaluate(&alloc16, &halfUsed).Score; a != 0 || b != 0 {
		t.Fatalf("scores %v, %v: want both clamped to 0 without a base (the case SetHostBase is for)", a, b)
	}
	p.SetHostBase(p.HostCost(&alloc, &emptyUsed))
	without := NewPlan(l, s, w, &pod)
	var scores []float64
	for _, n := range []struct{ alloc, used Vec }{{alloc, emptyUsed}, {alloc16, halfUsed}} {
		got, want := p.Evaluate(&n.alloc, &n.used), without.Evaluate(&n.alloc, &n.used)
		if got.HostCost != 0 || !near(got.Score, want.Score) {
			t.Errorf("alloc %v used %v: HostCost %v, Score %v; want 0 and %v (as without hosts)", n.alloc, n.used, got.HostCost, got.Score, want.Score)
		}
		scores = append(scores, got.Score)
	}
	if scores[0] == scores[1] {
		t.Errorf("scores %v: the other terms no longer tell the nodes apart", scores)
	}
	if q := NewPlan(l, s, Weights{Packing: 1}, &pod); q.HostCost(&alloc, &emptyUsed) != 0 {
		t.Error("HostCost without the host term, want 0")
	}
}

// The bundle term: with GPU pods needing 12 cores and 32 GiB per GPU, a
// node's free GPUs are worth as many as its free cores and memory can serve
// at that mix, and a placement pays for what it takes of that beyond its own
// share.
func TestBundleWaste(t *testing.T) {
	l := testLayout(t)
	s := shapesOf(l, vec(12000, 32, 0, 1), vec(4000, 8, 0, 0))
	w := Weights{Packing: 1, Stranding: 16, Level: 4, Bundle: 16}
	alloc := vec(96000, 384, 110, 8)
	cpuPod, smallGPU, bigGPU := vec(8000, 8, 1, 0), vec(2000, 8, 1, 1), vec(24000, 32, 1, 1)
	tests := []struct {
		name      string
		pod, used Vec
		waste     float64 // in GPUs; the term divides by the node's 8
		fit       float64 // in GPUs, as waste
	}{
		{"CPU pod beside busy GPUs", cpuPod, vec(56000, 100, 8, 8), 0, 0},
		// 4 GPUs, 48 cores: 4 bundles; 40 cores serve 3 1/3.
		{"CPU pod takes the cores idle GPUs need", cpuPod, vec(48000, 100, 4, 4), 2.0 / 3, 0},
		// 2 GPUs, 40 cores: 16 spare cores.
		{"CPU pod takes spare cores", cpuPod, vec(56000, 100, 6, 6), 0, 0},
		// 4 GPUs, 24 cores: 2 bundles; the pod takes 2/12 of one, and half
		// of the GPUs it may take are ones the node's cores cannot serve.
		{"few-core GPU pod where cores are short", smallGPU, vec(72000, 100, 4, 4), 0, 0.5},
		{"few-core GPU pod on an empty node", smallGPU, vec(0, 0, 0, 0), 1 - 2.0/12, 0},
		// 24 cores: 2 bundles' cores for 1 GPU.
		{"many-core GPU pod on an empty node", bigGPU, vec(0, 0, 0, 0), 1, 0},
		// 2 GPUs, 60 cores: the pod takes the GPU whose cores it brings.
		{"many-core GPU pod where cores are spare", bigGPU, vec(36000, 100, 6, 6), 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPlan(l, s, w, &tc.pod)
			got := p.Evaluate(&alloc, &tc.used)
			if !near(got.BundleWaste, tc.waste/8) || !near(got.BundleFit, tc.fit/8) {
				t.Errorf("BundleWaste, BundleFit = %v, %v, want %v, %v", got.BundleWaste, got.BundleFit, tc.waste/8, tc.fit/8)
			}
			off := w
			off.Bundle = 0
			q := NewPlan(l, s, off, &tc.pod)
			base := q.Evaluate(&alloc, &tc.used)
			if base.BundleWaste != 0 || base.BundleFit != 0 {
				t.Errorf("BundleWaste, BundleFit with the term off = %v, %v, want 0", base.BundleWaste, base.BundleFit)
			}
			if want := clamp01(base.Score - 16*(tc.waste-tc.fit)/8/21); !near(got.Score, want) {
				t.Errorf("Score = %v, want %v (%v without the term)", got.Score, want, base.Score)
			}
		})
	}
}

// The bundle fit orders the nodes short of what the mix needs beside their
// GPUs: a GPU pod lighter than the mix in the resource a node is short of
// goes to the shortest, whose GPUs fewest pods can use. A pod as heavy as the
// mix there, or light only in a resource the node has plenty of, gets no fit.
func TestBundleFit(t *testing.T) {
	l := testLayout(t)
	s := shapesOf(l, vec(12000, 32, 0, 1))
	w := Weights{Packing: 1, Stranding: 16, Level: 4, Bundle: 16}
	off := w
	off.Bundle = 0
	alloc := vec(96000, 384, 110, 8)
	// 4 free GPUs each: 36, 24 and 12 free cores serve 3, 2 and 1 of them.
	short3, short2, short1 := vec(60000, 0, 4, 4), vec(72000, 0, 4, 4), vec(84000, 0, 4, 4)
	// 4 free GPUs and 96 GiB: memory serves 3 of them, cores all 4.
	memShort := vec(0, 288, 4, 4)
	light, lightMem := vec(4000, 32, 1, 1), vec(12000, 8, 1, 1)
	tests := []struct {
		name      string
		pod, used Vec
		fit       float64 // in GPUs
	}{
		{"light pod, 3 of 4 GPUs served", light, short3, 0.25},
		{"light pod, 2 of 4 GPUs served", light, short2, 0.5},
		{"light pod, 1 of 4 GPUs served", light, short1, 0.75},
		{"2-GPU light pod", vec(8000, 64, 1, 2), short2, 1},
		{"light pod on an empty node", light, vec(0, 0, 0, 0), 0},
		{"pod at the mix", vec(12000, 32, 1, 1), short2, 0},
		{"light in cpu, the node short of memory", light, memShort, 0},
		{"light in memory, the node short of memory", lightMem, memShort, 0.25},
		{"CPU-only pod", vec(4000, 8, 1, 0), short2, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, q := NewPlan(l, s, w, &tc.pod), NewPlan(l, s, off, &tc.pod)
			got, base := p.Evaluate(&alloc, &tc.used), q.Evaluate(&alloc, &tc.used)
			if !near(got.BundleFit, tc.fit/8) {
				t.Errorf("BundleFit = %v, want %v", got.BundleFit, tc.fit/8)
			}
			if want := clamp01(base.Score - 16*(got.BundleWaste-tc.fit/8)/21); !near(got.Score, want) {
				t.Errorf("Score = %v, want %v (%v without the term)", got.Score, want, base.Score)
			}
		})
	}
}

// The mix is the GPU shapes' requests weighted by frequency: three 4-core
// pods and one 20-core pod need 8 cores per GPU, not the 12 of the plain
// average of the two shapes.
func TestBundleMixWeighsFrequency(t *testing.T) {
	l := testLayout(t)
	var s Shapes
	s.AddWeighted(l, vec(4000, 16, 0, 1), 3)
	s.AddWeighted(l, vec(20000, 16, 0, 1), 1)
	pod := vec(16000, 8, 1, 0)
	p := NewPlan(l, &s, Weights{Packing: 1, Bundle: 1}, &pod)
	// 4 free GPUs and 40 free cores: 4 bundles at 8 cores, 3 after the pod.
	alloc, used := vec(96000, 384, 110, 8), vec(56000, 0, 4, 4)
	if got := p.Evaluate(&alloc, &used).BundleWaste; !near(got, 1.0/8) {
		t.Errorf("BundleWaste = %v, want %v", got, 1.0/8)
	}
}

// Without the credit a few-core GPU pod pays nothing anywhere: it is no
// longer drawn to the node short of cores.
func TestNoBundleCredit(t *testing.T) {
	l := testLayout(t)
	s := shapesOf(l, vec(12000, 32, 0, 1))
	alloc, pod := vec(96000, 384, 110, 8), vec(2000, 8, 1, 1)
	empty, coreShort := vec(0, 0, 0, 0), vec(72000, 100, 4, 4)
	p := NewPlan(l, s, Weights{Packing: 1, Bundle: 16}, &pod)
	if a, b := p.Evaluate(&alloc, &empty).BundleWaste, p.Evaluate(&alloc, &coreShort).BundleWaste; !(a > eps) || !near(b, 0) {
		t.Fatalf("with the credit: waste %v on the empty node, %v where cores are short; want > 0 and 0", a, b)
	}
	if fit := p.Evaluate(&alloc, &coreShort).BundleFit; !(fit > eps) {
		t.Fatalf("with the credit: fit %v where cores are short, want > 0", fit)
	}
	p.NoBundleCredit()
	if a, b := p.Evaluate(&alloc, &empty).BundleWaste, p.Evaluate(&alloc, &coreShort).BundleWaste; !near(a, 0) || !near(b, 0) {
		t.Errorf("without the credit: waste %v and %v, want 0 and 0", a, b)
	}
	if fit := p.Evaluate(&alloc, &coreShort).BundleFit; fit != 0 {
		t.Errorf("without the credit: fit %v, want 0", fit)
	}
	cpuPod := vec(8000, 8, 1, 0)
	q := NewPlan(l, s, Weights{Packing: 1, Bundle: 16}, &cpuPod)
	q.NoBundleCredit()
	half := vec(48000, 100, 4, 4)
	if got := q.Evaluate(&alloc, &half).BundleWaste; !near(got, 2.0/3/8) {
		t.Errorf("CPU pod without the credit: waste %v, want %v (a CPU pod has no share to credit)", got, 2.0/3/8)
	}
}
