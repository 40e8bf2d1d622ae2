package planner

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/snug-sched/snug/pkg/simulator"
	"github.com/snug-sched/snug/pkg/version"
	"github.com/snug-sched/snug/pkg/workload"
)

// Built-in profile names of --profile.
const (
	ProfileDefault = "default"
	ProfileSnug    = "snug"
)

// ProfileFlag is one --profile value: a built-in name, or NAME=PATH with an
// optional :PROFILE (the schedulerName of the profile in the file; needed
// when the file holds more than one).
type ProfileFlag struct {
	Name, Path, ProfileName string
}

// ParseProfileFlag parses a --profile value.
func ParseProfileFlag(v string) (ProfileFlag, error) {
	name, path, hasPath := strings.Cut(v, "=")
	name = strings.TrimSpace(name)
	if name == "" {
		return ProfileFlag{}, fmt.Errorf("%q: empty profile name (want default, snug or NAME=PATH[:PROFILE])", v)
	}
	if !hasPath {
		if name != ProfileDefault && name != ProfileSnug {
			return ProfileFlag{}, fmt.Errorf("%q: not a built-in profile (default, snug); give a file as NAME=PATH[:PROFILE]", v)
		}
		return ProfileFlag{Name: name}, nil
	}
	pf := ProfileFlag{Name: name, Path: path}
	// PATH:PROFILE, unless what follows the last colon looks like a path.
	if i := strings.LastIndex(path, ":"); i >= 0 && !strings.Contains(path[i+1:], "/") {
		pf.Path, pf.ProfileName = path[:i], path[i+1:]
		if pf.ProfileName == "" {
			return ProfileFlag{}, fmt.Errorf("%q: empty profile name after ':'", v)
		}
	}
	if pf.Path == "" {
		return ProfileFlag{}, fmt.Errorf("%q: empty path", v)
	}
	return pf, nil
}

// Load returns the profile the flag names.
func (pf ProfileFlag) Load() (Profile, error) {
	switch {
	case pf.Path == "" && pf.Name == ProfileDefault:
		p, err := simulator.DefaultProfile()
		return Profile{Name: pf.Name, Source: "built-in", Profile: p}, err
	case pf.Path == "" && pf.Name == ProfileSnug:
		p, err := simulator.SnugProfile()
		return Profile{Name: pf.Name, Source: "built-in", Profile: p}, err
	}
	p, err := simulator.LoadProfile(pf.Path, pf.ProfileName)
	src := pf.Path
	if pf.ProfileName != "" {
		src += ":" + pf.ProfileName
	}
	return Profile{Name: pf.Name, Source: src, Profile: p}, err
}

type profileFlags []ProfileFlag

func (p *profileFlags) String() string {
	var s []string
	for _, f := range *p {
		s = append(s, f.Name)
	}
	return strings.Join(s, ",")
}

func (p *profileFlags) Set(v string) error {
	pf, err := ParseProfileFlag(v)
	if err != nil {
		return err
	}
	for _, have := range *p {
		if have.Name == pf.Name {
			return fmt.Errorf("profile name %q given twice", pf.Name)
		}
	}
	*p = append(*p, pf)
	return nil
}

// usageError is a problem with the command line (exit status 2).
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

const usageText = `capacity-planner compares scheduler profiles on a cluster and a workload
with snug's in-process simulator, and sizes clusters of one node shape.

Usage:
  capacity-planner --nodes FILE --workload FILE [flags]
  capacity-planner --example NAME [flags]
  capacity-planner --workload FILE --size-node FILE|SPEC [flags]
  capacity-planner --list-examples

Files are Kubernetes YAML/JSON (Nodes; Pods, Deployments, StatefulSets,
Jobs, ...), generic CSV or Alibaba openb CSV (see pkg/workload).

Flags:
`

