// Command bench-quality runs the placement-quality benchmark
// (test/benchmark/quality) on the Alibaba openb trace and writes the
// "Placement quality" section of docs/benchmarks.md and the protocol A
// chart. See the package documentation of test/benchmark/quality.
//
//	go run ./test/benchmark/quality/cmd/bench-quality [-quick] [-openb dir] [-doc docs/benchmarks.md]
//
// With -mix it runs on a workload mix generated from the lists
// (test/benchmark/quality/mix); with -family it runs every mix of the
// family and writes the family report (docs/benchmarks-family.md) instead;
// -write-mix only writes the generated lists. -nodes and -pods point at
// any openb-format (or pkg/workload) node and pod list.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/klog/v2"

	"github.com/snug-sched/snug/test/benchmark/quality"
	"github.com/snug-sched/snug/test/benchmark/quality/mix"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-quality:", err)
		os.Exit(1)
	}
}

func run() error {
	// The framework logs every profile it builds at info level.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	def := quality.DefaultOptions()
	openb := flag.String("openb", defaultOpenb(), "directory of the openb trace (env SNUG_OPENB_DIR)")
	nodesFile := flag.String("nodes", "", "node list (default: the openb directory's "+quality.NodeFile+")")
	podsFile := flag.String("pods", "", "pod list, openb format with or without its optional columns (default: the openb directory's "+quality.PodFile+")")
	mixName := flag.String("mix", "", "run on a workload mix generated from the lists: a family mix ("+familyNames()+") or settings such as cpu=3,cpu-copies=2 (see test/benchmark/quality/mix)")
	family := flag.Bool("family", false, "run every mix of the family (or -mixes) and write the family report")
	mixes := flag.String("mixes", "", "with -family: the mixes to run, comma-separated family names (default all)")
	mixSeed := flag.Uint64("mix-seed", 1, "seed of the mix generator")
	writeMix := flag.String("write-mix", "", "write the generated lists of -mix (or of every -family mix, a directory each) into this directory as openb CSV files, and exit")
	quick := flag.Bool("quick", false, fmt.Sprintf("quick mode: every 4th node and pod (same as -every 4; with -family, -every %d)", quality.FamilyQuickEvery))
	every := flag.Int("every", 1, "keep every n-th node and pod")
	protocols := flag.String("protocols", "A,B,C", "protocols to run")
	policies := flag.String("policies", "", "policies to run, comma-separated (default all)")
	parallel := flag.Int("parallel", 2, "(protocol, policy) jobs run at once")
	seed := flag.Uint64("seed", def.Seed, "seed of the random policy")
	snugConfig := flag.String("snug-config", "", "KubeSchedulerConfiguration file whose snug-scheduler profile replaces the shipped one as policy snug (to try other args)")
	compression := flag.Float64("compression", 0, "protocol B arrival compression factor (0: peak offered GPU load = -target-peak)")
	targetPeak := flag.Float64("target-peak", def.TargetPeak, "protocol B: peak offered GPU load the compression is chosen for")
	maxFactor := flag.Float64("max-factor", def.MaxFactor, "protocol C: give up above this multiple of the lower bound")
	exactFactor := flag.Float64("exact-factor", def.ExactFactor, "protocol C: exact node count below this multiple of the lower bound, within 1% of it above")
	jsonOut := flag.String("json", "", "write the results as JSON to this file")
	from := flag.String("from", "", "render from a JSON results file instead of running; comma-separated family result files are merged (a later run of a mix replaces an earlier), and -mix then renders one mix's single-run report")
	doc := flag.String("doc", "", "write the Placement quality section into this Markdown file (e.g. docs/benchmarks.md)")
	svg := flag.String("svg", "", "write the protocol A chart to this SVG file (e.g. docs/quality-protocol-a.svg)")
	command := flag.String("command", "", "command to show in the report, e.g. \"make bench-quality\" (default: the go run command line)")
	analysis := flag.String("analysis", "", "Markdown file with a hand-written analysis to include in the report")
	flag.Parse()
	if *quick {
		*every = 4
		if *family {
			*every = quality.FamilyQuickEvery
		}
	}
	expanded := expandedCommand()
	if *nodesFile == "" {
		*nodesFile = filepath.Join(*openb, quality.NodeFile)
	}
	if *podsFile == "" {
		*podsFile = filepath.Join(*openb, quality.PodFile)
	}
	if *family && *mixName != "" && *from == "" {
		return fmt.Errorf("-family and -mix: choose one (-mixes selects the family's mixes)")
	}
	if *writeMix != "" {
		return writeMixes(*writeMix, *nodesFile, *podsFile, *mixName, *family, *mixes, *mixSeed)
	}

	var res *quality.Results
	var fam *quality.FamilyResults
	var meta quality.Meta
	if *from != "" {
		var err error
		if res, fam, meta, err = readSaved(split(*from)); err != nil {
			return err
		}
		if res != nil && *mixName != "" {
			return fmt.Errorf("-mix %s: %s holds a single run, not a family run", *mixName, *from)
		}
		if fam != nil && *mixName != "" {
			if res, err = familyMix(fam, *mixName, &meta); err != nil {
				return err
			}
			fam = nil
		}
		if res != nil {
			res.Compact()
		}
	} else {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		opts := def
		opts.Protocols = split(*protocols)
		opts.Policies = split(*policies)
		opts.Parallel = *parallel
		opts.Seed = *seed
		opts.SnugConfig = *snugConfig
		opts.Compression = *compression
		opts.TargetPeak = *targetPeak
		opts.MaxFactor = *maxFactor
		opts.ExactFactor = *exactFactor
		opts.Log = func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
		}
		start := time.Now()
		meta = quality.MachineMeta()
		meta.Command, meta.Expanded = expanded, expanded
		meta.Every = *every
		if *family {
			fo := quality.FamilyOptions{Options: opts, Seed: *mixSeed, Every: *every}
			for _, name := range split(*mixes) {
				m, err := mix.Parse(name)
				if err != nil {
					return err
				}
				fo.Mixes = append(fo.Mixes, m)
			}
			if *jsonOut != "" {
				fo.MixDone = func(f *quality.FamilyResults) {
					if err := writeJSON(*jsonOut+".partial", saved{Meta: meta, Family: f}); err != nil {
						fmt.Fprintln(os.Stderr, "bench-quality:", err)
					}
				}
			}
			nodes, pods, err := readTables(*nodesFile, *podsFile)
			if err != nil {
				return err
			}
			if fam, err = quality.RunFamily(ctx, nodes, pods, fo); err != nil {
				return err
			}
			meta.Seconds = fam.Seconds
			if *jsonOut != "" {
				if err := writeJSON(*jsonOut, saved{Meta: meta, Family: fam}); err != nil {
					return err
				}
				os.Remove(*jsonOut + ".partial")
			}
			return outputFamily(*doc, *command, meta, fam)
		}
		tr, err := loadTrace(*nodesFile, *podsFile, *mixName, *mixSeed, *every, &meta)
		if err != nil {
			return err
		}
		if *jsonOut != "" {
			// Partial results after every job, so an interrupted run keeps them.
			opts.Done = func(r *quality.Results) {
				if err := writeJSON(*jsonOut+".partial", saved{Meta: meta, Results: r}); err != nil {
					fmt.Fprintln(os.Stderr, "bench-quality:", err)
				}
			}
		}
		res, err = quality.Run(ctx, tr, opts)
		if err != nil {
			return err
		}
		res.Seconds = time.Since(start).Seconds()
		meta.Seconds = res.Seconds
		if *jsonOut != "" {
			if err := writeJSON(*jsonOut, saved{Meta: meta, Results: res}); err != nil {
				return err
			}
			os.Remove(*jsonOut + ".partial")
		}
	}
	if fam != nil {
		return outputFamily(*doc, *command, meta, fam)
	}
	if *command != "" {
		meta.Command = *command
	}
	if *analysis != "" {
		data, err := os.ReadFile(*analysis)
		if err != nil {
			return err
		}
		meta.Analysis = string(data)
	}
	if *svg != "" && len(res.A) > 0 {
		if err := os.WriteFile(*svg, []byte(quality.ChartA(res)), 0o644); err != nil {
			return err
		}
		meta.Chart = filepath.Base(*svg)
	}
	section := quality.Render(res, meta)
	if *doc == "" {
		fmt.Print(section)
		return nil
	}
	old, err := os.ReadFile(*doc)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	return writeFile(*doc, []byte(quality.Replace(string(old), section)))
}

