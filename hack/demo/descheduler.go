package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/snug-sched/snug/pkg/strategies/simgate"
	"github.com/snug-sched/snug/test/integration/framework"
)

// deschedule runs snug's descheduler as its CronJob does, once with
// --dry-run and once for real, and reports before and after.
func (d *demo) deschedule(ctx context.Context) error {
	kubeconfig, err := d.cp.ServiceAccountKubeconfig(ctx, framework.SnugNamespace, framework.DeschedulerAccount)
	if err != nil {
		return err
	}
	before, err := d.podUIDs(ctx)
	if err != nil {
		return err
	}

	d.p.logf("descheduler --dry-run as ServiceAccount %s/%s with manifests/descheduler/policy.yaml and manifests/scheduler-config.yaml",
		framework.SnugNamespace, framework.DeschedulerAccount)
	moves, err := d.dryRun(ctx, kubeconfig)
	if err != nil {
		return err
	}
	fmt.Printf("\n== Descheduler, dry run: the plan (every move simulated with the pod's scheduler profile; nothing evicted)\n\n")
	if err := printPlan(moves); err != nil {
		return err
	}
	same, err := d.podUIDs(ctx)
	if err != nil {
		return err
	}
	if !sameKeys(before, same) {
		return fmt.Errorf("the dry run changed the pods: %d before, %d after", len(before), len(same))
	}
	fmt.Printf("  pods unchanged after the dry run: %d\n\n", len(same))

	d.p.logf("descheduler for real (same policy, same ServiceAccount)")
	run, err := d.run(ctx, "descheduler", d.deschedulerArgs(kubeconfig), nil)
	if err != nil {
		return err
	}
	moves = gateLog(run.stderr)
	if err := d.settle(ctx, d.workload.expectedPods(3), "the evicted pods' replacements"); err != nil {
		return err
	}
	after, err := d.podUIDs(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("\n== Descheduler, real run: the evictions as the simulation gate logged them (TO: the destination it predicted), then where the replacements landed\n\n")
	if err := printPlan(moves); err != nil {
		return err
	}
	for _, p := range pools {
		var gone, added []string
		left := map[string][]string{} // owner -> nodes its evicted pods left
		for uid, pod := range before {
			if _, ok := after[uid]; !ok && pod.namespace == p.namespace {
				gone = append(gone, pod.name+" on "+pod.node)
				left[pod.owner] = append(left[pod.owner], pod.node)
			}
		}
		futile := 0
		for uid, pod := range after {
			if _, ok := before[uid]; !ok && pod.namespace == p.namespace {
				added = append(added, pod.name+" on "+pod.node)
				if i := slices.Index(left[pod.owner], pod.node); i >= 0 {
					left[pod.owner] = slices.Delete(left[pod.owner], i, i+1)
					futile++
				}
			}
		}
		sort.Strings(gone)
		sort.Strings(added)
		fmt.Printf("  %s: %d evicted", p.namespace, len(gone))
		if len(gone) > 0 {
			fmt.Printf(", %d replacement(s) back on a node an evicted sibling left (futile)\n    evicted: %s\n    replacements: %s",
				futile, strings.Join(gone, ", "), strings.Join(added, ", "))
		}
		fmt.Println()
	}

	cols, err := d.measure(ctx, nil)
	if err != nil {
		return err
	}
	var beforeAfter []column
	for i := range pools {
		b, a := d.lastMeasure[i], cols[i]
		b.title, a.title = pools[i].scheduler+": before", "after"
		b.held = a.held // step 1's, shown above; the same in both
		beforeAfter = append(beforeAfter, b, a)
	}
	printReport("Before and after the descheduler", beforeAfter)
	return nil
}

// podRef is where a pod was, and its controller.
type podRef struct{ namespace, name, node, owner string }

// podUIDs returns the live pods of both pools by UID.
func (d *demo) podUIDs(ctx context.Context) (map[types.UID]podRef, error) {
	out := map[types.UID]podRef{}
	for _, p := range pools {
		pods, err := d.c.CoreV1().Pods(p.namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		for _, pod := range pods.Items {
			if pod.DeletionTimestamp == nil {
				r := podRef{namespace: p.namespace, name: pod.Name, node: pod.Spec.NodeName}
				if o := metav1.GetControllerOf(&pod); o != nil {
					r.owner = o.Kind + "/" + o.Name
				}
				out[pod.UID] = r
			}
		}
	}
	return out, nil
}

func sameKeys(a, b map[types.UID]podRef) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

// deschedulerRun is one descheduler process's output.
type deschedulerRun struct{ stdout, stderr string }

// deschedulerArgs are the CronJob container's arguments (policy and
// scheduler configuration as shipped) with the demo's paths.
func (d *demo) deschedulerArgs(kubeconfig string) []string {
	return []string{
		"--kubeconfig=" + kubeconfig,
		"--policy-config-file=" + filepath.Join(d.manifests, "descheduler", "policy.yaml"),
		"--scheduler-config=" + filepath.Join(d.manifests, "scheduler-config.yaml"),
		"--secure-port=0", "--v=3",
	}
}

// dryRun runs the descheduler with --dry-run and returns its plan.
//
// Unlike the real run it does not run once: upstream v0.36's dry-run
// sandbox copies the cluster into a fake client through informer event
// handlers and starts its first cycle before the copy is complete
// (kubernetes-sigs/descheduler#1917). That first cycle sees no nodes, no
// pods or only some, and the simulation gate, whose snapshot comes from the
// sandbox too, refuses the candidates it has not seen; on an idle machine
// that happened on every attempt. So the dry run runs with
// --descheduling-interval=2s and the demo shows the second cycle's plan
// (the gate prints a cycle's plan when the next one starts), then stops it.
func (d *demo) dryRun(ctx context.Context, kubeconfig string) ([]simgate.Move, error) {
	args := append(d.deschedulerArgs(kubeconfig), "--dry-run", "--plan-format=json", "--descheduling-interval=2s")
	secondPlan := func(stdout string) bool {
		return strings.Count(stdout, "\n}\n") >= 2 // the JSON plan is indented: "}" alone ends one
	}
	r, err := d.run(ctx, "descheduler-dry-run", args, secondPlan)
	if err != nil {
		return nil, err
	}
	if !secondPlan(r.stdout) {
		return nil, fmt.Errorf("descheduler --dry-run exited before its second cycle's plan; stdout:\n%s", r.stdout)
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	var plan struct {
		Moves []simgate.Move `json:"moves"`
	}
	for range 2 {
		if err := dec.Decode(&plan); err != nil {
			return nil, fmt.Errorf("descheduler --dry-run: plan is not JSON: %w\n%s", err, r.stdout)
		}
	}
	return plan.Moves, nil
}

// run runs the descheduler in its own process group, killed with its group
// when ctx ends, until it exits or, if enough is set, until enough says its
// stdout has what the demo needs (then SIGTERM, as the kubelet stops a
// container); stdout and stderr go to <LogDir>/<name>.log too.
func (d *demo) run(ctx context.Context, name string, args []string, enough func(stdout string) bool) (deschedulerRun, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	logFile, err := os.OpenFile(filepath.Join(d.cp.LogDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return deschedulerRun{}, err
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "### %s %s\n", d.bins.descheduler, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, d.bins.descheduler, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout, stderr syncBuffer // an *os.File takes concurrent writes
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&stdout, logFile), io.MultiWriter(&stderr, logFile)
	if err := cmd.Start(); err != nil {
		return deschedulerRun{}, fmt.Errorf("%s: %w", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var stopped time.Time
	for err == nil {
		select {
		case err = <-done:
			if !stopped.IsZero() {
				err = nil // it stopped because the demo asked it to
			}
			if err == nil {
				return deschedulerRun{stdout: stdout.String(), stderr: stderr.String()}, nil
			}
		case <-tick.C:
			switch {
			case stopped.IsZero() && enough != nil && enough(stdout.String()):
				stopped = time.Now()
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			case !stopped.IsZero() && time.Since(stopped) > 10*time.Second:
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
		}
	}
	if ctx.Err() != nil {
		return deschedulerRun{}, fmt.Errorf("%s: %w", name, context.Cause(ctx))
	}
	return deschedulerRun{}, fmt.Errorf("%s: %w; last lines of %s:\n%s", name, err, logFile.Name(), lastLines(stderr.String(), 30))
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// printPlan prints moves as the descheduler's --dry-run table, indented.
func printPlan(moves []simgate.Move) error {
	var b bytes.Buffer
	if err := simgate.WritePlan(&b, "table", moves); err != nil {
		return err
	}
	for _, l := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		fmt.Println("  " + l)
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// gateLine is the simulation gate's log line of a move (klog, --v>=1).
var gateLine = regexp.MustCompile(`"Simulation gate" pod="([^"/]+)/([^"]+)" from="([^"]*)" to="([^"]*)" strategy="([^"]*)" status="([^"]*)"(?: error="([^"]*)")?`)

// gateLog returns the moves of a real run from its log.
func gateLog(stderr string) []simgate.Move {
	var moves []simgate.Move
	for _, m := range gateLine.FindAllStringSubmatch(stderr, -1) {
		moves = append(moves, simgate.Move{Namespace: m[1], Name: m[2], From: m[3], To: m[4], Strategy: m[5], Status: m[6], Error: m[7]})
	}
	return moves
}
