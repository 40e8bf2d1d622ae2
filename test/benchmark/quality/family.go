package quality

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/snug-sched/snug/pkg/workload"
	"github.com/snug-sched/snug/test/benchmark/docsection"
	"github.com/snug-sched/snug/test/benchmark/quality/mix"
)

// FamilyQuickEvery is the node and pod sampling of the family's quick mode
// (every 8th: eight mixes in under 15 minutes on two cores).
const FamilyQuickEvery = 8

// GeneratedTrace loads a generated mix as pkg/workload reads its files and
// keeps every n-th node and pod (NewTrace).
func GeneratedTrace(g *mix.Generated, every int) (*Trace, error) {
	nodes, err := workload.ReadNodes(g.Mix.Name+"/"+NodeFile, g.Nodes.Bytes())
	if err != nil {
		return nil, err
	}
	pods, err := workload.ReadPods(g.Mix.Name+"/"+PodFile, g.Pods.Bytes())
	if err != nil {
		return nil, err
	}
	return NewTrace(nodes, pods, every), nil
}

// FamilyOptions of a family run.
type FamilyOptions struct {
	// Options of every mix's run.
	Options
	// Mixes to run (mix.Family() if empty).
	Mixes []mix.Mix
	// Seed of the mix generator (not the random policy's: Options.Seed).
	Seed uint64
	// Every keeps every n-th node and pod of each generated mix.
	Every int
	// MixDone, if set, is called after every mix with the results so far.
	MixDone func(*FamilyResults)
}

// MixResult is one mix of a family run.
type MixResult struct {
	Name, Description string
	// Notes are the generator's (mix.Generated.Notes).
	Notes []string `json:",omitempty"`
	// Err says why the mix did not run (generation or loading failed).
	Err     string   `json:",omitempty"`
	Results *Results `json:",omitempty"`
	Seconds float64
}

// FamilyResults of a family run.
type FamilyResults struct {
	Seed    uint64
	Every   int
	Mixes   []*MixResult
	Seconds float64
	// Load is the machine's load average (1, 5, 15 minutes) at the start
	// and at the end of the run ("" where unknown).
	LoadStart, LoadEnd string
}

// RunFamily generates every mix from the node and pod lists and runs the
// protocols on it. A mix that cannot be generated or loaded is reported
// (MixResult.Err) and the others still run.
func RunFamily(ctx context.Context, nodes, pods *mix.Table, fo FamilyOptions) (*FamilyResults, error) {
	start := time.Now()
	logf := fo.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	mixes := fo.Mixes
	if len(mixes) == 0 {
		mixes = mix.Family()
	}
	fr := &FamilyResults{Seed: fo.Seed, Every: max(1, fo.Every), LoadStart: loadAverage()}
	for _, m := range mixes {
		t0 := time.Now()
		mr := &MixResult{Name: m.Name, Description: m.Describe()}
		fr.Mixes = append(fr.Mixes, mr)
		logf("mix %s: %s", m.Name, mr.Description)
		g, err := m.Generate(fo.Seed, nodes, pods)
		var tr *Trace
		if err == nil {
			mr.Notes = g.Notes
			tr, err = GeneratedTrace(g, fr.Every)
		}
		if err != nil {
			mr.Err = err.Error()
			logf("mix %s skipped: %v", m.Name, err)
			continue
		}
		opts := fo.Options
		opts.Done = nil
		res, err := Run(ctx, tr, opts)
		if err != nil {
			if ctx.Err() != nil {
				return fr, err
			}
			mr.Err = err.Error()
			logf("mix %s failed: %v", m.Name, err)
			continue
		}
		mr.Seconds = time.Since(t0).Seconds()
		res.Seconds = mr.Seconds
		mr.Results = res
		logf("mix %s: %.0f s", m.Name, mr.Seconds)
		if fo.MixDone != nil {
			fr.Seconds, fr.LoadEnd = time.Since(start).Seconds(), loadAverage() // so far
			fo.MixDone(fr)
		}
	}
	fr.Seconds = time.Since(start).Seconds()
	fr.LoadEnd = loadAverage()
	return fr, nil
}

