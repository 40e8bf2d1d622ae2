// Command capacity-planner compares scheduler profiles (kube-scheduler's
// default, snug's, or any KubeSchedulerConfiguration) on a cluster and a
// workload with snug's in-process simulator, and finds the fewest nodes of
// a shape that host a workload. See pkg/planner.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/klog/v2"

	"github.com/snug-sched/snug/pkg/planner"
)

func main() {
	// The scheduler framework logs through klog; its informational lines
	// (plugins without an API server, ...) are noise here.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := planner.Main(ctx, os.Args[1:], os.Stdout, os.Stderr, planner.IsTerminal(os.Stderr))
	stop()
	os.Exit(code)
}
