// Package nodeaffinity is upstream's RemovePodsViolatingNodeAffinity, same
// name and args, with every eviction gated by a simulation: the replacement
// must land, by the pod's own scheduler profile, on another node that
// satisfies its required node affinity (and, for the preferred type, one it
// prefers more than the node it leaves).
package nodeaffinity

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	upstream "sigs.k8s.io/descheduler/pkg/framework/plugins/removepodsviolatingnodeaffinity"
	frameworktypes "sigs.k8s.io/descheduler/pkg/framework/types"

	"github.com/snug-sched/snug/pkg/strategies/simgate"
)

// PluginName is upstream's name.
const PluginName = upstream.PluginName

// Args are upstream's, unchanged.
type Args = upstream.RemovePodsViolatingNodeAffinityArgs

var (
	// Validate and SetDefaults are upstream's.
	Validate    = upstream.ValidateRemovePodsViolatingNodeAffinityArgs
	SetDefaults = upstream.SetDefaults_RemovePodsViolatingNodeAffinityArgs
)

// Plugin is RemovePodsViolatingNodeAffinity behind the simulation gate.
type Plugin struct{ simgate.GatedDeschedule }

// New builds upstream's plugin on a gated handle.
func New(ctx context.Context, args runtime.Object, h frameworktypes.Handle) (frameworktypes.Plugin, error) {
	p, err := simgate.NewGatedDeschedule(ctx, PluginName, args, h, upstream.New, func(*corev1.Pod) simgate.Goal { return simgate.BetterPreferredAffinity })
	if err != nil {
		return nil, err
	}
	return &Plugin{p}, nil
}
