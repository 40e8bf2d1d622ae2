package throughput

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"k8s.io/component-base/metrics"
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
// both ends it logs what the profile covered: pods scheduled, nodes the
// filters evaluated (NodeUnschedulable's Filter runs first on every node,
// twice on nodes with nominated pods) and DefaultPreemption's preemption
// attempts (upstream counts only its own plugin's).
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

// counts describes the scheduler's progress for the profile's log lines.
func counts(schedulerName string) string {
	return fmt.Sprintf("%d scheduled pods, %.0f node filter evaluations, %.0f DefaultPreemption attempts",
		scheduled(), counter(func() metrics.CounterMetric {
			return schedmetrics.PluginEvaluationTotal.WithLabelValues("NodeUnschedulable", schedmetrics.Filter, schedulerName)
		}), counter(func() metrics.CounterMetric { return schedmetrics.PreemptionAttempts.CounterMetric }))
}

// counter reads a scheduler counter, 0 before the metrics are registered
// (until then the variables are nil or no-ops without a value).
func counter(get func() metrics.CounterMetric) float64 {
	if schedmetrics.PreemptionAttempts == nil || schedmetrics.PluginEvaluationTotal == nil {
		return 0
	}
	m := get()
	if _, ok := m.(metrics.Metric); !ok {
		return 0
	}
	v, err := testutil.GetCounterMetricValue(m)
	if err != nil {
		return 0
	}
	return v
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