// Main runs the command line args (without the program name) and returns
// the exit status: 0 success, 1 failure, 2 bad command line.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, stderrIsTerminal bool) int {
	err := run(ctx, args, stdout, stderr, stderrIsTerminal)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintln(stderr, "capacity-planner:", err)
		fmt.Fprintln(stderr, "Run capacity-planner --help for usage.")
		return 2
	default:
		fmt.Fprintln(stderr, "capacity-planner:", err)
		return 1
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, stderrIsTerminal bool) error {
	fs := flag.NewFlagSet("capacity-planner", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		profiles     profileFlags
		nodesFile    = fs.String("nodes", "", "cluster nodes: YAML Node objects or CSV (generic or openb)")
		workloadFile = fs.String("workload", "", "workload: YAML (Pods, Deployments, StatefulSets, Jobs, ...) or CSV (generic or openb)")
		example      = fs.String("example", "", "built-in example (nodes and workload); see --list-examples")
		listExamples = fs.Bool("list-examples", false, "list the built-in examples and exit")
		preemption   = fs.Bool("preemption", false, "let the profiles' PostFilter plugins preempt (evicted pods are not retried)")
		sizeNode     = fs.String("size-node", "", "sizing mode: node shape as a one-node YAML/CSV file or a spec such as cpu=96,memory=384Gi,nvidia.com/gpu=8")
		sizeMax      = fs.Int("size-max", 0, "sizing mode: try at most this many nodes (0: up to one node per pod)")
		output       = fs.String("output", "table", "output format: table or json")
		chart        = fs.String("chart", "", "write an SVG chart of allocation against offered load to this file")
		progress     = fs.Bool("progress", false, "show the progress bar on stderr even when it is not a terminal")
		parallelism  = fs.Int("parallelism", runtime.GOMAXPROCS(0), "goroutines of the simulators' Filter and Score")
		scoreAll     = fs.Bool("score-all-nodes", false, "score every feasible node in each cycle instead of sampling nodes as kube-scheduler does with the profile's percentageOfNodesToScore (differs above 100 nodes)")
		showVersion  = fs.Bool("version", false, "print the version and exit")
	)
	fs.Var(&profiles, "profile", "profile to compare, repeatable: default, snug (built-in) or NAME=PATH[:PROFILE] of a KubeSchedulerConfiguration (default: default and snug)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (inputs are given with --nodes, --workload or --example)", fs.Arg(0))
	}
	if *showVersion {
		fmt.Fprintln(stdout, "capacity-planner", version.Get())
		return nil
	}
	if *listExamples {
		for _, name := range workload.Examples() {
			fmt.Fprintln(stdout, name)
		}
		return nil
	}
	if *output != "table" && *output != "json" {
		return usagef("--output: want table or json, got %q", *output)
	}
	if *sizeMax < 0 {
		return usagef("--size-max: must be >= 0, got %d", *sizeMax)
	}
	if *parallelism < 1 {
		return usagef("--parallelism: must be >= 1, got %d", *parallelism)
	}
	if *example != "" && (*nodesFile != "" || *workloadFile != "") {
		return usagef("--example gives the nodes and the workload: do not combine it with --nodes or --workload")
	}
	if *example == "" && *workloadFile == "" {
		return usagef("no workload: give --workload FILE or --example NAME (--list-examples lists them)")
	}
	if *example == "" && *nodesFile == "" && *sizeNode == "" {
		return usagef("no cluster: give --nodes FILE, or --size-node FILE|SPEC to size one")
	}
	if len(profiles) == 0 {
		profiles = profileFlags{{Name: ProfileDefault}, {Name: ProfileSnug}}
	}

	cfg := Config{Preemption: *preemption, Parallelism: *parallelism, ScoreAllNodes: *scoreAll}
	cfg.Input = Input{Nodes: *nodesFile, Workload: *workloadFile, Example: *example}
	if *example != "" {
		nodes, pods, err := workload.Example(*example)
		if err != nil {
			return usagef("--example: %v", err)
		}
		cfg.Nodes, cfg.Pods = nodes, pods
	} else {
		if *nodesFile != "" {
			nodes, err := workload.LoadNodes(*nodesFile)
			if err != nil {
				return fmt.Errorf("--nodes: %w", err)
			}
			cfg.Nodes = nodes
		}
		pods, err := workload.LoadPods(*workloadFile)
		if err != nil {
			return fmt.Errorf("--workload: %w", err)
		}
		if len(pods) == 0 {
			return fmt.Errorf("--workload: %s: no pods", *workloadFile)
		}
		cfg.Pods = pods
	}
	if *sizeNode != "" {
		n, err := LoadSizeNode(*sizeNode)
		if err != nil {
			return fmt.Errorf("--size-node: %w", err)
		}
		cfg.SizeNode, cfg.SizeNodeSource, cfg.SizeMax = n, *sizeNode, *sizeMax
	}
	for _, pf := range profiles {
		p, err := pf.Load()
		if err != nil {
			return fmt.Errorf("--profile %s: %w", pf.Name, err)
		}
		cfg.Profiles = append(cfg.Profiles, p)
	}
	if *progress || stderrIsTerminal {
		cfg.Progress = NewBar(stderr)
	}

	// Open the chart before the (possibly long) simulation, so that a bad
	// path fails at once.
	var chartFile *os.File
	if *chart != "" {
		f, err := os.Create(*chart)
		if err != nil {
			return fmt.Errorf("--chart: %w", err)
		}
		chartFile = f
		defer f.Close()
	}
	rep, err := Run(ctx, cfg)
	if err != nil {
		if chartFile != nil {
			chartFile.Close()
			os.Remove(*chart)
		}
		return err
	}
	if chartFile != nil {
		if err := WriteSVG(chartFile, rep); err != nil {
			return fmt.Errorf("--chart: %w", err)
		}
		if err := chartFile.Close(); err != nil {
			return fmt.Errorf("--chart: %w", err)
		}
	}
	if *output == "json" {
		return WriteJSON(stdout, rep)
	}
	return WriteTable(stdout, rep)
}

// IsTerminal reports whether f is a character device (a terminal).
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
