// Package schedulercmd builds the snug scheduler command: upstream's
// kube-scheduler command with snug's plugins registered and snug's plugin
// args registered in the kube-scheduler config scheme.
package schedulercmd

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/cmd/kube-scheduler/app"
	"sigs.k8s.io/yaml"

	"github.com/snug-sched/snug/manifests"
	_ "github.com/snug-sched/snug/pkg/apis/config/scheme" // snug's plugin args in the kube-scheduler scheme
	"github.com/snug-sched/snug/pkg/plugins"
)

// NewCommand returns kube-scheduler with snug's out-of-tree plugins. Every
// upstream flag works. Without --config, upstream would run a profile named
// default-scheduler and bind pods the default scheduler also binds; snug runs
// its shipped snug-scheduler configuration instead (honouring --kubeconfig).
func NewCommand() *cobra.Command {
	cmd := app.NewSchedulerCommand(plugins.RegistryOptions()...)
	cmd.Use = "scheduler"
	upstreamRunE := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if !c.Flags().Changed("config") {
			path, err := writeShippedConfig(c)
			if err != nil {
				return err
			}
			defer os.RemoveAll(filepath.Dir(path))
			if err := c.Flags().Set("config", path); err != nil {
				return err
			}
			klog.InfoS("No --config given; using snug's shipped configuration", "profile", manifests.SchedulerName)
		}
		return upstreamRunE(c, args)
	}
	return cmd
}

// writeShippedConfig writes manifests/scheduler-config.yaml to a temporary
// file, with clientConnection.kubeconfig set from the deprecated --kubeconfig
// flag when given (upstream ignores that flag once --config is set).
func writeShippedConfig(c *cobra.Command) (string, error) {
	var cfg map[string]interface{}
	if err := yaml.Unmarshal(manifests.SchedulerConfig, &cfg); err != nil {
		return "", fmt.Errorf("shipped scheduler config: %w", err)
	}
	if f := c.Flags().Lookup("kubeconfig"); f != nil && f.Changed {
		cfg["clientConnection"] = map[string]interface{}{"kubeconfig": f.Value.String()}
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "snug-scheduler-config-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "config.yaml")
	return path, os.WriteFile(path, data, 0o600)
}
