package throughput

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const defaultData = `{
  "version": "v1",
  "dataItems": [
    {"data": {"Average": 200, "Perc50": 210, "Perc90": 230, "Perc95": 240, "Perc99": 250}, "unit": "pods/s",
     "labels": {"Metric": "SchedulingThroughput", "Name": "BenchmarkPerfSchedulingDefault/SchedulingBasic/5000Nodes_10000Pods/namespace-2"}},
    {"data": {"Duration": 50}, "unit": "s",
     "labels": {"Metric": "SchedulingDuration", "Name": "BenchmarkPerfSchedulingDefault/SchedulingBasic/5000Nodes_10000Pods/namespace-2"}},
    {"data": {"Average": 100, "Perc50": 100, "Perc99": 120}, "unit": "pods/s",
     "labels": {"Metric": "SchedulingThroughput", "Name": "BenchmarkPerfSchedulingDefault/Unschedulable/5kNodes/100Init/10kPods/namespace-3"}},
    {"data": {"Average": 80, "Perc50": 80, "Perc99": 90}, "unit": "pods/s",
     "labels": {"Metric": "SchedulingThroughput", "Name": "BenchmarkPerfSchedulingDefault/SnugMixedShapes/big/namespace-3"}}
  ]
}`

const snugData = `{
  "version": "v1",
  "dataItems": [
    {"data": {"Average": 196, "Perc50": 200, "Perc99": 260}, "unit": "pods/s",
     "labels": {"Metric": "SchedulingThroughput", "Name": "BenchmarkPerfSchedulingSnug/SchedulingBasic/5000Nodes_10000Pods/namespace-2"}},
    {"data": {"Duration": 40}, "unit": "s",
     "labels": {"Metric": "SchedulingDuration", "Name": "BenchmarkPerfSchedulingSnug/SchedulingBasic/5000Nodes_10000Pods/namespace-2"}},
    {"data": {"Duration": 7}, "unit": "s",
     "labels": {"Metric": "SchedulingDuration", "Name": "BenchmarkPerfSchedulingSnug/OnlyDuration/w/namespace-2"}},
    {"data": {"Average": 90, "Perc50": 90, "Perc99": 95}, "unit": "pods/s",
     "labels": {"Metric": "SchedulingThroughput", "Name": "BenchmarkPerfSchedulingSnug/Unschedulable/5kNodes/100Init/10kPods/namespace-3"}},
    {"data": {"Average": 60, "Perc50": 60, "Perc99": 70}, "unit": "pods/s",
     "labels": {"Metric": "SchedulingThroughput", "Name": "BenchmarkPerfSchedulingSnug/SnugMixedShapes/big/namespace-3"}}
  ]
}`

