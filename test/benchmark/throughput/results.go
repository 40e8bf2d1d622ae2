package throughput

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Profiles as scheduler_perf topics: the topic is part of the name of the
// JSON file each BenchmarkPerfScheduling* run writes.
const (
	ProfileDefault = "default"
	ProfileSnug    = "snug"
)

// DataItem is one entry of scheduler_perf's JSON output (its DataItem type,
// which perf-dash reads).
type DataItem struct {
	Data   map[string]float64 `json:"data"`
	Unit   string             `json:"unit"`
	Labels map[string]string  `json:"labels,omitempty"`
}

type dataItems struct {
	Version   string     `json:"version"`
	DataItems []DataItem `json:"dataItems"`
}

// Item is a DataItem with the run it came from.
type Item struct {
	// Profile is the scheduler_perf topic of the run (ProfileDefault, ProfileSnug).
	Profile string
	// Workload is "<test case>/<workload>", e.g.
	// "SchedulingBasic/5000Nodes_10000Pods_QueueingHintsEnabled".
	Workload string
	// Metric is the item's "Metric" label, e.g. "SchedulingThroughput".
	Metric string
	File   string
	DataItem
}

// scheduler_perf names its file <prefix>_benchmark_<topic>_<2006-01-02T15:04:05Z>.json.
var dataFileRE = regexp.MustCompile(`^BenchmarkPerfScheduling.*_benchmark_(.+)_(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\.json$`)

// Load reads every scheduler_perf data file in dir (written there with
// -data-items-dir), in name order.
func Load(dir string) ([]Item, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var items []Item
	for _, e := range entries {
		m := dataFileRE.FindStringSubmatch(e.Name())
		if e.IsDir() || m == nil {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		var d dataItems
		if err := json.Unmarshal(data, &d); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for _, di := range d.DataItems {
			items = append(items, Item{
				Profile:  m[1],
				Workload: workloadOf(di.Labels["Name"]),
				Metric:   di.Labels["Metric"],
				File:     e.Name(),
				DataItem: di,
			})
		}
	}
	return items, nil
}

// workloadOf turns the Name label, "<benchmark>/<test case>/<workload>/<namespace>",
// into "<test case>/<workload>" (workload names may contain slashes).
func workloadOf(name string) string {
	parts := strings.Split(name, "/")
	if len(parts) < 3 {
		return name
	}
	return strings.Join(parts[1:len(parts)-1], "/")
}

// Throughput is the SchedulingThroughput of one workload under one profile,
// in pods/s, averaged over its runs.
type Throughput struct {
	Average, Perc50, Perc99 float64
	// RunAverages are the Averages of the single runs, in file (time) order.
	RunAverages []float64
	// Duration is the mean SchedulingDuration (seconds from the first to
	// the last measured pod scheduled) over the runs that report it, 0 if
	// none does; durationRuns is how many do.
	Duration     float64
	durationRuns int
}

// Row is one workload with both profiles.
type Row struct {
	Workload      string
	Default, Snug *Throughput
}

// Ratio is snug's average over default's, 0 if either is missing.
func (r Row) Ratio() float64 {
	if r.Default == nil || r.Snug == nil || r.Default.Average == 0 {
		return 0
	}
	return r.Snug.Average / r.Default.Average
}

// DurationRatio is default's mean SchedulingDuration over snug's: the
// ratio of the measured phases' overall rates (measured pods over the
// phase's time), which does not depend on where per-second samples fall;
// 0 if either is missing.
func (r Row) DurationRatio() float64 {
	if r.Default == nil || r.Snug == nil || r.Default.Duration == 0 || r.Snug.Duration == 0 {
		return 0
	}
	return r.Default.Duration / r.Snug.Duration
}

// RunRatios pairs the runs of the two profiles in order (bench.sh runs them
// back to back) and returns snug's average over default's for each pair.
func (r Row) RunRatios() []float64 {
	if r.Default == nil || r.Snug == nil {
		return nil
	}
	var out []float64
	for i := 0; i < len(r.Default.RunAverages) && i < len(r.Snug.RunAverages); i++ {
		if d := r.Default.RunAverages[i]; d > 0 {
			out = append(out, r.Snug.RunAverages[i]/d)
		}
	}
	return out
}

// Upstream reports whether the workload is one of upstream's (snug's own
// test cases are named Snug*).
func (r Row) Upstream() bool { return !strings.HasPrefix(r.Workload, "Snug") }

// Table groups the SchedulingThroughput items by workload, averaging
// repeated runs, in the order workloads first appear.
func Table(items []Item) []Row {
	type key struct{ workload, profile string }
	sums := map[key]*Throughput{}
	var order []string
	get := func(k key) *Throughput {
		t := sums[k]
		if t == nil {
			t = &Throughput{}
			sums[k] = t
		}
		return t
	}
	for _, it := range items {
		if it.Metric == "SchedulingDuration" {
			t := get(key{it.Workload, it.Profile})
			t.Duration += it.Data["Duration"]
			t.durationRuns++
			continue
		}
		if it.Metric != "SchedulingThroughput" {
			continue
		}
		t := get(key{it.Workload, it.Profile})
		t.Average += it.Data["Average"]
		t.Perc50 += it.Data["Perc50"]
		t.Perc99 += it.Data["Perc99"]
		t.RunAverages = append(t.RunAverages, it.Data["Average"])
		if !slices.Contains(order, it.Workload) {
			order = append(order, it.Workload)
		}
	}
	for k, t := range sums {
		if len(t.RunAverages) == 0 { // a duration without throughput samples
			delete(sums, k)
			continue
		}
		n := float64(len(t.RunAverages))
		t.Average, t.Perc50, t.Perc99 = t.Average/n, t.Perc50/n, t.Perc99/n
		if t.durationRuns > 0 {
			t.Duration /= float64(t.durationRuns)
		}
	}
	rows := make([]Row, 0, len(order))
	for _, w := range order {
		rows = append(rows, Row{Workload: w, Default: sums[key{w, ProfileDefault}], Snug: sums[key{w, ProfileSnug}]})
	}
	// Upstream workloads first, each group in file order.
	slices.SortStableFunc(rows, func(a, b Row) int {
		switch {
		case a.Upstream() == b.Upstream():
			return 0
		case a.Upstream():
			return -1
		default:
			return 1
		}
	})
	return rows
}
