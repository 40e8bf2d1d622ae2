package stranding

import "math"

// Node scores the lexicographic order maps onto, as the scheduler framework's
// [MinNodeScore, MaxNodeScore] = [0, 100].
const (
	MinScore = 0
	MaxScore = 100

	// The best tier gets [bestFloor, MaxScore], the second [1, bestFloor-1]
	// and all others MinScore, so any best-tier node outranks every other
	// node while R keeps 81 levels of resolution among the best.
	bestFloor = 20

	// minRSpan is the smallest span of R a tier's band stands for. Nodes
	// closer than that in R are nearly equal: their scores differ in
	// proportion (bandwidth x dR / minRSpan), not by the whole band, so
	// soft preferences of other plugins (preferred affinity,
	// PreferNoSchedule, ImageLocality) decide between them.
	minRSpan = 0.1

	rResolution = 1_000_000
)

// Encode packs a placement's tier (scarce and spread violations, lower is
// better) and R into one int64 cost, lower is better, so Score can hand it to
// NormalizeScore through the framework's int64 score list.
func Encode(tier int64, r float64) int64 {
	if tier < 0 {
		tier = 0
	}
	if tier > math.MaxInt64/rResolution-1 {
		tier = math.MaxInt64/rResolution - 1
	}
	return tier*rResolution + (rResolution - 1 - int64(math.Round(clamp01(r)*(rResolution-1))))
}

// Decode reverses Encode.
func Decode(cost int64) (tier int64, r float64) {
	if cost < 0 {
		cost = 0
	}
	tier = cost / rResolution
	r = float64(rResolution-1-cost%rResolution) / (rResolution - 1)
	return tier, r
}

// Tier combines the scarce flag, the reserved flag (the node's scarce
// capacity is needed by pods that may use nothing else) and a spread
// violation, in that order.
func Tier(scarce, reserved bool, spreadViolation int64) int64 {
	if spreadViolation < 0 {
		spreadViolation = 0
	}
	const scarceStep, reservedStep = 1 << 20, 1 << 19
	if spreadViolation >= reservedStep {
		spreadViolation = reservedStep - 1
	}
	t := spreadViolation
	if reserved {
		t += reservedStep
	}
	if scarce {
		t += scarceStep
	}
	return t
}

// Ranker maps costs onto node scores in [MinScore, MaxScore], preserving
// the lexicographic order up to rounding. Within the best and the second
// tier R is stretched over the tier's band from the worst to the best R
// observed, as upstream's normalisers divide by the maximum: R differs
// little between good nodes (one GPU is 1/8 of a node), and an absolute
// mapping would round those differences away. The stretch stops at
// minRSpan, so that a negligible difference is not blown up into the
// whole band. Observe every cost, then
// Score.
type Ranker struct {
	best, second tierRange
	seen         bool
}

type tierRange struct {
	tier       int64
	minR, maxR float64
}

func (t *tierRange) reset(tier int64, r float64) { *t = tierRange{tier: tier, minR: r, maxR: r} }

func (t *tierRange) widen(r float64) {
	t.minR, t.maxR = math.Min(t.minR, r), math.Max(t.maxR, r)
}

// position maps r onto [0, 1] within the tier, the best R at 1, over the
// tier's span of R or minRSpan, whichever is wider.
func (t *tierRange) position(r float64) float64 {
	return 1 - (t.maxR-r)/math.Max(t.maxR-t.minR, minRSpan)
}

// score maps r onto [lo, hi]. Only the tier's best R gets hi: when
// nothing else differs, the node the model prefers still wins outright
// rather than tying with nodes rounded up to it.
func (t *tierRange) score(r float64, lo, hi int64) int64 {
	s := lo + int64(math.Round(t.position(r)*float64(hi-lo)))
	if s == hi && r < t.maxR && hi > lo {
		s--
	}
	return s
}

// Observe records a cost.
func (k *Ranker) Observe(cost int64) {
	t, r := Decode(cost)
	if !k.seen {
		k.best.reset(t, r)
		k.second.reset(math.MaxInt64, 0)
		k.seen = true
		return
	}
	switch {
	case t == k.best.tier:
		k.best.widen(r)
	case t < k.best.tier:
		k.best, k.second = tierRange{}, k.best
		k.best.reset(t, r)
	case t == k.second.tier:
		k.second.widen(r)
	case t < k.second.tier:
		k.second.reset(t, r)
	}
}

// Score returns the node score of an observed cost.
func (k *Ranker) Score(cost int64) int64 {
	t, r := Decode(cost)
	switch t {
	case k.best.tier:
		return k.best.score(r, bestFloor, MaxScore)
	case k.second.tier:
		return k.second.score(r, 1, bestFloor-1)
	default:
		return MinScore
	}
}

// Normalize rewrites costs in place as node scores (see Ranker).
func Normalize(costs []int64) {
	var k Ranker
	for _, c := range costs {
		k.Observe(c)
	}
	for i, c := range costs {
		costs[i] = k.Score(c)
	}
}

// SpreadViolation is how far placing one more matching pod in a domain that
// holds count of them exceeds maxSkew over the least loaded domain (min).
// 0 means the placement keeps the constraint satisfied.
func SpreadViolation(count, min, maxSkew int64) int64 {
	if maxSkew < 1 {
		maxSkew = 1
	}
	v := count + 1 - min - maxSkew
	if v < 0 {
		return 0
	}
	return v
}
