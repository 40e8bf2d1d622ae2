package throughput

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// smokeLabel selects the few-hundred-node workloads of the config files.
const smokeLabel = "smoke"

// raceSmokeCases are the test cases the smoke test runs under the race
// detector (make test-unit), to stay within about two minutes: the basic
// upstream case, and snug's case that goes through the most of snug's plugin
// (GPU and CPU nodes, mixed shapes, ScheduleAnyway spreading).
var raceSmokeCases = []string{"SchedulingBasic", "SnugSpreadPacking"}

// TestThroughputSmoke runs the smoke workloads of both profiles through the
// real benchmark (this test binary re-executed with -test.bench and
// scheduler_perf's -perf-scheduling-label-filter=smoke) and checks that every
// workload ran to the end under each profile. scheduler_perf only ends a
// createPods op once all its pods are bound, so a finished workload means
// every pod was scheduled; under the snug profile, whose only profile is
// snug-scheduler, by snug's profile. Speed is not asserted.
func TestThroughputSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and a kube-apiserver per workload; skipped in -short mode")
	}
	if etcdErr != nil {
		t.Skipf("skipping the scheduler_perf smoke run: %v", etcdErr)
	}
	want := labelledWorkloads(t, smokeLabel)
	if len(want) == 0 {
		t.Fatalf("no workload labelled %q in %v", smokeLabel, configFiles)
	}
	subBench := ""
	if raceEnabled {
		want = slices.DeleteFunc(want, func(w string) bool {
			return !slices.Contains(raceSmokeCases, strings.SplitN(w, "/", 2)[0])
		})
		subBench = "/^(" + strings.Join(raceSmokeCases, "|") + ")$"
		t.Logf("race detector on: smoke-testing only %v", raceSmokeCases)
	}

	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	// The profiles run as two processes at once: most of a small
	// workload's time is etcd and apiserver start-up and shutdown, which
	// leaves the CPUs half idle.
	const timeout = 8 * time.Minute
	ctx, cancel := context.WithTimeout(t.Context(), timeout+30*time.Second)
	defer cancel()
	type run struct {
		profile string
		out     []byte
		err     error
	}
	runs := make(chan run)
	start := time.Now()
	for _, profile := range []string{ProfileDefault, ProfileSnug} {
		bench := "BenchmarkPerfSchedulingDefault"
		if profile == ProfileSnug {
			bench = "BenchmarkPerfSchedulingSnug"
		}
		cmd := exec.CommandContext(ctx, os.Args[0],
			"-test.run=^$",
			"-test.bench=^"+bench+"$"+subBench,
			"-test.benchtime=1x",
			"-test.timeout="+timeout.String(),
			"-perf-scheduling-label-filter="+smokeLabel,
			"-data-items-dir="+dir,
		)
		// scheduler_perf writes each workload's log to $ARTIFACTS/<name>.log
		// and removes it when the workload passes.
		cmd.Env = append(os.Environ(), "ARTIFACTS="+logs)
		go func() {
			out, err := cmd.CombinedOutput()
			runs <- run{profile, out, err}
		}()
	}
	var out []byte
	for range 2 {
		r := <-runs
		if r.err != nil && raceEnabled {
			if ours, upstream := dataRaces(r.out); ours == 0 && upstream > 0 {
				// The workloads' results are still checked below.
				t.Logf("%s profile: ignoring %d data race report(s) entirely inside upstream code "+
					"(scheduler_perf resets its metrics registry while its in-process apiserver serves requests)", r.profile, upstream)
				r.err = nil
			}
		}
		if r.err != nil {
			t.Errorf("smoke benchmark of the %s profile failed after %s: %v\n%s", r.profile, time.Since(start).Round(time.Second), r.err, tail(string(r.out), 80))
		}
		out = append(out, r.out...)
	}
	if t.Failed() {
		t.Fatal(failedLogs(logs))
	}
	t.Logf("smoke benchmarks took %s", time.Since(start).Round(time.Second))

	items, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, profile := range []string{ProfileDefault, ProfileSnug} {
		for _, w := range want {
			i := slices.IndexFunc(items, func(it Item) bool {
				return it.Profile == profile && it.Workload == w && it.Metric == "SchedulingDuration"
			})
			if i < 0 {
				t.Errorf("profile %s, workload %s: no result, so it did not run to the end\n%s", profile, w, tail(string(out), 40))
				continue
			}
			t.Logf("%-7s %-40s measured pods scheduled in %.1fs", profile, w, items[i].Data["Duration"])
		}
	}
}

// labelledWorkloads lists "<test case>/<workload>" of the workloads whose
// own or test case labels include label.
func labelledWorkloads(t testing.TB, label string) []string {
	t.Helper()
	var out []string
	for _, f := range configFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var tcs []struct {
			Name      string
			Labels    []string
			Workloads []struct {
				Name   string
				Labels []string
			}
		}
		if err := yaml.Unmarshal(data, &tcs); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, tc := range tcs {
			for _, w := range tc.Workloads {
				if slices.Contains(tc.Labels, label) || slices.Contains(w.Labels, label) {
					out = append(out, tc.Name+"/"+w.Name)
				}
			}
		}
	}
	return out
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"[...]"}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n") + "\n"
}

// failedLogs returns the ends of the logs of failed workloads.
func failedLogs(dir string) string {
	var b strings.Builder
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		b.WriteString("\n=== " + filepath.Base(f) + " (end)\n" + tail(string(data), 60))
	}
	return b.String()
}

// dataRaces counts the race detector's reports in out: those with a frame
// in snug's code and those without. Only the first must fail the smoke test;
// the others are races between upstream components running in one process.
func dataRaces(out []byte) (ours, upstream int) {
	reports := strings.Split(string(out), "WARNING: DATA RACE")
	for _, r := range reports[1:] {
		if end := strings.Index(r, "=================="); end >= 0 {
			r = r[:end]
		}
		if strings.Contains(r, "github.com/snug-sched/snug/") {
			ours++
		} else {
			upstream++
		}
	}
	return ours, upstream
}
