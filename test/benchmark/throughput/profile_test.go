package throughput

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/component-base/metrics/testutil"
	schedmetrics "k8s.io/kubernetes/pkg/scheduler/metrics"
)

// A CPU profile of one phase of a workload, for diagnosis (go test's
// -cpuprofile covers the whole run, which the init phase dominates):
//
//	SNUG_BENCH_CPUPROFILE=cpu.out       where to write it
//	SNUG_BENCH_CPUPROFILE_AFTER=20000   start once this many pods are scheduled
//	SNUG_BENCH_CPUPROFILE_SECONDS=20    how long to profile
//
// The count is the scheduler's own (scheduler_pod_scheduling_attempts, one
// sample per scheduled pod), so AFTER is typically a workload's init pods.
// Do not combine with -cpuprofile: only one CPU profile can run.
const (
	envProfile        = "SNUG_BENCH_CPUPROFILE"
	envProfileAfter   = "SNUG_BENCH_CPUPROFILE_AFTER"
	envProfileSeconds = "SNUG_BENCH_CPUPROFILE_SECONDS"
)

// startPhaseProfile starts the watch described above when envProfile is
// set; the returned function stops it (and a profile still running). At
// both ends it logs what the profile covered (counts).
func startPhaseProfile(tb testing.TB, schedulerName string) func() {
	path := os.Getenv(envProfile)
	if path == "" {
		return func() {}
	}
	after, err := envInt(envProfileAfter, 0)
	if err != nil {
		tb.Fatal(err)
	}
	seconds, err := envInt(envProfileSeconds, 20)
	if err != nil {
		tb.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for scheduled() < uint64(after) {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
		f, err := os.Create(path)
		if err != nil {
			tb.Error(err)
			return
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			tb.Error(err)
			return
		}
		tb.Logf("CPU profile to %s started: %s", path, counts(schedulerName))
		select {
		case <-stop:
		case <-time.After(time.Duration(seconds) * time.Second):
		}
		pprof.StopCPUProfile()
		tb.Logf("CPU profile stopped: %s", counts(schedulerName))
	}()
	return func() {
		close(stop)
		<-done
	}
}

// scheduled is the number of pods the scheduler has scheduled so far.
func scheduled() uint64 {
	h := schedmetrics.PodSchedulingAttempts
	if h == nil {
		return 0
	}
	// Before registration the histogram is a no-op without a value.
	if _, ok := h.ObserverMetric.(metrics.Metric); !ok {
		return 0
	}
	n, err := testutil.GetHistogramMetricCount(h.ObserverMetric)
	if err != nil {
		return 0
	}
	return n
}

// counts describes the scheduler's progress for the profile's log lines,
// from the registry the scheduler serves on /metrics: pods scheduled and
// their mean scheduling attempts, attempts by result, nodes the filters
// evaluated (NodeUnschedulable's Filter runs first on every node, twice on
// nodes with nominated pods), each plugin's preemption attempts (upstream's
// counter counts only DefaultPreemption) and the victims upstream's
// Executor deleted, which both plugins share.
func counts(schedulerName string) string {
	families, err := legacyregistry.DefaultGatherer.Gather()
	if err != nil {
		return err.Error()
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range families {
		byName[f.GetName()] = f
	}
	sum := func(name string, want map[string]string) (value, count float64) {
		f := byName[name]
		if f == nil {
			return 0, 0
		}
	metric:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := want[l.GetName()]; ok && v != l.GetValue() {
					continue metric
				}
			}
			switch {
			case m.GetCounter() != nil:
				value += m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				value += m.GetHistogram().GetSampleSum()
				count += float64(m.GetHistogram().GetSampleCount())
			}
		}
		return value, count
	}
	attemptsSum, pods := sum("scheduler_pod_scheduling_attempts", nil)
	meanAttempts := 0.0
	if pods > 0 {
		meanAttempts = attemptsSum / pods
	}
	attempt := func(result string) float64 {
		v, _ := sum("scheduler_schedule_attempts_total", map[string]string{"result": result, "profile": schedulerName})
		return v
	}
	evals, _ := sum("scheduler_plugin_evaluation_total", map[string]string{"plugin": "NodeUnschedulable", "extension_point": "Filter", "profile": schedulerName})
	defaultAttempts, _ := sum("scheduler_preemption_attempts_total", nil)
	executorVictims, _ := sum("scheduler_preemption_victims", nil)
	snugAttempts, _ := sum("snug_preemption_attempts_total", nil)
	snugFailures, _ := sum("snug_preemption_failures_total", nil)
	snugVictims, _ := sum("snug_preemption_victims_total", nil)
	return fmt.Sprintf("%.0f scheduled pods (%.3f attempts each), attempts %.0f scheduled / %.0f unschedulable / %.0f error, "+
		"%.0f node filter evaluations, %.0f victims (Executor), DefaultPreemption %.0f attempts, QoSAwarePreemption %.0f attempts %.0f failures %.0f victims",
		pods, meanAttempts, attempt("scheduled"), attempt("unschedulable"), attempt("error"),
		evals, executorVictims, defaultAttempts, snugAttempts, snugFailures, snugVictims)
}

func envInt(name string, def int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s=%q: want a non-negative integer", name, v)
	}
	return n, nil
}
