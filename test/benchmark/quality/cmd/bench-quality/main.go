// Command bench-quality runs the placement-quality benchmark
// (test/benchmark/quality) on the Alibaba openb trace and writes the
// "Placement quality" section of docs/benchmarks.md and the protocol A
// chart. See the package documentation of test/benchmark/quality.
//
//	go run ./test/benchmark/quality/cmd/bench-quality [-quick] [-openb dir] [-doc docs/benchmarks.md]
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
	quick := flag.Bool("quick", false, "quick mode: every 4th node and pod (same as -every 4)")
	every := flag.Int("every", 1, "keep every n-th node and pod")
	protocols := flag.String("protocols", "A,B,C", "protocols to run")
	policies := flag.String("policies", "", "policies to run, comma-separated (default all)")
	parallel := flag.Int("parallel", 2, "(protocol, policy) jobs run at once")
	seed := flag.Uint64("seed", def.Seed, "seed of the random policy")
	compression := flag.Float64("compression", 0, "protocol B arrival compression factor (0: peak offered GPU load = -target-peak)")
	targetPeak := flag.Float64("target-peak", def.TargetPeak, "protocol B: peak offered GPU load the compression is chosen for")
	maxFactor := flag.Float64("max-factor", def.MaxFactor, "protocol C: give up above this multiple of the lower bound")
	exactFactor := flag.Float64("exact-factor", def.ExactFactor, "protocol C: exact node count below this multiple of the lower bound, within 1% of it above")
	jsonOut := flag.String("json", "", "write the results as JSON to this file")
	from := flag.String("from", "", "render from a JSON results file instead of running")
	doc := flag.String("doc", "", "write the Placement quality section into this Markdown file (e.g. docs/benchmarks.md)")
	svg := flag.String("svg", "", "write the protocol A chart to this SVG file (e.g. docs/quality-protocol-a.svg)")
	command := flag.String("command", "", "command to show in the report, e.g. \"make bench-quality\" (default: the go run command line)")
	analysis := flag.String("analysis", "", "Markdown file with a hand-written analysis to include in the report")
	flag.Parse()
	if *quick {
		*every = 4
	}
	expanded := expandedCommand()

	var res *quality.Results
	var meta quality.Meta
	if *from != "" {
		data, err := os.ReadFile(*from)
		if err != nil {
			return err
		}
		var saved struct {
			Meta    quality.Meta
			Results *quality.Results
		}
		if err := json.Unmarshal(data, &saved); err != nil {
			return fmt.Errorf("%s: %w", *from, err)
		}
		res, meta = saved.Results, saved.Meta
		res.Compact()
	} else {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		tr, err := quality.LoadTrace(*openb, *every)
		if err != nil {
			return fmt.Errorf("%w (set -openb or SNUG_OPENB_DIR to the openb trace directory)", err)
		}
		opts := def
		opts.Protocols = split(*protocols)
		opts.Policies = split(*policies)
		opts.Parallel = *parallel
		opts.Seed = *seed
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
		if *jsonOut != "" {
			// Partial results after every job, so an interrupted run keeps them.
			opts.Done = func(r *quality.Results) {
				if err := writeJSON(*jsonOut+".partial", meta, r); err != nil {
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
			if err := writeJSON(*jsonOut, meta, res); err != nil {
				return err
			}
			os.Remove(*jsonOut + ".partial")
		}
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
	if err := os.MkdirAll(filepath.Dir(*doc), 0o755); err != nil {
		return err
	}
	return os.WriteFile(*doc, []byte(quality.Replace(string(old), section)), 0o644)
}

func defaultOpenb() string {
	if d := os.Getenv("SNUG_OPENB_DIR"); d != "" {
		return d
	}
	return "../shared/data/alibaba-openb"
}

func writeJSON(path string, meta quality.Meta, res *quality.Results) error {
	data, err := json.MarshalIndent(struct {
		Meta    quality.Meta
		Results *quality.Results
	}{meta, res}, "", " ")
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
