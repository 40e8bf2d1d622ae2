// Package topologyspread is upstream's
// RemovePodsViolatingTopologySpreadConstraint, same name and args (minDomains,
// nodeAffinityPolicy, nodeTaintsPolicy and matchLabelKeys are honoured by
// upstream's selection and by the scheduler's PodTopologySpread filter in
// the simulation), with every eviction gated: the replacement must land in
// a domain that leaves the pod's constraints better balanced
// (simgate.SpreadImproves), not in the same or an equally full one.
package topologyspread

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	upstream "sigs.k8s.io/descheduler/pkg/framework/plugins/removepodsviolatingtopologyspreadconstraint"
	frameworktypes "sigs.k8s.io/descheduler/pkg/framework/types"

	"github.com/snug-sched/snug/pkg/strategies/simgate"
)

// PluginName is upstream's name.
const PluginName = upstream.PluginName

// Args are upstream's, unchanged.
type Args = upstream.RemovePodsViolatingTopologySpreadConstraintArgs

var (
	// Validate and SetDefaults are upstream's.
	Validate    = upstream.ValidateRemovePodsViolatingTopologySpreadConstraintArgs
	SetDefaults = upstream.SetDefaults_RemovePodsViolatingTopologySpreadConstraintArgs
)

// Plugin is RemovePodsViolatingTopologySpreadConstraint behind the gate.
type Plugin struct{ simgate.GatedBalance }

// New builds upstream's plugin on a gated handle.
func New(ctx context.Context, args runtime.Object, h frameworktypes.Handle) (frameworktypes.Plugin, error) {
	soft := false
	if a, ok := args.(*Args); ok {
		soft = slices.Contains(a.Constraints, corev1.ScheduleAnyway)
	}
	goal := simgate.SpreadImproves(soft)
	p, err := simgate.NewGatedBalance(ctx, PluginName, args, h, upstream.New, func(*corev1.Pod) simgate.Goal { return goal })
	if err != nil {
		return nil, err
	}
	return &Plugin{p}, nil
}
