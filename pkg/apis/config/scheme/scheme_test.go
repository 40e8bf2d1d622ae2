package scheme_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/cmd/kube-scheduler/app/options"

	"github.com/snug-sched/snug/manifests"
	"github.com/snug-sched/snug/pkg/apis/config"
	_ "github.com/snug-sched/snug/pkg/apis/config/scheme"
)

func load(t *testing.T, data string) (*config.StrandingAwarePackingArgs, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := options.LoadConfigFromFile(klog.Background(), path)
	if err != nil {
		return nil, err
	}
	for _, p := range cfg.Profiles {
		for _, pc := range p.PluginConfig {
			if args, ok := pc.Args.(*config.StrandingAwarePackingArgs); ok {
				return args, nil
			}
		}
	}
	t.Fatalf("no StrandingAwarePackingArgs in decoded config")
	return nil, nil
}

const header = `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: snug-scheduler
  pluginConfig:
  - name: StrandingAwarePacking
    args:
`

func TestShippedConfigDecodesWithDefaults(t *testing.T) {
	args, err := load(t, string(manifests.SchedulerConfig))
	if err != nil {
		t.Fatalf("shipped config: %v", err)
	}
	if args.PackingWeight != 1 || args.StrandingWeight != 16 || args.StrandedLevelWeight != 4 || !args.ScarceResources.ExtendedResources {
		t.Errorf("defaults not applied: %+v", args)
	}
	if len(args.Resources) != 4 || args.Shapes.Mode != config.ShapeSourceLearned || args.Shapes.MaxLearned != 64 || args.HostScarcityWeight != 16 || args.ScarceBundleWeight != 16 {
		t.Errorf("defaults not applied: %+v", args)
	}
	if len(args.DefaultConstraints) != 1 || args.DefaultConstraints[0].TopologyKey != corev1.LabelTopologyZone {
		t.Errorf("default spread constraints: %+v", args.DefaultConstraints)
	}
}

// An explicit 0 turns the bundle term off; it must not be defaulted to 16.
func TestScarceBundleWeightZeroDecodes(t *testing.T) {
	args, err := load(t, header+"      scarceBundleWeight: 0\n")
	if err != nil {
		t.Fatal(err)
	}
	if args.ScarceBundleWeight != 0 {
		t.Errorf("scarceBundleWeight = %d, want 0", args.ScarceBundleWeight)
	}
	args, err = load(t, header+"      scarceBundleWeight: 5\n")
	if err != nil || args.ScarceBundleWeight != 5 {
		t.Errorf("scarceBundleWeight: 5 decoded as %+v, %v", args, err)
	}
}

func TestArgsDecode(t *testing.T) {
	args, err := load(t, header+`      packingWeight: 3
      defaultConstraints: []
      scarceResources:
        extendedResources: false
        names: ["example.com/fpga"]
      shapes:
        mode: Static
        static:
        - name: small
          requests: {cpu: 500m, memory: 1Gi}
`)
	if err != nil {
		t.Fatal(err)
	}
	if args.PackingWeight != 3 || args.StrandingWeight != 16 || args.StrandedLevelWeight != 4 || args.ScarceResources.FragmentationWeight != 50 {
		t.Errorf("weights: %+v", args)
	}
	if args.ScarceResources.ExtendedResources || len(args.ScarceResources.Names) != 1 {
		t.Errorf("scarce: %+v", args.ScarceResources)
	}
	if len(args.DefaultConstraints) != 0 {
		t.Errorf("explicit empty defaultConstraints must stay empty, got %+v", args.DefaultConstraints)
	}
	if q := args.Shapes.Static[0].Requests[corev1.ResourceCPU]; q.MilliValue() != 500 {
		t.Errorf("static shape cpu = %v", q.String())
	}
}

func TestStrictDecoding(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"misspelled field", "      packingWeigth: 3\n", `unknown field "packingWeigth"`},
		{"wrong type", "      packingWeight: heavy\n", "packingWeight"},
		{"nested unknown", "      shapes:\n        maxLearnd: 3\n", `unknown field "shapes.maxLearnd"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, header+tc.body)
			if err == nil {
				t.Fatal("want decoding error")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "StrandingAwarePacking") {
				t.Errorf("error %q does not name the plugin and %q", err, tc.want)
			}
		})
	}
}

// loadDemands decodes a config whose only plugin args are PredictableDemands'.
func loadDemands(t *testing.T, args string) *config.PredictableDemandsArgs {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	data := `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: snug-scheduler
  pluginConfig:
  - name: PredictableDemands
    args:
` + args
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := options.LoadConfigFromFile(klog.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	for _, pc := range cfg.Profiles[0].PluginConfig {
		if a, ok := pc.Args.(*config.PredictableDemandsArgs); ok {
			return a
		}
	}
	t.Fatal("no PredictableDemandsArgs in decoded config")
	return nil
}

// Caps are opt-in: unset and [] both mean none; an explicit list is kept as
// written, in its order.
func TestOvercommitCapsDecode(t *testing.T) {
	for _, tc := range []struct {
		name, args string
		want       []string // resource=ratio
	}{
		{name: "unset", args: "      dependencyGate: {enabled: true}\n"},
		{name: "empty list", args: "      overcommitCaps: {caps: []}\n"},
		{name: "explicit", args: "      overcommitCaps:\n        caps: [{resource: memory, ratio: 1.5}, {resource: cpu, ratio: 4}]\n",
			want: []string{"memory=1500m", "cpu=4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, c := range loadDemands(t, tc.args).OvercommitCaps.Caps {
				got = append(got, string(c.Resource)+"="+c.Ratio.String())
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("caps = %v, want %v", got, tc.want)
			}
		})
	}
	// The shipped configuration turns no caps on.
	cfgPath := filepath.Join(t.TempDir(), "shipped.yaml")
	if err := os.WriteFile(cfgPath, manifests.SchedulerConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := options.LoadConfigFromFile(klog.Background(), cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range cfg.Profiles {
		for _, pc := range p.PluginConfig {
			if a, ok := pc.Args.(*config.PredictableDemandsArgs); ok {
				found = true
				if len(a.OvercommitCaps.Caps) != 0 {
					t.Errorf("shipped profile %s turns caps on: %v", p.SchedulerName, a.OvercommitCaps.Caps)
				}
			}
		}
	}
	if !found {
		t.Error("no PredictableDemandsArgs in the shipped config (defaulted)")
	}
}
