package simulator

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/snug-sched/snug/pkg/workload"
)

// openbDir is where the Alibaba openb trace is read from (never committed).
func openbDir() string {
	if d := os.Getenv("SNUG_OPENB_DIR"); d != "" {
		return d
	}
	return "../../../shared/data/alibaba-openb"
}

// TestTraceScale places 10,000 trace pods (the list repeated) on the 1,523
// openb nodes with snug's profile and logs the time and memory; it asserts
// only that the run completes and places pods. It is a measurement, run by
// `make bench-simulator` (SNUG_TRACE_SCALE=1), and needs the trace.
func TestTraceScale(t *testing.T) {
	if os.Getenv("SNUG_TRACE_SCALE") == "" {
		t.Skip("measurement: run with SNUG_TRACE_SCALE=1 (make bench-simulator)")
	}
	dir := openbDir()
	nodes, err := workload.LoadNodes(filepath.Join(dir, "openb_node_list_all_node.csv"))
	if err != nil {
		t.Skipf("openb trace not available: %v", err)
	}
	pods, err := workload.LoadPods(filepath.Join(dir, "openb_pod_list_default.csv"))
	if err != nil {
		t.Fatal(err)
	}
	s := newSim(t, SnugProfile, Options{}, nodes...)
	start := time.Now()
	placed := 0
	for i := 0; i < 10000; i++ {
		p := pods[i%len(pods)].DeepCopy()
		if i >= len(pods) {
			p.Name += "-r"
			p.UID += "-r"
		}
		r, err := s.Schedule(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		if r.Node != "" {
			placed++
		}
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	t.Logf("10000 pods on %d nodes: %d placed in %v; heap in use %d MiB, total from OS %d MiB",
		len(nodes), placed, time.Since(start).Round(time.Millisecond), m.HeapInuse>>20, m.Sys>>20)
	if placed == 0 {
		t.Fatal("nothing placed")
	}
}
