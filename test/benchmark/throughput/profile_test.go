package throughput

import (
	"fmt"
	"os"
	rtmetrics "runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
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
	return inBackground(func(stop <-chan struct{}) {
		if !waitScheduled(stop, uint64(after), 100*time.Millisecond) {
			return
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
	})
}

// inBackground runs watch in a goroutine; the returned function closes
// watch's stop channel and waits for watch to return.
func inBackground(watch func(stop <-chan struct{})) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		watch(stop)
	}()
	return func() {
		close(stop)
		<-done
	}
}

// waitScheduled polls every interval until the scheduler has scheduled n
// pods; false if stop closes first.
func waitScheduled(stop <-chan struct{}, n uint64, interval time.Duration) bool {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for scheduled() < n {
		select {
		case <-stop:
			return false
		case <-tick.C:
		}
	}
	return true
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
	c, err := takeCounters(schedulerName)
	if err != nil {
		return err.Error()
	}
	meanAttempts := 0.0
	if c.pods > 0 {
		meanAttempts = c.attemptsSum / c.pods
	}
	return fmt.Sprintf("%.0f scheduled pods (%.3f attempts each), attempts %.0f scheduled / %.0f unschedulable / %.0f error, "+
		"%.0f node filter evaluations, %.0f victims (Executor), DefaultPreemption %.0f attempts, QoSAwarePreemption %.0f attempts %.0f failures %.0f victims",
		c.pods, meanAttempts, c.attempts["scheduled"], c.attempts["unschedulable"], c.attempts["error"],
		c.evals, c.executorVictims, c.defaultAttempts, c.snugAttempts, c.snugFailures, c.snugVictims)
}

// counters are the scheduler's and the process's running totals that a
// phase's log line subtracts (phaseDelta).
type counters struct {
	at                                   time.Time
	pods, attemptsSum                    float64
	attempts                             map[string]float64 // by result
	attemptSeconds                       map[string]float64 // scheduling_attempt_duration_seconds by result
	evals, executorVictims               float64
	defaultAttempts                      float64
	snugAttempts, snugFailures           float64
	snugVictims                          float64
	algorithmSeconds                     float64
	extensionSeconds, extensionCalls     map[string]float64 // framework_extension_point_duration_seconds by point
	cpuSeconds, gcCPUSeconds, allocBytes float64            // this process, the in-process apiserver too
	gcCycles                             float64
}

// attemptResults are the result labels of the scheduler's attempt metrics.
var attemptResults = []string{"scheduled", "unschedulable", "error"}

// extensionPoints are the extension points whose time the phase line shows.
var extensionPoints = []string{"PreFilter", "Filter", "PostFilter", "PreScore", "Score", "Reserve", "Permit", "PreBind", "Bind"}