func TestLoadTableRender(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{
		"BenchmarkPerfScheduling_benchmark_default_2026-01-02T03:04:05Z.json": defaultData,
		"BenchmarkPerfScheduling_benchmark_snug_2026-01-02T03:14:05Z.json":    snugData,
		"BenchmarkPerfScheduling_other.json":                                  "not json, not ours",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	items, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 9 {
		t.Fatalf("want 9 items, got %d", len(items))
	}
	rows := Table(items)
	if len(rows) != 3 {
		t.Fatalf("want 3 rows, got %+v", rows)
	}
	want := []struct {
		workload string
		ratio    float64
	}{
		{"SchedulingBasic/5000Nodes_10000Pods", 0.98},
		{"Unschedulable/5kNodes/100Init/10kPods", 0.90},
		{"SnugMixedShapes/big", 0.75},
	}
	for i, w := range want {
		if rows[i].Workload != w.workload || rows[i].Ratio() < w.ratio-1e-9 || rows[i].Ratio() > w.ratio+1e-9 {
			t.Errorf("row %d: got %s ratio %.3f, want %s %.2f", i, rows[i].Workload, rows[i].Ratio(), w.workload, w.ratio)
		}
	}
	if got := rows[0].RunRatios(); len(got) != 1 || got[0] != rows[0].Ratio() {
		t.Errorf("row 0: run ratios %v, want [%v]", got, rows[0].Ratio())
	}
	if rows[0].Default.Perc99 != 250 || rows[0].Snug.Perc50 != 200 || rows[0].Default.Duration != 50 || rows[0].Snug.Duration != 40 {
		t.Errorf("row 0: got %+v %+v", rows[0].Default, rows[0].Snug)
	}
	if got := rows[0].DurationRatio(); got != 1.25 {
		t.Errorf("row 0: duration ratio %v, want 1.25", got)
	}
	if got := rows[1].DurationRatio(); got != 0 {
		t.Errorf("row 1 (no durations): duration ratio %v, want 0", got)
	}
	s := Render(rows, Meta{CPUs: 2, CPUModel: "cpu", Memory: "1 GiB", GoVersion: "go1.26", Command: "make bench-throughput"})
	for _, sub := range []string{
		"| SchedulingBasic/5000Nodes_10000Pods | default | 200.0 | 210.0 | 250.0 | 50.0 | | |",
		"| | snug | 196.0 | 200.0 | 260.0 | 40.0 | 0.98 (meets target) | 1.25 |",
		"| | snug | 90.0 | 90.0 | 95.0 | n/a | 0.90 (**below target**) | n/a |",
		"| | snug | 60.0 | 60.0 | 70.0 | n/a | 0.75 | n/a |",
		"Below target (or not measured): Unschedulable/5kNodes/100Init/10kPods.",
		"make bench-throughput",
	} {
		if !strings.Contains(s, sub) {
			t.Errorf("rendered section lacks %q:\n%s", sub, s)
		}
	}
}

func TestReplace(t *testing.T) {
	section := func(v string) string {
		return SectionHeading + "\n\nversion " + v + "\n\n```sh\n# not a heading\nmake x\n```\n"
	}
	other := "# Benchmarks\n\nIntro.\n\n## Latency\n\nOther team's numbers.\n"
	tail := "\n## Memory\n\n```sh\n## also not a heading\n```\n"

	first := Replace(other+tail, section("1"))
	if !strings.Contains(first, "## Latency\n\nOther team's numbers.\n") || !strings.Contains(first, "version 1") {
		t.Fatalf("append lost content:\n%s", first)
	}
	second := Replace(first, section("2"))
	if strings.Contains(second, "version 1") || !strings.Contains(second, "version 2") {
		t.Fatalf("replace did not replace:\n%s", second)
	}
	if again := Replace(second, section("2")); again != second {
		t.Errorf("not idempotent:\n%s\n---\n%s", second, again)
	}
	if strings.Count(second, SectionHeading) != 1 {
		t.Errorf("section duplicated:\n%s", second)
	}

	// A section in the middle keeps what follows it.
	mid := other + "\n" + section("1") + tail
	got := Replace(mid, section("3"))
	if want := other + "\n" + section("3") + tail; got != want {
		t.Errorf("middle section:\ngot\n%s\nwant\n%s", got, want)
	}

	if got := Replace("", section("1")); !strings.HasPrefix(got, "# Benchmarks\n\n"+SectionHeading) {
		t.Errorf("new document:\n%s", got)
	}
}

func TestDataRaces(t *testing.T) {
	report := func(frame string) string {
		return "WARNING: DATA RACE\nWrite at 0x1 by goroutine 1:\n  " + frame + "()\n      /x.go:1\n==================\n"
	}
	tests := []struct {
		name           string
		out            string
		ours, upstream int
	}{
		{"none", "PASS\n", 0, 0},
		{"upstream only", report("k8s.io/component-base/metrics.(*Counter).Reset") + "FAIL\n", 0, 1},
		{"snug", report("github.com/snug-sched/snug/pkg/stranding.(*Shapes).reach") + report("k8s.io/x.Y"), 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if ours, upstream := dataRaces([]byte(tc.out)); ours != tc.ours || upstream != tc.upstream {
				t.Errorf("dataRaces = (%d, %d), want (%d, %d)", ours, upstream, tc.ours, tc.upstream)
			}
		})
	}
}

// TestRunCounts checks the run counts the section reports when workloads
// got different numbers of runs (make bench-throughput-more).
func TestRunCounts(t *testing.T) {
	tp := func(avgs ...float64) *Throughput {
		var sum float64
		for _, a := range avgs {
			sum += a
		}
		return &Throughput{Average: sum / float64(len(avgs)), RunAverages: avgs}
	}
	rows := []Row{
		{Workload: "SchedulingBasic/x", Default: tp(100, 100), Snug: tp(99, 101)},
		{Workload: "PreemptionAsync/y", Default: tp(100, 120, 80, 100), Snug: tp(90, 120, 100, 90)},
	}
	s := Render(rows, Meta{})
	for _, sub := range []string{
		"means over each workload's runs (2 to 4",
		"| | snug | 100.0 | 0.0 | 0.0 | n/a | 1.00 (2 runs 0.99-1.01) (meets target) | n/a |",
		"| | snug | 100.0 | 0.0 | 0.0 | n/a | 1.00 (4 runs 0.90-1.25) (meets target) | n/a |",
	} {
		if !strings.Contains(s, sub) {
			t.Errorf("rendered section lacks %q:\n%s", sub, s)
		}
	}
	if got := runsNote(rows[:1]); !strings.Contains(got, "means over 2 runs") {
		t.Errorf("equal counts: %q", got)
	}
	if got := runsNote([]Row{{Workload: "w", Default: tp(1)}}); !strings.Contains(got, "One run per workload") {
		t.Errorf("single run: %q", got)
	}
}

func TestParsePhase(t *testing.T) {
	tests := []struct {
		spec        string
		from, until uint64
		wantErr     bool
	}{
		{"20000:24000", 20000, 24000, false},
		{"0:1", 0, 1, false},
		{"24000:20000", 0, 0, true},
		{"5:5", 0, 0, true},
		{"20000", 0, 0, true},
		{"a:10", 0, 0, true},
		{"10:-1", 0, 0, true},
	}
	for _, tc := range tests {
		from, until, err := parsePhase(tc.spec)
		if (err != nil) != tc.wantErr || from != tc.from || until != tc.until {
			t.Errorf("parsePhase(%q) = %d, %d, %v; want %d, %d, error %v", tc.spec, from, until, err, tc.from, tc.until, tc.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), envPhase) {
			t.Errorf("parsePhase(%q): error %q does not name %s", tc.spec, err, envPhase)
		}
	}
}
