package throughput

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	_ "k8s.io/component-base/logs/json/register"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	schedscheme "k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	schedmetrics "k8s.io/kubernetes/pkg/scheduler/metrics"
	perf "k8s.io/kubernetes/test/integration/scheduler_perf"
	"sigs.k8s.io/yaml"

	"github.com/snug-sched/snug/manifests"
	_ "github.com/snug-sched/snug/pkg/apis/config/scheme"
	"github.com/snug-sched/snug/pkg/plugins"
)

// Workload files, relative to this package (go test runs in it).
var configFiles = []string{"config/upstream.yaml", "config/snug.yaml"}

// etcdErr says why no etcd binary was found; scheduler_perf starts one per
// workload from PATH.
var etcdErr error

func TestMain(m *testing.M) {
	etcdErr = putEtcdOnPath()
	if err := perf.InitTests(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// putEtcdOnPath prepends the directory of the etcd to use to PATH:
// $SNUG_CONTROLPLANE_BIN, else <repo>/bin/controlplane (make controlplane),
// else whatever etcd PATH already has.
func putEtcdOnPath() error {
	var dirs []string
	if d := os.Getenv("SNUG_CONTROLPLANE_BIN"); d != "" {
		dirs = append(dirs, d)
	}
	if root, err := repoRoot(); err == nil {
		dirs = append(dirs, filepath.Join(root, "bin", "controlplane"))
	}
	for _, d := range dirs {
		d, err := filepath.Abs(d)
		if err != nil {
			continue
		}
		if fi, err := os.Stat(filepath.Join(d, "etcd")); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return os.Setenv("PATH", d+string(os.PathListSeparator)+os.Getenv("PATH"))
		}
	}
	if _, err := exec.LookPath("etcd"); err == nil {
		return nil
	}
	return fmt.Errorf("no etcd binary in %s or PATH: run `make controlplane` or set SNUG_CONTROLPLANE_BIN to a directory holding etcd",
		strings.Join(dirs, ", "))
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if f, err := os.Open(filepath.Join(dir, "go.mod")); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if fs := strings.Fields(sc.Text()); len(fs) == 2 && fs[0] == "module" && fs[1] == "github.com/snug-sched/snug" {
					f.Close()
					return dir, nil
				}
			}
			f.Close()
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod of github.com/snug-sched/snug above the working directory")
		}
		dir = parent
	}
}

// BenchmarkPerfSchedulingDefault runs the workloads under scheduler_perf's
// default configuration: profile default-scheduler, upstream defaults.
func BenchmarkPerfSchedulingDefault(b *testing.B) {
	runProfile(b, ProfileDefault)
}

// BenchmarkPerfSchedulingSnug runs the same workloads under snug's shipped
// configuration, manifests/scheduler-config.yaml.
func BenchmarkPerfSchedulingSnug(b *testing.B) {
	runProfile(b, ProfileSnug)
}

// schedulerNames are the profiles' scheduler names (metric labels).
var schedulerNames = map[string]string{ProfileDefault: "default-scheduler", ProfileSnug: "snug-scheduler"}

func runProfile(b *testing.B, profile string) {
	if etcdErr != nil {
		b.Fatal(etcdErr)
	}
	path, err := generateConfig(b.TempDir(), profile)
	if err != nil {
		b.Fatal(err)
	}
	var registry frameworkruntime.Registry // default: in-tree plugins only, as upstream
	if profile == ProfileSnug {
		registry = plugins.Registry()
	}
	defer startPhaseProfile(b, schedulerNames[profile])()
	defer startPhaseCounts(b, schedulerNames[profile])()
	// The topic names the JSON file: BenchmarkPerfScheduling_benchmark_<profile>_<time>.json.
	perf.RunBenchmarkPerfScheduling(b, path, profile, registry)
}

