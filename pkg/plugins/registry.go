// Package plugins lists snug's scheduler plugins: one registry shared by the
// scheduler command, the simulator and the tests, so that all of them run
// exactly the same plugins.
package plugins

import (
	"k8s.io/kubernetes/cmd/kube-scheduler/app"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"

	"github.com/snug-sched/snug/pkg/plugins/predictabledemands"
	"github.com/snug-sched/snug/pkg/plugins/qosawarepreemption"
	"github.com/snug-sched/snug/pkg/plugins/strandingawarepacking"
)

// Registry returns snug's out-of-tree plugin registry.
func Registry() frameworkruntime.Registry {
	return frameworkruntime.Registry{
		strandingawarepacking.Name: strandingawarepacking.New,
		predictabledemands.Name:    predictabledemands.New,
		qosawarepreemption.Name:    qosawarepreemption.New,
	}
}

// RegistryOptions adapts Registry to app.NewSchedulerCommand.
func RegistryOptions() []app.Option {
	var opts []app.Option
	for name, factory := range Registry() {
		opts = append(opts, app.WithPlugin(name, factory))
	}
	return opts
}