// Merge adds other's mixes to fr, so an interrupted family run can be
// completed by running the missing mixes (-mixes) and rendering both result
// files: a mix other ran replaces fr's mix of the same name, and the mixes
// stay in the family's order. Both runs must share the generator seed and
// the sampling, or their tables would not be one family. Seconds becomes
// the sum of the mixes' times.
func (fr *FamilyResults) Merge(other *FamilyResults) error {
	if other.Seed != fr.Seed || other.Every != fr.Every {
		return fmt.Errorf("family runs differ: generator seed %d, every %d against seed %d, every %d", other.Seed, other.Every, fr.Seed, fr.Every)
	}
	for _, m := range other.Mixes {
		if old := fr.Mix(m.Name); old != nil {
			*old = *m
		} else {
			fr.Mixes = append(fr.Mixes, m)
		}
	}
	order := map[string]int{}
	for i, m := range mix.Family() {
		order[m.Name] = i
	}
	rank := func(name string) int {
		if i, ok := order[name]; ok {
			return i
		}
		return len(order)
	}
	slices.SortStableFunc(fr.Mixes, func(a, b *MixResult) int { return rank(a.Name) - rank(b.Name) })
	fr.Seconds = 0
	for _, m := range fr.Mixes {
		fr.Seconds += m.Seconds
	}
	fr.LoadEnd = other.LoadEnd
	return nil
}

