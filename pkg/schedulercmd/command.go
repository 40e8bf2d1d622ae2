// Package schedulercmd builds the snug scheduler command: upstream's
// kube-scheduler command with snug's plugins registered and snug's plugin
// args registered in the kube-scheduler config scheme.
package schedulercmd

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

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
// its shipped snug-scheduler configuration instead, with upstream's
// deprecated flags (ignored by upstream once --config is set) carried into it.
func NewCommand() *cobra.Command {
	cmd := app.NewSchedulerCommand(plugins.RegistryOptions()...)
	cmd.Use = "scheduler"
	upstreamRunE := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		// --version exits inside upstream's RunE, before a deferred cleanup.
		if !c.Flags().Changed("config") && !c.Flags().Changed("version") {
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
// file, with the deprecated flags given on the command line applied as
// upstream applies them without --config (they would be ignored once
// --config is set).
func writeShippedConfig(c *cobra.Command) (string, error) {
	var cfg map[string]interface{}
	if err := yaml.Unmarshal(manifests.SchedulerConfig, &cfg); err != nil {
		return "", fmt.Errorf("shipped scheduler config: %w", err)
	}
	conn, _ := cfg["clientConnection"].(map[string]interface{})
	if conn == nil {
		conn = map[string]interface{}{}
	}
	for _, d := range deprecatedFlags {
		f := c.Flags().Lookup(d.flag)
		if f == nil || !f.Changed {
			continue
		}
		v, err := d.value(f.Value.String())
		if err != nil {
			return "", fmt.Errorf("--%s: %w", d.flag, err)
		}
		if d.clientConnection {
			conn[d.field] = v
		} else {
			cfg[d.field] = v
		}
	}
	if len(conn) > 0 {
		cfg["clientConnection"] = conn
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

// deprecatedFlags are upstream's DeprecatedOptions that ApplyDeprecated
// copies into the configuration when no --config is given.
var deprecatedFlags = []struct {
	flag, field      string
	clientConnection bool
	value            func(string) (interface{}, error)
}{
	{"kubeconfig", "kubeconfig", true, asString},
	{"kube-api-content-type", "contentType", true, asString},
	{"kube-api-qps", "qps", true, func(s string) (interface{}, error) { return strconv.ParseFloat(s, 32) }},
	{"kube-api-burst", "burst", true, func(s string) (interface{}, error) { return strconv.ParseInt(s, 10, 32) }},
	{"profiling", "enableProfiling", false, func(s string) (interface{}, error) { return strconv.ParseBool(s) }},
	{"contention-profiling", "enableContentionProfiling", false, func(s string) (interface{}, error) { return strconv.ParseBool(s) }},
}

func asString(s string) (interface{}, error) { return s, nil }
