// Package integration runs snug's binaries against a real control plane:
// etcd, kube-apiserver and (where controllers are needed)
// kube-controller-manager built from the module graph.
package integration

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/snug-sched/snug/test/integration/framework"
)

// snugBin holds bin/scheduler and bin/descheduler built from this checkout,
// so the tests always exercise the code under test.
var snugBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		fmt.Println("integration tests skipped in -short mode")
		return 0
	}
	dir, err := framework.ControlPlaneBinDir()
	if err == nil {
		err = framework.EnsureControlPlaneBinaries(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "control-plane binaries:", err)
		return 1
	}
	snugBin, err = os.MkdirTemp("", "snug-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(snugBin)
	root, err := framework.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	build := exec.Command("go", "build", "-o", snugBin+"/", "./cmd/scheduler", "./cmd/descheduler")
	build.Dir, build.Stdout, build.Stderr = root, os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building snug binaries:", err)
		return 1
	}
	return m.Run()
}

func binary(name string) string { return filepath.Join(snugBin, name) }
