// Package policies holds DeschedulerPolicy files that snug's descheduler must
// load unchanged: copies of the upstream descheduler v0.36.0's own examples
// for the strategies snug replaces (upstream-examples/, from
// sigs.k8s.io/descheduler@v0.36.0/examples), and, through its test, the
// policy shipped in manifests/descheduler/policy.yaml. They are loaded the
// way the descheduler command loads them: upstream's LoadPolicyConfig
// against the plugin registry upstream fills (SetupPlugins) with snug's
// strategies registered over it (strategies.Register).
package policies

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/descheduler/pkg/api"
	"sigs.k8s.io/descheduler/pkg/descheduler"
	"sigs.k8s.io/descheduler/pkg/framework/pluginregistry"

	"github.com/snug-sched/snug/pkg/strategies"
	"github.com/snug-sched/snug/pkg/strategies/highnodeutilization"
	"github.com/snug-sched/snug/pkg/strategies/lownodeutilization"
)

// registry is the descheduler command's registry: upstream's plugins, then
// snug's strategies in place of upstream's of the same names. Decoding
// reads the package-level pluginregistry.PluginRegistry, which this sets.
func registry() pluginregistry.Registry {
	descheduler.SetupPlugins()
	strategies.Register(pluginregistry.PluginRegistry)
	return pluginregistry.PluginRegistry
}

// load loads a policy file as the descheduler does and checks that every
// plugin it enables is registered and that every snug strategy's args
// decoded into snug's args type.
func load(t *testing.T, path string) *api.DeschedulerPolicy {
	t.Helper()
	reg := registry()
	policy, err := descheduler.LoadPolicyConfig(path, fake.NewClientset(), reg)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if policy == nil || len(policy.Profiles) == 0 {
		t.Fatalf("%s: no profiles", path)
	}
	snug := strategies.Names()
	for _, p := range policy.Profiles {
		for _, set := range []api.PluginSet{p.Plugins.Balance, p.Plugins.Deschedule, p.Plugins.Filter, p.Plugins.PreEvictionFilter} {
			for _, name := range set.Enabled {
				if _, ok := reg[name]; !ok {
					t.Errorf("%s: profile %s enables %s, which is not registered", path, p.Name, name)
				}
			}
		}
		for _, pc := range p.PluginConfigs {
			if !slices.Contains(snug, pc.Name) {
				continue
			}
			want := reflect.TypeOf(reg[pc.Name].PluginArgInstance)
			if got := reflect.TypeOf(pc.Args); got != want {
				t.Errorf("%s: %s args decoded as %v, want snug's %v", path, pc.Name, got, want)
			}
		}
	}
	return policy
}

func args[T any](t *testing.T, policy *api.DeschedulerPolicy, name string) T {
	t.Helper()
	for _, p := range policy.Profiles {
		for _, pc := range p.PluginConfigs {
			if pc.Name == name {
				a, ok := pc.Args.(T)
				if !ok {
					t.Fatalf("%s args are %T", name, pc.Args)
				}
				return a
			}
		}
	}
	t.Fatalf("no pluginConfig %s", name)
	var zero T
	return zero
}

func TestUpstreamExamples(t *testing.T) {
	files, err := filepath.Glob("upstream-examples/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 5 {
		t.Fatalf("want the 5 upstream examples naming snug's strategies, found %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { load(t, f) })
	}

	// Upstream's args keep their meaning; snug's optional args get defaults.
	hnu := args[*highnodeutilization.Args](t, load(t, "upstream-examples/high-node-utilization.yml"), highnodeutilization.PluginName)
	if hnu.Thresholds["memory"] != 20 || hnu.EmptiedNodeTaint == nil || hnu.EmptiedNodeTaint.Key != highnodeutilization.DefaultTaintKey {
		t.Errorf("HighNodeUtilization args: %+v (taint %+v)", hnu.HighNodeUtilizationArgs, hnu.EmptiedNodeTaint)
	}
	lnu := args[*lownodeutilization.Args](t, load(t, "upstream-examples/low-node-utilization.yml"), lownodeutilization.PluginName)
	if lnu.Thresholds["memory"] != 20 || lnu.TargetThresholds["memory"] != 70 || lnu.StrandingAware == nil || !*lnu.StrandingAware {
		t.Errorf("LowNodeUtilization args: %+v (strandingAware %v)", lnu.LowNodeUtilizationArgs, lnu.StrandingAware)
	}
}

// The copies are byte-for-byte upstream's, when the module cache has them.
func TestUpstreamExamplesAreCopies(t *testing.T) {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Skipf("go env GOMODCACHE: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "sigs.k8s.io", "descheduler@v0.36.0", "examples")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("upstream examples not in the module cache: %v", err)
	}
	files, _ := filepath.Glob("upstream-examples/*")
	for _, f := range files {
		ours, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := os.ReadFile(filepath.Join(dir, filepath.Base(f)))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if !bytes.Equal(ours, theirs) {
			t.Errorf("%s differs from %s", f, filepath.Join(dir, filepath.Base(f)))
		}
	}
}

// The policy in manifests/ (ConfigMap snug-descheduler-policy) loads.
func TestShippedPolicy(t *testing.T) {
	policy := load(t, "../../manifests/descheduler/policy.yaml")
	lnu := args[*lownodeutilization.Args](t, policy, lownodeutilization.PluginName)
	if lnu.Thresholds["cpu"] != 20 || lnu.TargetThresholds["cpu"] != 50 {
		t.Errorf("shipped LowNodeUtilization args: %+v", lnu.LowNodeUtilizationArgs)
	}
}

// Bad args are an error that names the field, before anything runs.
func TestBadArgsNameTheField(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	policy := `apiVersion: descheduler/v1alpha2
kind: DeschedulerPolicy
profiles:
- name: bad
  pluginConfig:
  - name: HighNodeUtilization
    args:
      thresholds: {cpu: 20}
      emptiedNodeTaint: {key: "not a key!"}
  plugins:
    balance:
      enabled: [HighNodeUtilization]
`
	if err := os.WriteFile(path, []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := descheduler.LoadPolicyConfig(path, fake.NewClientset(), registry())
	if err == nil || !strings.Contains(err.Error(), "emptiedNodeTaint.key") {
		t.Errorf("want an error naming emptiedNodeTaint.key, got %v", err)
	}
}
