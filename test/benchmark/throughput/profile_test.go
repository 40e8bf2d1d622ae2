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
// set; the returned function stops it (and a profile still running).
func startPhaseProfile(tb testing.TB) func() {
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
		tb.Logf("CPU profile to %s started at %d scheduled pods", path, scheduled())
		select {
		case <-stop:
		case <-time.After(time.Duration(seconds) * time.Second):
		}
		pprof.StopCPUProfile()
		tb.Logf("CPU profile stopped at %d scheduled pods", scheduled())
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