// generateConfig writes the scheduler_perf config of one profile into dir
// and returns its path. Both profiles get the test cases of configFiles
// with absolute template paths, a drainPause after the last op and, unless
// a test case sets its own, metricsCollectorConfig collectedMetrics. The
// snug profile also gets
//   - schedulerConfigPath: manifests.SchedulerConfig written unchanged, so
//     the scheduler runs the shipped profile, snug-scheduler, exactly;
//   - copies of the pod templates with `schedulerName: snug-scheduler`
//     added under spec, the one way pods select that profile.
func generateConfig(dir, profile string) (string, error) {
	var testCases []any
	for _, f := range configFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		var tcs []any
		if err := yaml.Unmarshal(data, &tcs); err != nil {
			return "", fmt.Errorf("%s: %w", f, err)
		}
		testCases = append(testCases, tcs...)
	}
	g := &generator{dir: dir, snug: profile == ProfileSnug, rewritten: map[string]string{}}
	if g.snug {
		cfgPath := filepath.Join(dir, "scheduler-config.yaml")
		if err := os.WriteFile(cfgPath, manifests.SchedulerConfig, 0o644); err != nil {
			return "", err
		}
		if err := checkShippedConfig(cfgPath); err != nil {
			return "", err
		}
		g.schedulerConfig = cfgPath
	}
	for _, tc := range testCases {
		if err := g.testCase(tc); err != nil {
			return "", err
		}
	}
	out, err := json.MarshalIndent(testCases, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "performance-config-"+profile+".yaml") // JSON is YAML
	return path, os.WriteFile(path, out, 0o644)
}

type generator struct {
	dir             string
	snug            bool
	schedulerConfig string
	// rewritten maps template paths to the files the run uses.
	rewritten map[string]string
}

// drainPause is the sleep appended to every workload (see testCase).
const drainPause = "2s"

// collectedMetrics is the metricsCollectorConfig of every test case that
// sets none: scheduler_perf's default without the per-plugin histograms.
// The default config also asks for every plugin x extension point and
// plugin x cluster event combination, about a thousand, and gathers the
// whole metrics registry (the in-process apiserver's included) for each
// after every workload: 10-15 s per workload on two cores, after the
// measurement, which the smoke test cannot afford. The per-plugin metrics
// would not cover snug's plugins anyway (scheduler_perf.PluginNames).
func collectedMetrics() map[string]any {
	return map[string]any{"metrics": map[string]any{
		"scheduler_framework_extension_point_duration_seconds": []any{
			map[string]any{"label": "extension_point", "values": schedmetrics.ExtensionPoints},
		},
		"scheduler_scheduling_attempt_duration_seconds": []any{
			map[string]any{"label": "result", "values": []string{schedmetrics.ScheduledResult, schedmetrics.UnschedulableResult, schedmetrics.ErrorResult}},
		},
		"scheduler_pod_scheduling_duration_seconds": nil,
	}}
}

func (g *generator) testCase(v any) error {
	tc, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("test case is a %T, not a map", v)
	}
	if _, set := tc["metricsCollectorConfig"]; !set {
		tc["metricsCollectorConfig"] = collectedMetrics()
	}
	// After the last op, scheduler_perf checks that the scheduling queue
	// holds no in-flight events. That check races with the queue's cleanup
	// (kubernetes/kubernetes#140751) once gathering fewer metrics no longer
	// delays it, and fails a workload whose pods were all scheduled. A
	// pause after the measurement lets the queue drain; both profiles get it.
	if ops, ok := tc["workloadTemplate"].([]any); ok {
		tc["workloadTemplate"] = append(ops, map[string]any{"opcode": "sleep", "duration": drainPause})
	}
	if g.snug {
		if _, set := tc["schedulerConfigPath"]; set {
			return fmt.Errorf("test case %v sets schedulerConfigPath: the harness chooses the profile", tc["name"])
		}
		tc["schedulerConfigPath"] = g.schedulerConfig
	}
	_, hasDefaultPod := tc["defaultPodTemplatePath"]
	ops, _ := tc["workloadTemplate"].([]any)
	for _, op := range ops {
		op, ok := op.(map[string]any)
		if !ok {
			continue
		}
		pods := op
		if op["opcode"] == "createPodSets" {
			pods, _ = op["createPodsOp"].(map[string]any)
		}
		if (op["opcode"] == "createPods" || op["opcode"] == "createPodSets") && pods["podTemplatePath"] == nil && !hasDefaultPod {
			// scheduler_perf would fall back to its built-in pod, which
			// cannot carry a schedulerName.
			return fmt.Errorf("test case %v: a %v op has no podTemplatePath and there is no defaultPodTemplatePath", tc["name"], op["opcode"])
		}
	}
	return g.paths(tc)
}

