package stranding

import (
	"encoding/binary"
	"math"
	"math/rand"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// source yields the numbers a random case is built from: a seeded PRNG for
// the property test, the fuzzer's bytes for FuzzEvaluate.
type source interface {
	Uint64() uint64
}

type byteSource struct{ b []byte }

func (s *byteSource) Uint64() uint64 {
	if len(s.b) >= 8 {
		v := binary.LittleEndian.Uint64(s.b)
		s.b = s.b[8:]
		return v
	}
	var buf [8]byte
	copy(buf[:], s.b)
	s.b = nil
	return binary.LittleEndian.Uint64(buf[:])
}

// quantity returns a non-negative, finite resource quantity, biased towards
// the edges: zero, one, small counts, byte-sized memory and huge values up
// to 2^63 (what an int64 quantity converted to float64 can hold).
func quantity(src source) float64 {
	v := src.Uint64()
	switch (v >> 56) % 8 {
	case 0:
		return 0
	case 1:
		return 1
	case 2:
		return 1 << 62
	case 3:
		return float64(v % 16)
	case 4:
		return float64(v % 100_000) // millicores
	case 5:
		return float64(v % (1 << 40)) // bytes
	case 6:
		return float64(v >> 1) // up to 2^63
	default:
		return float64((v % 64) << 56)
	}
}

type randomCase struct {
	l                Layout
	s                Shapes
	w                Weights
	alloc, used, pod Vec
}

func newRandomCase(src source) *randomCase {
	c := &randomCase{l: NewLayout()}
	n := 1 + int(src.Uint64()%MaxDims)
	podsDim := int(src.Uint64() % uint64(n+1)) // == n: no pods dimension
	for i := 0; i < n; i++ {
		name := corev1.ResourceName("example.com/r" + string(rune('a'+i)))
		if i == podsDim {
			name = corev1.ResourcePods
		}
		r := src.Uint64()
		c.l.Add(name, float64(r%4)*float64(1+r%100)/4, (r>>8)%3 == 0) // weight 0 a quarter of the time
	}
	k := int(src.Uint64() % (MaxShapes + 3))
	for j := 0; j < k; j++ {
		var v Vec
		for i := 0; i < n; i++ {
			if src.Uint64()%2 == 0 {
				v[i] = quantity(src)
			}
		}
		c.s.Add(&c.l, v)
	}
	c.w = Weights{Packing: float64(src.Uint64() % 101), Stranding: float64(src.Uint64() % 101)}
	for i := 0; i < n; i++ {
		c.alloc[i], c.used[i], c.pod[i] = quantity(src), quantity(src), quantity(src)
		switch src.Uint64() % 8 {
		case 0: // resource missing on the node but requested
			c.alloc[i], c.used[i] = 0, 0
		case 1: // empty node
			c.used[i] = 0
		case 2: // zero request
			c.pod[i] = 0
		case 3: // exactly full after placement
			c.used[i] = math.Max(0, c.alloc[i]-c.pod[i])
		}
	}
	return c
}

func in01(x float64) bool { return x >= 0 && x <= 1 && !math.IsInf(x, 0) }

// checkCase asserts the model's invariants on one placement and returns its R.
func checkCase(t testing.TB, c *randomCase) Eval {
	t.Helper()
	l, s := &c.l, &c.s
	free := Free(l, &c.alloc, &c.used, &c.pod)
	stranded := Stranded(l, s, &free)
	for i := 0; i < l.N; i++ {
		if !(free[i] >= 0) || math.IsInf(free[i], 0) {
			t.Fatalf("dim %d: free %v (alloc %v used %v pod %v)", i, free[i], c.alloc[i], c.used[i], c.pod[i])
		}
		if !(stranded[i] >= 0 && stranded[i] <= free[i]) {
			t.Fatalf("dim %d: stranded %v not in [0, free %v]", i, stranded[i], free[i])
		}
		if (i == l.PodsDim || !s.Demanded[i]) && stranded[i] != 0 {
			t.Fatalf("dim %d (pods %v, demanded %v) strands %v", i, i == l.PodsDim, s.Demanded[i], stranded[i])
		}
	}
	e := Evaluate(l, s, c.w, &c.alloc, &c.used, &c.pod)
	if !in01(e.Score) || !in01(e.Packing) || !(e.Fragmentation >= -1 && e.Fragmentation <= 1) {
		t.Fatalf("Evaluate = %+v: want finite Score and Packing in [0, 1], Fragmentation in [-1, 1]\ncase %+v", e, c)
	}
	if s.N == 0 && e.Fragmentation != 0 {
		t.Fatalf("no shapes but Fragmentation = %v", e.Fragmentation)
	}
	if share := StrandedShare(l, s, &c.alloc, &c.used, &c.pod); !in01(share) {
		t.Fatalf("StrandedShare = %v, want [0, 1]", share)
	}
	requests, freeScarce := false, false
	for i := 0; i < l.N; i++ {
		if l.Scarce[i] {
			requests = requests || c.pod[i] > 0
			freeScarce = freeScarce || free[i] > 0
		}
	}
	if want := freeScarce && !requests; e.Scarce != want {
		t.Fatalf("Scarce = %v, want %v", e.Scarce, want)
	}
	return e
}

// checkEncode asserts that Encode is monotone: lower tier always wins, and
// within a tier higher R never costs more.
func checkEncode(t testing.TB, t1, t2 int64, r1, r2 float64) {
	t.Helper()
	c1, c2 := Encode(t1, r1), Encode(t2, r2)
	if c1 < 0 || c2 < 0 {
		t.Fatalf("negative cost: Encode(%d, %v) = %d, Encode(%d, %v) = %d", t1, r1, c1, t2, r2, c2)
	}
	ct1, ct2 := max(t1, 0), max(t2, 0)
	const maxTier = math.MaxInt64/rResolution - 1
	ct1, ct2 = min(ct1, maxTier), min(ct2, maxTier)
	switch {
	case ct1 < ct2 && !(c1 < c2), ct1 > ct2 && !(c1 > c2):
		t.Fatalf("tier order lost: Encode(%d, %v) = %d, Encode(%d, %v) = %d", t1, r1, c1, t2, r2, c2)
	case ct1 == ct2 && clamp01(r1) > clamp01(r2) && c1 > c2:
		t.Fatalf("R order lost: Encode(%d, %v) = %d > Encode(%d, %v) = %d", t1, r1, c1, t2, r2, c2)
	}
}

func randomTier(src source) int64 {
	v := src.Uint64()
	switch v % 4 {
	case 0:
		return int64(v>>8) % 4
	case 1:
		return Tier(v&(1<<8) != 0, v&(1<<9) != 0, int64(v>>10)%1000)
	case 2:
		return int64(v >> 1) // up to MaxInt64: clamped
	default:
		return -int64(v>>8) % 5
	}
}

// runCase checks one random scoring cycle of several nodes.
func runCase(t testing.TB, src source) {
	t.Helper()
	nodes := 1 + int(src.Uint64()%8)
	costs := make([]int64, nodes)
	base := newRandomCase(src)
	for j := range costs {
		c := *base // same layout, shapes and pod; other nodes
		if j > 0 {
			for i := 0; i < c.l.N; i++ {
				c.alloc[i], c.used[i] = quantity(src), quantity(src)
			}
		}
		e := checkCase(t, &c)
		tier := Tier(e.Scarce, false, int64(src.Uint64()%3))
		costs[j] = Encode(tier, e.Score)
		if gotTier, gotR := Decode(costs[j]); gotTier != tier || math.Abs(gotR-e.Score) > 0.5/(rResolution-1)+1e-12 {
			t.Fatalf("Decode(Encode(%d, %v)) = (%d, %v)", tier, e.Score, gotTier, gotR)
		}
	}
	scores := append([]int64(nil), costs...)
	Normalize(scores)
	checkNormalized(t, costs, scores)

	r1, r2 := math.Float64frombits(src.Uint64()), math.Float64frombits(src.Uint64())
	if math.IsNaN(r1) || math.IsNaN(r2) {
		r1, r2 = float64(src.Uint64()%1000)/999, float64(src.Uint64()%1000)/999
	}
	checkEncode(t, randomTier(src), randomTier(src), r1, r2)
}

// TestEvaluateProperties runs 10,000 seeded random cycles through the model.
func TestEvaluateProperties(t *testing.T) {
	rng := rand.New(rand.NewSource(20240601))
	n := 10_000
	if testing.Short() {
		n = 1_000
	}
	for i := 0; i < n; i++ {
		runCase(t, rng)
	}
}

// TestEvaluateEdges pins a few hand-picked extremes.
func TestEvaluateEdges(t *testing.T) {
	l := testLayout(t)
	huge := float64(1 << 62)
	s := shapesOf(l, vec(1, 1, 0, 0), vec(huge, huge, 0, huge))
	tests := []struct {
		name             string
		alloc, used, pod Vec
	}{
		{"all zero", Vec{}, Vec{}, Vec{}},
		{"zero allocatable, positive pod", Vec{}, Vec{}, vec(1000, 1, 1, 1)},
		{"huge everything", vec(huge, huge, huge, huge), vec(huge, huge, huge, huge), vec(huge, huge, 1, huge)},
		{"huge node, tiny pod", vec(huge, huge, huge, huge), Vec{}, vec(1, 1, 1, 0)},
		{"max int64 used", vec(1, 1, 1, 1), vec(math.MaxInt64, math.MaxInt64, math.MaxInt64, math.MaxInt64), vec(1, 1, 1, 1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &randomCase{l: *l, s: *s, w: defaultWeights, alloc: tc.alloc, used: tc.used, pod: tc.pod}
			checkCase(t, c)
		})
	}
	// Huge node, tiny pod: shape (1,1) fits 2^62 times before and after,
	// nothing fragments, and P is ~0: R = (0 + 2(1-0)/2)/3.
	alloc, pod := vec(huge, huge, huge, huge), vec(1, 1, 1, 0)
	e := Evaluate(l, s, defaultWeights, &alloc, &Vec{}, &pod)
	if e.Fragmentation != 0 || !near(e.Score, 1.0/3) || !e.Scarce {
		t.Errorf("huge node, tiny pod: %+v, want Fragmentation 0, Score 1/3, Scarce", e)
	}
}

func FuzzEvaluate(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 64))
	seed := make([]byte, 0, 4096)
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 8; i++ {
		seed = seed[:0]
		for j := 0; j < 512; j++ {
			seed = binary.LittleEndian.AppendUint64(seed, rng.Uint64())
		}
		f.Add(append([]byte(nil), seed...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		runCase(t, &byteSource{b: data})
	})
}