// readSaved reads the result files of earlier runs: one single run, or
// family runs, merged in the order given (FamilyResults.Merge).
func readSaved(files []string) (*quality.Results, *quality.FamilyResults, quality.Meta, error) {
	var res *quality.Results
	var fam *quality.FamilyResults
	var meta quality.Meta
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, nil, meta, err
		}
		var s saved
		if err := json.Unmarshal(data, &s); err != nil {
			return nil, nil, meta, fmt.Errorf("%s: %w", file, err)
		}
		switch {
		case s.Results == nil && s.Family == nil:
			return nil, nil, meta, fmt.Errorf("%s: no results", file)
		case len(files) > 1 && s.Family == nil:
			return nil, nil, meta, fmt.Errorf("%s: not a family run; only family runs are merged", file)
		case fam != nil:
			if err := fam.Merge(s.Family); err != nil {
				return nil, nil, meta, fmt.Errorf("%s: %w", file, err)
			}
			meta.Seconds = fam.Seconds
		default:
			res, fam, meta = s.Results, s.Family, s.Meta
		}
	}
	return res, fam, meta, nil
}

// familyMix is the single-run results of the mix named name in a family
// run, with meta describing the mix as a -mix run would; the family's
// baseline (the lists as loaded) renders as the run without -mix does, so
// docs/benchmarks.md can come from a family run.
func familyMix(fam *quality.FamilyResults, name string, meta *quality.Meta) (*quality.Results, error) {
	mr := fam.Mix(name)
	switch {
	case mr == nil:
		return nil, fmt.Errorf("-mix %s: the family run has no such mix", name)
	case mr.Results == nil:
		return nil, fmt.Errorf("-mix %s: the mix did not run: %s", name, mr.Err)
	}
	baseline := false // a mix that changes nothing
	if m, err := mix.Parse(name); err == nil {
		m.Name = ""
		baseline = m == (mix.Mix{})
	}
	meta.Seconds = mr.Results.Seconds
	if !baseline {
		meta.Mix = fmt.Sprintf("%s (%s; generator seed %d)", name, mr.Description, fam.Seed)
		meta.MixNotes = mr.Notes
	}
	return mr.Results, nil
}

