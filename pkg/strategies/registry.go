// Package strategies holds snug's descheduler strategies: descheduler plugins
// that evict a pod only when a simulation with the scheduler's own plugins
// shows it will land somewhere better.
package strategies

import (
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/descheduler/pkg/framework/pluginregistry"
)

// Register adds snug's strategies to a descheduler plugin registry. It is the
// single seam through which cmd/descheduler (and tests) learn about them, and
// it runs after upstream has registered its in-tree plugins, so snug's names
// must not collide with upstream's.
func Register(registry pluginregistry.Registry) {
	for _, s := range all {
		pluginregistry.Register(s.name, s.builder, s.pluginType, s.argInstance, s.validator, s.defaulter, registry)
	}
}

// strategy is one row of the registry; all lists every snug strategy.
type strategy struct {
	name        string
	builder     pluginregistry.PluginBuilder
	pluginType  interface{}
	argInstance runtime.Object
	validator   pluginregistry.PluginArgValidator
	defaulter   pluginregistry.PluginArgDefaulter
}

// all is empty until the descheduler-strategies issue lands its plugins.
var all []strategy
