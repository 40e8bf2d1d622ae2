package strandingawarepacking

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/snug-sched/snug/pkg/stranding"
)

// Score returns the placement's cost (stranding.Encode: tier, then R);
// NormalizeScore turns costs into scores. O(shapes x resources), no allocation.
func (pl *Plugin) Score(ctx context.Context, cs fwk.CycleState, pod *corev1.Pod, ni fwk.NodeInfo) (int64, *fwk.Status) {
	s, err := getState(cs)
	if err != nil {
		return 0, fwk.AsStatus(err)
	}
	var alloc, used stranding.Vec
	nodeVectors(&s.layout, &s.kinds, ni, true, &alloc, &used)
	plan, reserved := s.plan(ni.Node())
	e := plan.Evaluate(&alloc, &used)
	return stranding.Encode(stranding.Tier(e.Scarce, reserved, s.spread.violation(ni.Node())), e.Score), nil
}

// NormalizeScore maps costs onto [0, 100] keeping the lexicographic order.
func (pl *Plugin) NormalizeScore(ctx context.Context, cs fwk.CycleState, pod *corev1.Pod, scores fwk.NodeScoreList) *fwk.Status {
	var r stranding.Ranker
	for i := range scores {
		r.Observe(scores[i].Score)
	}
	for i := range scores {
		scores[i].Score = r.Score(scores[i].Score)
	}
	return nil
}

func getState(cs fwk.CycleState) (*preScoreState, error) {
	d, err := cs.Read(stateKey)
	if err != nil {
		return nil, fmt.Errorf("reading %q from cycle state: %w", stateKey, err)
	}
	s, ok := d.(*preScoreState)
	if !ok {
		return nil, fmt.Errorf("%+v convert to %s preScoreState error", d, Name)
	}
	return s, nil
}