// outputFamily writes the family report's results section into doc (a
// new document if doc does not exist; stdout if "").
func outputFamily(doc, command string, meta quality.Meta, fam *quality.FamilyResults) error {
	if command != "" {
		meta.Command = command
	}
	section := quality.RenderFamily(fam, meta)
	if doc == "" {
		fmt.Print(section)
		return nil
	}
	old, err := os.ReadFile(doc)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	return writeFile(doc, []byte(quality.ReplaceFamily(string(old), section)))
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

func readTables(nodeFile, podFile string) (nodes, pods *mix.Table, err error) {
	if nodes, err = mix.ReadTableFile(nodeFile); err != nil {
		return nil, nil, fmt.Errorf("%w (set -openb or SNUG_OPENB_DIR to the openb trace directory, or -nodes)", err)
	}
	if pods, err = mix.ReadTableFile(podFile); err != nil {
		return nil, nil, fmt.Errorf("%w (set -openb or SNUG_OPENB_DIR to the openb trace directory, or -pods)", err)
	}
	return nodes, pods, nil
}

// loadTrace loads the lists, or the mix named generated from them (then
// described in meta).
func loadTrace(nodeFile, podFile, name string, seed uint64, every int, meta *quality.Meta) (*quality.Trace, error) {
	if name == "" {
		tr, err := quality.LoadTraceFiles(nodeFile, podFile, every)
		if err != nil {
			return nil, fmt.Errorf("%w (set -openb or SNUG_OPENB_DIR to the openb trace directory, or -nodes and -pods)", err)
		}
		return tr, nil
	}
	g, err := generate(nodeFile, podFile, name, seed)
	if err != nil {
		return nil, err
	}
	meta.Mix = fmt.Sprintf("%s (%s; generator seed %d)", g.Mix.Name, g.Mix.Describe(), seed)
	meta.MixNotes = g.Notes
	return quality.GeneratedTrace(g, every)
}

func generate(nodeFile, podFile, name string, seed uint64) (*mix.Generated, error) {
	m, err := mix.Parse(name)
	if err != nil {
		return nil, err
	}
	nodes, pods, err := readTables(nodeFile, podFile)
	if err != nil {
		return nil, err
	}
	return m.Generate(seed, nodes, pods)
}

// writeMixes writes the mix name, or every mix of the family (-mixes), into
// dir (a subdirectory per mix for the family).
func writeMixes(dir, nodeFile, podFile, name string, family bool, names string, seed uint64) error {
	if !family {
		if name == "" {
			return fmt.Errorf("-write-mix needs -mix or -family")
		}
		g, err := generate(nodeFile, podFile, name, seed)
		if err != nil {
			return err
		}
		return writeMix(dir, g)
	}
	mixes := mix.Family()
	if names != "" {
		mixes = nil
		for _, n := range split(names) {
			m, err := mix.Parse(n)
			if err != nil {
				return err
			}
			mixes = append(mixes, m)
		}
	}
	nodes, pods, err := readTables(nodeFile, podFile)
	if err != nil {
		return err
	}
	for _, m := range mixes {
		g, err := m.Generate(seed, nodes, pods)
		if err != nil {
			return fmt.Errorf("mix %s: %w", m.Name, err)
		}
		if err := writeMix(filepath.Join(dir, m.Name), g); err != nil {
			return err
		}
	}
	return nil
}

func writeMix(dir string, g *mix.Generated) error {
	if err := g.Write(dir); err != nil {
		return err
	}
	fmt.Printf("%s: %s\n", dir, g.Mix.Describe())
	for _, n := range g.Notes {
		fmt.Printf("  %s\n", n)
	}
	return nil
}

func familyNames() string {
	var out []string
	for _, m := range mix.Family() {
		out = append(out, m.Name)
	}
	return strings.Join(out, ", ")
}

func defaultOpenb() string {
	if d := os.Getenv("SNUG_OPENB_DIR"); d != "" {
		return d
	}
	return "../shared/data/alibaba-openb"
}

// saved is the JSON file of a run: a single run's Results or a family's.
type saved struct {
	Meta    quality.Meta
	Results *quality.Results       `json:",omitempty"`
	Family  *quality.FamilyResults `json:",omitempty"`
}

func writeJSON(path string, s saved) error {
	data, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// expandedCommand is the go run command line of this run, without the
// flags that only affect rendering.
func expandedCommand() string {
	out := []string{"go run ./test/benchmark/quality/cmd/bench-quality"}
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		name := strings.TrimLeft(a, "-")
		name, _, hasValue := strings.Cut(name, "=")
		if name == "command" || name == "analysis" {
			if !hasValue {
				i++
			}
			continue
		}
		if strings.ContainsAny(a, " '\"") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
