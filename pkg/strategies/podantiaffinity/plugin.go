// Package podantiaffinity is upstream's
// RemovePodsViolatingInterPodAntiAffinity, same name and args, with every
// eviction gated by a simulation: the replacement must land on another node
// where the scheduler's InterPodAffinity filter passes in both directions
// (its own anti-affinity and that of the pods already there). Once one pod
// of a violating pair is planned to move, the snapshot no longer holds the
// violation, so its partner stays.
package podantiaffinity

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	upstream "sigs.k8s.io/descheduler/pkg/framework/plugins/removepodsviolatinginterpodantiaffinity"
	frameworktypes "sigs.k8s.io/descheduler/pkg/framework/types"

	"github.com/snug-sched/snug/pkg/strategies/simgate"
)

// PluginName is upstream's name.
const PluginName = upstream.PluginName

// Args are upstream's, unchanged.
type Args = upstream.RemovePodsViolatingInterPodAntiAffinityArgs

var (
	// Validate and SetDefaults are upstream's.
	Validate    = upstream.ValidateRemovePodsViolatingInterPodAntiAffinityArgs
	SetDefaults = upstream.SetDefaults_RemovePodsViolatingInterPodAntiAffinityArgs
)

// Plugin is RemovePodsViolatingInterPodAntiAffinity behind the simulation gate.
type Plugin struct{ simgate.GatedDeschedule }

// New builds upstream's plugin on a gated handle. The goal is the filters'
// own: a feasible node other than the pod's.
func New(ctx context.Context, args runtime.Object, h frameworktypes.Handle) (frameworktypes.Plugin, error) {
	p, err := simgate.NewGatedDeschedule(ctx, PluginName, args, h, upstream.New, nil)
	if err != nil {
		return nil, err
	}
	return &Plugin{p}, nil
}