// Mix is the result of the mix named name (nil if the run has none).
func (fr *FamilyResults) Mix(name string) *MixResult {
	for _, m := range fr.Mixes {
		if m.Name == name {
			return m
		}
	}
	return nil
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// Headline is one headline metric of the family tables.
type Headline struct {
	// Proto is the protocol, Name the column.
	Proto, Name string
	// Value of a policy's results (NaN: not run or no result).
	Value func(r *Results, policy string) float64
	// Format of a value.
	Format string
}

// Headlines are the family tables' columns: each protocol's headline
// metric (A at 100% offered load), lower is better.
var Headlines = []Headline{
	{"A", "A failed pods @100%", func(r *Results, pol string) float64 {
		if a := findA(r, pol); a != nil {
			if pt, ok := a.at(1); ok {
				return float64(pt.Failed)
			}
		}
		return math.NaN()
	}, "%.0f"},
	{"A", "A stranded GPUs @100%", func(r *Results, pol string) float64 {
		if a := findA(r, pol); a != nil {
			if pt, ok := a.at(1); ok {
				return pt.Cluster.Stranded[GPU]
			}
		}
		return math.NaN()
	}, "%.0f"},
	{"B", "B pending pod-s", func(r *Results, pol string) float64 {
		for _, b := range r.B {
			if b.Policy == pol {
				return b.PendingPodSeconds
			}
		}
		return math.NaN()
	}, "%.0f"},
	{"C", "C nodes", func(r *Results, pol string) float64 {
		for _, c := range r.C {
			if c.Policy == pol && c.Nodes > 0 {
				return float64(c.Nodes)
			}
		}
		return math.NaN()
	}, "%.0f"},
}

func findA(r *Results, pol string) *AResult {
	for _, a := range r.A {
		if a.Policy == pol {
			return a
		}
	}
	return nil
}

// at returns the checkpoint at offered load target.
func (a *AResult) at(target float64) (APoint, bool) {
	for _, pt := range a.Points {
		if math.Abs(pt.Target-target) < 1e-9 {
			return pt, true
		}
	}
	return APoint{}, false
}

// Margin is snug's value minus the best other policy's on one headline
// (negative: snug is better).
type Margin struct {
	Snug, Best float64
	// Others are the other policies with the best value.
	Others []string
}

// Diff is Snug - Best (NaN if either is missing).
func (m Margin) Diff() float64 { return m.Snug - m.Best }

// margin of snug on h in r.
func margin(r *Results, h Headline) Margin {
	var names []string
	var vals []float64
	for _, p := range r.Policies {
		if p.Name != SnugPolicy {
			names = append(names, p.Name)
			vals = append(vals, h.Value(r, p.Name))
		}
	}
	others, lo := best(names, vals)
	if len(others) == 0 {
		lo = math.NaN()
	}
	return Margin{Snug: h.Value(r, SnugPolicy), Best: lo, Others: others}
}

// String renders the margin: the difference and, when the best is not 0,
// relative to it; bold when snug is worse, including when snug has no value
// (protocol C found no size) and another policy has one.
func (m Margin) String(format string) string {
	d := m.Diff()
	if math.IsNaN(m.Snug) && !math.IsNaN(m.Best) {
		return "**none (best other " + fmt.Sprintf(format, m.Best) + ")**"
	}
	if math.IsNaN(d) {
		return "—"
	}
	s := fmt.Sprintf("%+"+format[1:], d)
	if d == 0 {
		s = "0"
	}
	if m.Best != 0 && d != 0 {
		s += fmt.Sprintf(" (%+.0f%%)", 100*d/m.Best)
	}
	if d > 0 {
		s = "**" + s + "**"
	}
	return s
}

// FamilyDocTitle is the title of a new family report and
// FamilySectionHeading the heading of the section RenderFamily writes and
// ReplaceFamily replaces (docs/benchmarks-family.md).
const (
	FamilyDocTitle       = "# Placement quality across workload mixes"
	FamilySectionHeading = "## Results"
)

// ReplaceFamily returns doc with its results section replaced by section
// (docsection.Replace), or a new document of the title and section if doc
// is empty.
func ReplaceFamily(doc, section string) string {
	if strings.TrimSpace(doc) == "" {
		return FamilyDocTitle + "\n\n" + section
	}
	return docsection.Replace(doc, FamilySectionHeading, section)
}

// RenderFamily returns the family report's results section, heading
// included.
func RenderFamily(fr *FamilyResults, m Meta) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("%s\n\n", FamilySectionHeading)
	p("<!-- Generated by test/benchmark/quality (make bench-quality-family); edits inside this section are overwritten. -->\n\n")
	p("The placement-quality benchmark (`docs/benchmarks.md`, section Placement quality: protocols, policies\n")
	p("and metrics are described there) run on a family of workload mixes generated from one trace by\n")
	p("`test/benchmark/quality/mix` (seed %d; no generated data is kept: each mix is made in memory).\n", fr.Seed)
	p("Each protocol's headline metric, lower is better: A, failed pods and stranded GPUs at 100%% offered\n")
	p("GPU load; B, pending pod-seconds; C, the fewest nodes of one shape hosting the list (of a pool that\n")
	p("follows the trace's GPU models when pods are bound to GPU models). *Margin* is snug minus the best\n")
	p("other policy (negative: snug is better; **bold**: worse).\n")
	if fr.Every > 1 {
		p("\n**Quick mode**: every %s node and pod of each mix; not comparable with a full run.\n", ordinal(fr.Every))
	}
	p("\n### Mixes\n\n")
	p("| mix | what changes | nodes | GPUs | cores | pods | GPU pods | multi-GPU | with `gpu_spec` | demand: cores / GiB / GPUs |\n")
	p("|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, mr := range fr.Mixes {
		if mr.Results == nil {
			p("| %s | %s | — | — | — | — | — | — | — | skipped |\n", mr.Name, mr.Description)
			continue
		}
		t := mr.Results.Trace
		p("| %s | %s | %d | %.0f | %.0f | %d | %d | %d | %d | %.0f / %.0f / %.0f |\n", mr.Name, mr.Description, t.Nodes, t.Allocatable[GPU], t.Allocatable[CPU]/1000,
			t.Pods, t.GPUPods, t.MultiGPUPods, t.Constrained, t.Demand[CPU]/1000, gib(t.Demand[Mem]), t.Demand[GPU])
	}
	p("\nWhat the generator did (before the quick mode's sampling):\n\n")
	for _, mr := range fr.Mixes {
		if len(mr.Notes) == 0 && mr.Err == "" {
			continue
		}
		p("- **%s**: %s", mr.Name, strings.Join(mr.Notes, "; "))
		if mr.Err != "" {
			if len(mr.Notes) > 0 {
				p("; ")
			}
			p("**not run**: %s", mr.Err)
		}
		p(".\n")
	}

	p("\n### snug's margin on every mix\n\n")
	headlineHeader(&b, "mix", "C above lower bound (snug)")
	for _, mr := range fr.Mixes {
		if mr.Results == nil {
			continue
		}
		p("| %s |", mr.Name)
		for _, h := range Headlines {
			p(" %s |", margin(mr.Results, h).String(h.Format))
		}
		p(" %s |\n", snugAboveBound(mr.Results))
	}

	for _, mr := range fr.Mixes {
		if mr.Results == nil {
			continue
		}
		r := mr.Results
		p("\n### %s\n\n%s.", mr.Name, capitalise(mr.Description))
		for _, sk := range r.Skipped {
			p(" **Protocol %s skipped**: %s.", sk.Protocol, sk.Reason)
		}
		if lb := cLowerBound(r); lb > 0 {
			p(" C lower bound: %d nodes", lb)
			if pool := r.CInfo.Pool; pool != nil {
				p(" of a pool of the trace's GPU models (%s; binding: %s)", pool.CompositionString(lb), strings.Join(r.CInfo.LowerBound.Binding(), ", "))
			}
			p(".")
		}
		p("\n\n")
		headlineHeader(&b, "policy")
		for _, pol := range r.Policies {
			p("| %s |", pol.Name)
			for _, h := range Headlines {
				p(" %s |", valueString(r, h, pol.Name))
			}
			p("\n")
		}
		p("| *margin (snug − best other)* |")
		for _, h := range Headlines {
			mg := margin(r, h)
			s := mg.String(h.Format)
			if !math.IsNaN(mg.Best) {
				s += " vs " + strings.Join(mg.Others, ", ")
			}
			p(" %s |", s)
		}
		p("\n\nRun time %.0f s.\n", mr.Seconds)
	}

	p("\n### Run time and reproduction\n\n")
	p("%.1f minutes wall-clock for the whole family (%d mixes); machine: %d CPUs shared with other jobs, %s, %s\n",
		fr.Seconds/60, len(fr.Mixes), m.CPUs, m.CPUModel, m.Memory)
	p("memory; %s; k8s.io/kubernetes %s; measured %s.", m.GoVersion, m.KubernetesVersion, m.Date)
	if fr.LoadStart != "" {
		p(" Load average (1, 5, 15 min) at the start %s, at the end %s.", fr.LoadStart, fr.LoadEnd)
	}
	p("\n\nCommand, from the repository root:\n\n```sh\n%s\n```\n\n", m.Command)
	if m.Expanded != "" && m.Expanded != m.Command {
		p("which ran:\n\n```sh\n%s\n```\n\n", m.Expanded)
	}
	p("`make bench-quality-family` runs every mix on the whole trace and writes this section of\n")
	p("`docs/benchmarks-family.md`;\n")
	p("`make bench-quality-family BENCH_QUALITY_FAMILY_FLAGS=-quick` keeps every %s node and pod of each mix\n", ordinal(FamilyQuickEvery))
	p("and writes its report under `bin/bench-quality/` instead. One mix with the full report:\n")
	p("`go run ./test/benchmark/quality/cmd/bench-quality -mix cpu-x2.5`; your own trace: `-openb dir` or\n")
	p("`-nodes file -pods file`; a mix's CSV files for inspection: `-mix name -write-mix dir`.\n")
	return b.String()
}