func takeCounters(schedulerName string) (counters, error) {
	c := counters{at: time.Now(), attempts: map[string]float64{}, attemptSeconds: map[string]float64{},
		extensionSeconds: map[string]float64{}, extensionCalls: map[string]float64{}}
	families, err := legacyregistry.DefaultGatherer.Gather()
	if err != nil {
		return c, fmt.Errorf("gathering the scheduler's metrics: %w", err)
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
	c.attemptsSum, c.pods = sum("scheduler_pod_scheduling_attempts", nil)
	for _, result := range attemptResults {
		labels := map[string]string{"result": result, "profile": schedulerName}
		c.attempts[result], _ = sum("scheduler_schedule_attempts_total", labels)
		c.attemptSeconds[result], _ = sum("scheduler_scheduling_attempt_duration_seconds", labels)
	}
	c.evals, _ = sum("scheduler_plugin_evaluation_total", map[string]string{"plugin": "NodeUnschedulable", "extension_point": "Filter", "profile": schedulerName})
	c.defaultAttempts, _ = sum("scheduler_preemption_attempts_total", nil)
	c.executorVictims, _ = sum("scheduler_preemption_victims", nil)
	c.snugAttempts, _ = sum("snug_preemption_attempts_total", nil)
	c.snugFailures, _ = sum("snug_preemption_failures_total", nil)
	c.snugVictims, _ = sum("snug_preemption_victims_total", nil)
	c.algorithmSeconds, _ = sum("scheduler_scheduling_algorithm_duration_seconds", nil)
	for _, point := range extensionPoints {
		c.extensionSeconds[point], c.extensionCalls[point] = sum("scheduler_framework_extension_point_duration_seconds",
			map[string]string{"extension_point": point, "profile": schedulerName})
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.cpuSeconds = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	samples := []rtmetrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
	rtmetrics.Read(samples)
	value := func(s rtmetrics.Sample) float64 {
		switch s.Value.Kind() {
		case rtmetrics.KindFloat64:
			return s.Value.Float64()
		case rtmetrics.KindUint64:
			return float64(s.Value.Uint64())
		}
		return 0
	}
	c.gcCPUSeconds = value(samples[0])
	c.allocBytes = value(samples[1])
	c.gcCycles = value(samples[2])
	return c, nil
}

// phaseDelta describes what happened between two counters: wall time,
// pods scheduled and their rate, attempts and their time by result (the
// scheduler's attempt histogram, which runs to the end of binding), the
// time by extension point (wall time inside the scheduler, waits
// included), and the process's CPU, GC and allocation. The scheduling
// loop's busy share is the algorithm (PreFilter to Score) plus PostFilter,
// Reserve and Permit over wall time: one goroutine runs them, in turn.
func phaseDelta(a, b counters) string {
	wall := b.at.Sub(a.at).Seconds()
	pods := b.pods - a.pods
	var sb strings.Builder
	fmt.Fprintf(&sb, "%.1f s, %.0f pods scheduled (%.1f pods/s)", wall, pods, pods/wall)
	for _, result := range attemptResults {
		n := b.attempts[result] - a.attempts[result]
		sec := b.attemptSeconds[result] - a.attemptSeconds[result]
		if n > 0 {
			fmt.Fprintf(&sb, "; %s: %.0f attempts, %.2f s (%.2f ms each)", result, n, sec, 1000*sec/n)
		}
	}
	loop := b.algorithmSeconds - a.algorithmSeconds
	for _, point := range []string{"PostFilter", "Reserve", "Permit"} {
		loop += b.extensionSeconds[point] - a.extensionSeconds[point]
	}
	fmt.Fprintf(&sb, "; algorithm %.2f s, scheduling loop busy %.0f%% of wall time", b.algorithmSeconds-a.algorithmSeconds, 100*loop/wall)
	for _, point := range extensionPoints {
		n := b.extensionCalls[point] - a.extensionCalls[point]
		if n == 0 {
			continue
		}
		sec := b.extensionSeconds[point] - a.extensionSeconds[point]
		fmt.Fprintf(&sb, "; %s %.2f s (%.0f calls)", point, sec, n)
	}
	evals := b.evals - a.evals
	if pods > 0 {
		fmt.Fprintf(&sb, "; %.0f node filter evaluations (%.0f per scheduled pod)", evals, evals/pods)
	}
	fmt.Fprintf(&sb, "; victims %.0f (Executor); process CPU %.1f s (%.0f%% of one core), GC CPU %.1f s, %d GC cycles, %.1f GiB allocated",
		b.executorVictims-a.executorVictims, b.cpuSeconds-a.cpuSeconds, 100*(b.cpuSeconds-a.cpuSeconds)/wall,
		b.gcCPUSeconds-a.gcCPUSeconds, int(b.gcCycles-a.gcCycles), (b.allocBytes-a.allocBytes)/(1<<30))
	return sb.String()
}

// A phase's counters without a profile, over a whole measured phase:
//
//	SNUG_BENCH_PHASE=20000:25000   from the 20,000th scheduled pod to the 25,000th
//
// logs phaseDelta once the second count is reached (or the workload ends).
const envPhase = "SNUG_BENCH_PHASE"

// startPhaseCounts starts the watch described above when envPhase is set;
// the returned function stops it.
func startPhaseCounts(tb testing.TB, schedulerName string) func() {
	spec := os.Getenv(envPhase)
	if spec == "" {
		return func() {}
	}
	from, until, err := parsePhase(spec)
	if err != nil {
		tb.Fatal(err)
	}
	const interval = 20 * time.Millisecond
	return inBackground(func(stop <-chan struct{}) {
		if !waitScheduled(stop, from, interval) {
			return
		}
		start, err := takeCounters(schedulerName)
		var end counters
		if err == nil {
			waitScheduled(stop, until, interval)
			end, err = takeCounters(schedulerName)
		}
		line := fmt.Sprintf("phase %s: %v", spec, err)
		if err == nil {
			line = fmt.Sprintf("phase %s: %s", spec, phaseDelta(start, end))
		}
		// Also to stderr: without -test.v a benchmark's log may not be shown.
		fmt.Fprintln(os.Stderr, line)
		tb.Log(line)
	})
}

func parsePhase(spec string) (from, until uint64, err error) {
	a, b, ok := strings.Cut(spec, ":")
	if ok {
		from, err = strconv.ParseUint(a, 10, 64)
	}
	if ok && err == nil {
		until, err = strconv.ParseUint(b, 10, 64)
	}
	if !ok || err != nil || until <= from {
		return 0, 0, fmt.Errorf("%s=%q: want <from>:<until>, two pod counts, from < until", envPhase, spec)
	}
	return from, until, nil
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
