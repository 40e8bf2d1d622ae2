// Package removeduplicates is upstream's RemoveDuplicates, same name and
// args, with every eviction gated by a simulation: a duplicate is evicted
// only if its replacement lands on a node that then holds fewer of its
// owner's pods than the node it leaves (so never when there are more
// replicas than feasible places, or when the scheduler would put it back).
package removeduplicates

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	upstream "sigs.k8s.io/descheduler/pkg/framework/plugins/removeduplicates"
	frameworktypes "sigs.k8s.io/descheduler/pkg/framework/types"

	"github.com/snug-sched/snug/pkg/strategies/simgate"
)

// PluginName is upstream's name: policies naming it get this strategy.
const PluginName = upstream.PluginName

// Args are upstream's RemoveDuplicatesArgs, unchanged.
type Args = upstream.RemoveDuplicatesArgs

var (
	// Validate and SetDefaults are upstream's.
	Validate    = upstream.ValidateRemoveDuplicatesArgs
	SetDefaults = upstream.SetDefaults_RemoveDuplicatesArgs
)

// Plugin is RemoveDuplicates behind the simulation gate.
type Plugin struct{ simgate.GatedBalance }

// New builds upstream's plugin on a gated handle.
func New(ctx context.Context, args runtime.Object, h frameworktypes.Handle) (frameworktypes.Plugin, error) {
	p, err := simgate.NewGatedBalance(ctx, PluginName, args, h, upstream.New, func(*corev1.Pod) simgate.Goal { return simgate.FewerSiblings })
	if err != nil {
		return nil, err
	}
	return &Plugin{p}, nil
}