// headlineHeader writes the header of a table with a first column, the
// headlines and extra columns.
func headlineHeader(b *strings.Builder, first string, extra ...string) {
	cols := []string{first}
	for _, h := range Headlines {
		cols = append(cols, h.Name)
	}
	cols = append(cols, extra...)
	fmt.Fprintf(b, "| %s |\n|---|%s\n", strings.Join(cols, " | "), strings.Repeat("---:|", len(cols)-1))
}

func valueString(r *Results, h Headline, pol string) string {
	v := h.Value(r, pol)
	if !math.IsNaN(v) {
		return fmt.Sprintf(h.Format, v)
	}
	for _, c := range r.C {
		if h.Proto == "C" && c.Policy == pol {
			return fmt.Sprintf("> %d", c.MaxTried)
		}
	}
	return "—"
}

func cLowerBound(r *Results) int {
	if r.CInfo == nil {
		return 0
	}
	return r.CInfo.LowerBound.Nodes
}

func snugAboveBound(r *Results) string {
	for _, c := range r.C {
		if c.Policy == SnugPolicy && c.Nodes > 0 {
			s := fmt.Sprintf("%+.1f%%", 100*c.AboveLowerBound())
			if c.AboveLowerBound() > CTarget+1e-12 {
				s = "**" + s + "**"
			}
			return s
		}
		if c.Policy == SnugPolicy && c.MaxTried > 0 {
			return fmt.Sprintf("**none up to %d**", c.MaxTried)
		}
	}
	return "—"
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
