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

// Tier combines the scarce flag and a spread violation, scarce first.
func Tier(scarce bool, spreadViolation int64) int64 {
	if spreadViolation < 0 {
		spreadViolation = 0
	}
	const scarceStep = 1 << 20
	if spreadViolation >= scarceStep {
		spreadViolation = scarceStep - 1
	}
	if scarce {
		return scarceStep + spreadViolation
	}
	return spreadViolation
}

// Ranker maps costs onto node scores in [MinScore, MaxScore], preserving
// the lexicographic order up to rounding. Observe every cost, then Score.
type Ranker struct {
	best, second int64
	seen         bool
}

// Observe records a cost.
func (k *Ranker) Observe(cost int64) {
	if !k.seen {
		k.best, k.second, k.seen = math.MaxInt64, math.MaxInt64, true
	}
	t, _ := Decode(cost)
	switch {
	case t < k.best:
		k.best, k.second = t, k.best
	case t > k.best && t < k.second:
		k.second = t
	}
}

// Score returns the node score of an observed cost.
func (k *Ranker) Score(cost int64) int64 {
	t, r := Decode(cost)
	switch t {
	case k.best:
		return bestFloor + int64(math.Round(r*(MaxScore-bestFloor)))
	case k.second:
		return 1 + int64(math.Round(r*(bestFloor-2)))
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