// paths makes every template path absolute (scheduler_perf resolves them
// against its working directory) and, for snug, points pod templates at
// copies that select the snug profile.
func (g *generator) paths(v any) error {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			switch x := x.(type) {
			case string:
				if strings.HasSuffix(k, "TemplatePath") {
					p, err := g.template(x)
					if err != nil {
						return err
					}
					v[k] = p
				}
			case []any:
				if k == "templatePaths" {
					for i, s := range x {
						s, ok := s.(string)
						if !ok {
							return fmt.Errorf("templatePaths holds a %T", x[i])
						}
						p, err := g.template(s)
						if err != nil {
							return err
						}
						x[i] = p
					}
					continue
				}
				if err := g.paths(x); err != nil {
					return err
				}
			default:
				if err := g.paths(x); err != nil {
					return err
				}
			}
		}
	case []any:
		for _, x := range v {
			if err := g.paths(x); err != nil {
				return err
			}
		}
	}
	return nil
}

var (
	kindPodRE = regexp.MustCompile(`(?m)^kind:\s*Pod\s*$`)
	specRE    = regexp.MustCompile(`(?m)^spec:[ \t]*\n`)
	// schedulerName anywhere would be overridden or duplicated.
	schedulerNameRE = regexp.MustCompile(`(?m)^\s*schedulerName:`)
)

func (g *generator) template(path string) (string, error) {
	if p, ok := g.rewritten[path]; ok {
		return p, nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return "", err
	}
	result := abs
	if g.snug && kindPodRE.Match(data) {
		out, err := selectProfile(data, manifests.SchedulerName)
		if err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		result = filepath.Join(g.dir, "templates", filepath.ToSlash(filepath.Clean(path)))
		if err := os.MkdirAll(filepath.Dir(result), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(result, out, 0o644); err != nil {
			return "", err
		}
	}
	g.rewritten[path] = result
	return result, nil
}

// selectProfile adds `schedulerName: <name>` as the first field of the pod
// template's top-level spec, indented like the field that follows.
func selectProfile(tmpl []byte, name string) ([]byte, error) {
	if schedulerNameRE.Match(tmpl) {
		return nil, errors.New("pod template already sets schedulerName")
	}
	locs := specRE.FindAllIndex(tmpl, -1)
	if len(locs) != 1 {
		return nil, fmt.Errorf("want exactly one top-level `spec:` line in the pod template, found %d", len(locs))
	}
	end := locs[0][1]
	indent := "  "
	if m := regexp.MustCompile(`^([ \t]+)\S`).FindSubmatch(tmpl[end:]); m != nil {
		indent = string(m[1])
	}
	out := append([]byte{}, tmpl[:end]...)
	out = append(out, indent+"schedulerName: "+name+"\n"...)
	return append(out, tmpl[end:]...), nil
}

// checkShippedConfig loads the config as scheduler_perf does and checks it
// is what the comparison assumes: one profile, snug-scheduler, enabling
// snug's plugins.
func checkShippedConfig(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	obj, _, err := schedscheme.Codecs.UniversalDecoder().Decode(data, nil, nil)
	if err != nil {
		return fmt.Errorf("shipped scheduler config: %w", err)
	}
	cfg, ok := obj.(*schedconfig.KubeSchedulerConfiguration)
	if !ok {
		return fmt.Errorf("shipped scheduler config decodes to %T", obj)
	}
	if len(cfg.Profiles) != 1 || cfg.Profiles[0].SchedulerName != manifests.SchedulerName {
		return fmt.Errorf("shipped scheduler config: want exactly one profile %q, got %d", manifests.SchedulerName, len(cfg.Profiles))
	}
	p := cfg.Profiles[0].Plugins
	for _, set := range []schedconfig.PluginSet{p.MultiPoint, p.PreEnqueue, p.PreFilter, p.Filter, p.PreScore, p.Score, p.Reserve, p.Permit, p.PreBind} {
		for _, e := range set.Enabled {
			if _, ok := plugins.Registry()[e.Name]; ok {
				return nil
			}
		}
	}
	return errors.New("shipped profile enables none of snug's plugins")
}
