// Package strategies holds snug's descheduler strategies: upstream's
// RemoveDuplicates, LowNodeUtilization, HighNodeUtilization,
// RemovePodsViolatingNodeAffinity, RemovePodsViolatingInterPodAntiAffinity
// and RemovePodsViolatingTopologySpreadConstraint, under the same names and
// args, whose evictions go through the simulation gate (simgate): a pod is
// evicted only when a simulation with the scheduler's own plugins shows it
// will land somewhere better.
package strategies

import (
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/descheduler/pkg/framework/pluginregistry"

	"github.com/snug-sched/snug/pkg/strategies/highnodeutilization"
	"github.com/snug-sched/snug/pkg/strategies/lownodeutilization"
	"github.com/snug-sched/snug/pkg/strategies/nodeaffinity"
	"github.com/snug-sched/snug/pkg/strategies/podantiaffinity"
	"github.com/snug-sched/snug/pkg/strategies/removeduplicates"
	"github.com/snug-sched/snug/pkg/strategies/topologyspread"
)

// Register puts snug's strategies into a descheduler plugin registry in
// place of upstream's plugins of the same names, so an upstream policy file
// keeps working and means the same, with every eviction gated. It runs
// after upstream has filled the registry (upstream's Register silently
// keeps the first entry of a name, hence the explicit replacement).
func Register(registry pluginregistry.Registry) {
	for _, s := range all {
		delete(registry, s.name)
		pluginregistry.Register(s.name, s.builder, s.pluginType, s.argInstance, s.validator, s.defaulter, registry)
	}
}

// Names lists the strategies snug replaces.
func Names() []string {
	var out []string
	for _, s := range all {
		out = append(out, s.name)
	}
	return out
}

// strategy is one row of the registry.
type strategy struct {
	name        string
	builder     pluginregistry.PluginBuilder
	pluginType  interface{}
	argInstance runtime.Object
	validator   pluginregistry.PluginArgValidator
	defaulter   pluginregistry.PluginArgDefaulter
}

var all = []strategy{
	{removeduplicates.PluginName, removeduplicates.New, &removeduplicates.Plugin{}, &removeduplicates.Args{}, removeduplicates.Validate, removeduplicates.SetDefaults},
	{lownodeutilization.PluginName, lownodeutilization.New, &lownodeutilization.Plugin{}, &lownodeutilization.Args{}, lownodeutilization.Validate, lownodeutilization.SetDefaults},
	{highnodeutilization.PluginName, highnodeutilization.New, &highnodeutilization.Plugin{}, &highnodeutilization.Args{}, highnodeutilization.Validate, highnodeutilization.SetDefaults},
	{nodeaffinity.PluginName, nodeaffinity.New, &nodeaffinity.Plugin{}, &nodeaffinity.Args{}, nodeaffinity.Validate, nodeaffinity.SetDefaults},
	{podantiaffinity.PluginName, podantiaffinity.New, &podantiaffinity.Plugin{}, &podantiaffinity.Args{}, podantiaffinity.Validate, podantiaffinity.SetDefaults},
	{topologyspread.PluginName, topologyspread.New, &topologyspread.Plugin{}, &topologyspread.Args{}, topologyspread.Validate, topologyspread.SetDefaults},
}
