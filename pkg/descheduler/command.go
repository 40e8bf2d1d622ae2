// Package descheduler builds the snug descheduler command: the upstream
// descheduler command whose plugin registry also holds snug's strategies.
package descheduler

import (
	"io"

	"github.com/spf13/cobra"
	"sigs.k8s.io/descheduler/cmd/descheduler/app"
	"sigs.k8s.io/descheduler/pkg/framework/pluginregistry"

	"github.com/snug-sched/snug/pkg/strategies"
	"github.com/snug-sched/snug/pkg/version"
)

// NewCommand returns the upstream descheduler command with snug's strategies
// registered. Upstream's PreRunE replaces pluginregistry.PluginRegistry with a
// fresh registry of the in-tree plugins, so snug registers after it runs;
// registering earlier would be silently discarded.
func NewCommand(out io.Writer) *cobra.Command {
	cmd := app.NewDeschedulerCommand(out)
	upstreamPreRunE := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		if upstreamPreRunE != nil {
			if err := upstreamPreRunE(c, args); err != nil {
				return err
			}
		}
		strategies.Register(pluginregistry.PluginRegistry)
		return nil
	}
	cmd.AddCommand(app.NewVersionCommand())
	// --version prints "descheduler version <snug's version>" (cobra's
	// version flag). Declared here as a bool: otherwise cobra would take up
	// component-base verflag's global --version, which the kube-scheduler
	// libraries register when linked in, and fail on its type.
	cmd.Flags().Bool("version", false, "Print the version and exit.")
	cmd.Version = version.Get()
	return cmd
}
