// Package descheduler builds the snug descheduler command: the upstream
// descheduler command whose plugin registry also holds snug's strategies.
package descheduler

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"
	"sigs.k8s.io/descheduler/cmd/descheduler/app"
	"sigs.k8s.io/descheduler/pkg/framework/pluginregistry"

	"github.com/snug-sched/snug/pkg/strategies"
	"github.com/snug-sched/snug/pkg/strategies/simgate"
	"github.com/snug-sched/snug/pkg/version"
)

// NewCommand returns the upstream descheduler command with snug's strategies
// registered. Upstream's PreRunE replaces pluginregistry.PluginRegistry with a
// fresh registry of the in-tree plugins, so snug registers after it runs;
// registering earlier would be silently discarded.
func NewCommand(out io.Writer) *cobra.Command {
	cmd := app.NewDeschedulerCommand(out)
	var (
		schedulerConfigs []string
		planFormat       string
		pushURL, pushJob string
		gate             *simgate.Gate
	)
	fs := cmd.Flags()
	fs.StringArrayVar(&schedulerConfigs, "scheduler-config", nil,
		"KubeSchedulerConfiguration file whose profiles predict where evicted pods land, by spec.schedulerName (repeatable; later files win). "+
			"Without it: upstream defaults for default-scheduler and snug's shipped profile for snug-scheduler.")
	fs.StringVar(&planFormat, "plan-format", "table", "How --dry-run prints the plan: table or json.")
	fs.StringVar(&pushURL, "pushgateway-url", "", "Prometheus Pushgateway to push the run's metrics to when it ends (a failed push is logged, not fatal).")
	fs.StringVar(&pushJob, "pushgateway-job", "snug-descheduler", "Job label of pushed metrics.")

	upstreamPreRunE := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		if upstreamPreRunE != nil {
			if err := upstreamPreRunE(c, args); err != nil {
				return err
			}
		}
		if planFormat != "table" && planFormat != "json" {
			return fmt.Errorf("--plan-format: %q is not table or json", planFormat)
		}
		profiles, err := simgate.LoadProfiles(schedulerConfigs)
		if err != nil {
			return err
		}
		dryRun, _ := c.Flags().GetBool("dry-run")
		simgate.RegisterMetrics()
		gate = simgate.New(simgate.Options{Profiles: profiles, DryRun: dryRun, Out: out, Format: planFormat,
			Finish: func() {
				if pushURL == "" {
					return
				}
				if err := simgate.Push(pushURL, pushJob); err != nil {
					klog.ErrorS(err, "Metrics push failed; the run's result is unaffected")
				}
			}})
		simgate.SetShared(gate)
		strategies.Register(pluginregistry.PluginRegistry)
		return nil
	}
	// The last run ends when upstream's RunE returns (run-once mode, or
	// the process stopping): report it then.
	upstreamRunE := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		err := upstreamRunE(c, args)
		if gate != nil {
			gate.Finish(c.Context())
		}
		return err
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
