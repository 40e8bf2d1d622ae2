package quality

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// Meta describes a run for the report.
type Meta struct {
	Date, CPUModel, Memory, GoVersion, KubernetesVersion string
	CPUs                                                 int
	// Command is what was run (e.g. make bench-quality) and Expanded the
	// go run command line it ran; Every the node/pod sampling (1: full
	// trace).
	Command, Expanded string
	Every             int
	Seconds           float64
	// Mix describes the workload mix the run generated from the trace
	// (test/benchmark/quality/mix; "" for the trace as loaded) and
	// MixNotes what the generator did.
	Mix      string   `json:",omitempty"`
	MixNotes []string `json:",omitempty"`
	// Chart is the SVG file name next to the Markdown file ("" for none);
	// Analysis is hand-written Markdown included as is.
	Chart    string `json:"-"`
	Analysis string `json:"-"`
}

// MachineMeta fills the machine, toolchain and date.
func MachineMeta() Meta {
	m := Meta{Date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), CPUModel: "unknown CPU", Memory: "unknown"}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			var kb int64
			if _, err := fmt.Sscanf(s.Text(), "MemTotal: %d kB", &kb); err == nil {
				m.Memory = fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
				break
			}
		}
		f.Close()
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "k8s.io/kubernetes" {
				m.KubernetesVersion = d.Version
				if d.Replace != nil {
					m.KubernetesVersion = d.Replace.Version
				}
			}
		}
	}
	return m
}
