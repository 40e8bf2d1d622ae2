// Command demo is `make demo`: snug's scheduler beside upstream
// kube-scheduler on a local control plane, the same workload placed by each
// in its own node pool, a side-by-side report, then snug's descheduler.
//
// It starts the integration harness's control plane (etcd, kube-apiserver,
// kube-controller-manager from bin/controlplane, a fake kubelet that runs
// every bound pod), upstream kube-scheduler as the cluster's default
// scheduler, and snug's scheduler as a cluster runs it: the shipped
// configuration (manifests/scheduler-config.yaml), the ServiceAccount and
// RBAC of manifests/, leader election on. It creates two node pools of
// identical shape (pool=default and pool=snug: four CPU nodes and two GPU
// nodes in two zones each) and applies hack/demo/workload (manifests/examples
// scaled up, plus a GPU training job) twice: to namespace demo-default with
// schedulerName default-scheduler on pool=default, and to demo-snug with
// snug-scheduler on pool=snug. It reports side by side what each scheduler
// made of it: nodes used, requested and stranded capacity per resource,
// spread per zone, pods held by missing dependencies, preemption victims.
// Then it runs snug's descheduler (bin/descheduler) under its ServiceAccount
// with the shipped policy (manifests/descheduler/policy.yaml), once with
// --dry-run and once for real, and reports before and after.
//
// Every process it starts is stopped when it ends, fails, or is interrupted
// (Ctrl-C, SIGTERM, SIGHUP, a closed output pipe); if the demo itself is
// killed, the kernel kills them (framework.StartProcess sets Pdeathsig).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/snug-sched/snug/test/integration/framework"
)

func main() {
	binDir := flag.String("bin", "", "directory holding snug's scheduler and descheduler (default: the directory of this program, where make demo builds all three)")
	timeout := flag.Duration("timeout", 2*time.Minute, "how long each step may take to settle")
	flag.Parse()
	// SIGPIPE: output piped into a reader that quit (make demo | head)
	// stops the demo cleanly instead of killing it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	defer stop()
	err := run(ctx, *binDir, *timeout)
	switch {
	case ctx.Err() != nil:
		fmt.Fprintln(os.Stderr, "demo: interrupted; every process it started has been stopped")
		os.Exit(130)
	case err != nil:
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// progress prints numbered steps with the time since the demo began.
type progress struct{ began time.Time }

func (p progress) logf(format string, args ...any) {
	d := time.Since(p.began).Round(time.Second)
	fmt.Printf("[%02d:%02d] "+format+"\n", append([]any{int(d.Minutes()), int(d.Seconds()) % 60}, args...)...)
}

func run(ctx context.Context, binDir string, timeout time.Duration) (retErr error) {
	p := progress{began: time.Now()}
	bins, err := findBinaries(binDir)
	if err != nil {
		return err
	}
	repo, err := framework.RepoRoot()
	if err != nil {
		return fmt.Errorf("run the demo from the repository (make demo): %w", err)
	}
	workload, err := loadWorkload(filepath.Join(repo, "hack", "demo", "workload"))
	if err != nil {
		return err
	}
	logDir, err := os.MkdirTemp("", "snug-demo-logs-")
	if err != nil {
		return err
	}
	p.logf("starting etcd, kube-apiserver and kube-controller-manager from %s (logs of every component in %s)", bins.controlPlane, logDir)
	cp, err := framework.Start(ctx, framework.Options{WithControllerManager: true, LogDir: logDir,
		Logf: func(format string, args ...any) { p.logf("  "+format, args...) }})
	if err != nil {
		return err
	}
	defer func() {
		p.logf("stopping every process the demo started")
		cp.Stop()
		p.logf("all stopped; component logs are in %s", logDir)
		if retErr != nil && ctx.Err() == nil {
			var failed *componentError
			if errors.As(retErr, &failed) {
				fmt.Fprintf(os.Stderr, "--- last lines of %s:\n%s\n", failed.proc.LogPath, failed.proc.LogTail(30))
			}
		}
	}()
	d := &demo{p: p, cp: cp, c: cp.Client, bins: bins, manifests: filepath.Join(repo, "manifests"), workload: workload, timeout: timeout}
	if err := d.startCluster(ctx); err != nil {
		return err
	}
	if err := d.placeWorkload(ctx); err != nil {
		return err
	}
	if err := d.deschedule(ctx); err != nil {
		return err
	}
	p.logf("done")
	return nil
}

// binaries are the programs the demo runs.
type binaries struct {
	controlPlane           string // etcd, kube-apiserver, kube-controller-manager, kube-scheduler
	scheduler, descheduler string // snug's
}

// findBinaries locates every binary the demo needs, or says which are
// missing and how to get them: the demo never builds anything itself.
func findBinaries(binDir string) (binaries, error) {
	if binDir == "" {
		self, err := os.Executable()
		if err != nil {
			return binaries{}, err
		}
		binDir = filepath.Dir(self)
	}
	cpDir, err := framework.ControlPlaneBinDir()
	if err != nil {
		return binaries{}, fmt.Errorf("run the demo from the repository (make demo): %w", err)
	}
	b := binaries{controlPlane: cpDir, scheduler: filepath.Join(binDir, "scheduler"), descheduler: filepath.Join(binDir, "descheduler")}
	var missing []string
	for _, path := range []string{
		filepath.Join(cpDir, "etcd"), filepath.Join(cpDir, "kube-apiserver"),
		filepath.Join(cpDir, "kube-controller-manager"), filepath.Join(cpDir, "kube-scheduler"),
		b.scheduler, b.descheduler,
	} {
		if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
			missing = append(missing, path)
		}
	}
	if len(missing) > 0 {
		return b, fmt.Errorf("missing binaries %v: run `make demo`, which builds them (the control plane into $SNUG_CONTROLPLANE_BIN or bin/controlplane, snug's into bin/demo)", missing)
	}
	return b, nil
}
