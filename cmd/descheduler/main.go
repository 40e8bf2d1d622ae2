// Command descheduler is the upstream descheduler (sigs.k8s.io/descheduler)
// with snug's strategies added to its plugin registry. Every upstream flag and
// the DeschedulerPolicy v1alpha2 format keep working.
package main

import (
	"os"

	"k8s.io/component-base/cli"

	"github.com/snug-sched/snug/pkg/descheduler"
)

func main() {
	os.Exit(cli.Run(descheduler.NewCommand(os.Stdout)))
}
