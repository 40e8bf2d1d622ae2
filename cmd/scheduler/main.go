// Command scheduler is kube-scheduler (Kubernetes 1.36 framework) with snug's
// plugins in its registry. Every upstream flag works; see pkg/schedulercmd.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register" // JSON log format, as upstream
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"

	"github.com/snug-sched/snug/pkg/schedulercmd"
)

func main() {
	os.Exit(cli.Run(schedulercmd.NewCommand()))
}
