package validation

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/snug-sched/snug/pkg/apis/config"
	_ "github.com/snug-sched/snug/pkg/apis/config/scheme"
	configv1 "github.com/snug-sched/snug/pkg/apis/config/v1"
	kubeschedulerscheme "k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"
)

// defaulted returns internal args with v1 defaults applied, as the scheduler sees them.
func defaulted(t *testing.T) config.StrandingAwarePackingArgs {
	t.Helper()
	v1 := &configv1.StrandingAwarePackingArgs{}
	kubeschedulerscheme.Scheme.Default(v1)
	var out config.StrandingAwarePackingArgs
	if err := kubeschedulerscheme.Scheme.Convert(v1, &out, nil); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestValidateStrandingAwarePackingArgs(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(a *config.StrandingAwarePackingArgs)
		want   []string // substrings of the error; empty means valid
	}{
		{name: "defaults are valid", mutate: func(*config.StrandingAwarePackingArgs) {}},
		{name: "negative packing weight", mutate: func(a *config.StrandingAwarePackingArgs) { a.PackingWeight = -1 },
			want: []string{"args.packingWeight", "[0, 100]"}},
		{name: "all weights zero", mutate: func(a *config.StrandingAwarePackingArgs) {
			a.PackingWeight, a.StrandingWeight, a.StrandedLevelWeight = 0, 0, 0
		}, want: []string{"args.packingWeight", "cannot all be 0"}},
		{name: "level weight out of range", mutate: func(a *config.StrandingAwarePackingArgs) { a.StrandedLevelWeight = 101 },
			want: []string{"args.strandedLevelWeight", "[0, 100]"}},
		{name: "fragmentation weight zero", mutate: func(a *config.StrandingAwarePackingArgs) { a.ScarceResources.FragmentationWeight = 0 },
			want: []string{"args.scarceResources.fragmentationWeight", "[1, 1000]"}},
		{name: "unknown resource", mutate: func(a *config.StrandingAwarePackingArgs) {
			a.Resources = append(a.Resources, config.ResourceWeight{Name: "cpus", Weight: 1})
		}, want: []string{"args.resources[4].name", "cpus"}},
		{name: "duplicate resource", mutate: func(a *config.StrandingAwarePackingArgs) {
			a.Resources = append(a.Resources, config.ResourceWeight{Name: corev1.ResourceCPU, Weight: 1})
		}, want: []string{"args.resources[4].name", "Duplicate"}},
		{name: "weight out of range", mutate: func(a *config.StrandingAwarePackingArgs) { a.Resources[1].Weight = 101 },
			want: []string{"args.resources[1].weight"}},
		{name: "more resources than the model holds", mutate: func(a *config.StrandingAwarePackingArgs) {
			for i := len(a.Resources); i <= 16; i++ {
				a.Resources = append(a.Resources, config.ResourceWeight{Name: corev1.ResourceName(fmt.Sprintf("example.com/r%d", i)), Weight: 1})
			}
		}, want: []string{"args.resources", "must have at most 16 items"}},
		{name: "extended resource ok", mutate: func(a *config.StrandingAwarePackingArgs) {
			a.Resources = append(a.Resources, config.ResourceWeight{Name: "nvidia.com/gpu", Weight: 5})
		}},
		{name: "bad scarce name", mutate: func(a *config.StrandingAwarePackingArgs) {
			a.ScarceResources.Names = []corev1.ResourceName{"kubernetes.io/gpu"}
		}, want: []string{"args.scarceResources.names[0]"}},
		{name: "unknown mode", mutate: func(a *config.StrandingAwarePackingArgs) { a.Shapes.Mode = "Guess" },
			want: []string{"args.shapes.mode", "Learned"}},
		{name: "static without shapes", mutate: func(a *config.StrandingAwarePackingArgs) { a.Shapes.Mode = config.ShapeSourceStatic },
			want: []string{"args.shapes.static"}},
		{name: "maxLearned out of range", mutate: func(a *config.StrandingAwarePackingArgs) { a.Shapes.MaxLearned = 0 },
			want: []string{"args.shapes.maxLearned"}},
		{name: "empty static shape", mutate: func(a *config.StrandingAwarePackingArgs) {
			a.Shapes.Static = []config.PodShape{{Name: "x", Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("0")}}}
		}, want: []string{"args.shapes.static[0].requests"}},
		{name: "static shapes beside the default 64 learned", mutate: func(a *config.StrandingAwarePackingArgs) {
			a.Shapes.Static = staticShapes(3)
		}},
		{name: "more static shapes than the model holds", mutate: func(a *config.StrandingAwarePackingArgs) {
			a.Shapes.Static = staticShapes(65)
		}, want: []string{"args.shapes.static", "must have at most 64 items"}},
		{name: "negative host scarcity weight", mutate: func(a *config.StrandingAwarePackingArgs) { a.HostScarcityWeight = -1 },
			want: []string{"args.hostScarcityWeight"}},
		{name: "negative scarce bundle weight", mutate: func(a *config.StrandingAwarePackingArgs) { a.ScarceBundleWeight = -1 },
			want: []string{"args.scarceBundleWeight"}},
		{name: "scarce bundle weight above the maximum", mutate: func(a *config.StrandingAwarePackingArgs) { a.ScarceBundleWeight = MaxWeight + 1 },
			want: []string{"args.scarceBundleWeight"}},
		{name: "negative static request", mutate: func(a *config.StrandingAwarePackingArgs) {
			a.Shapes.Static = []config.PodShape{{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("-1Gi")}}}
		}, want: []string{"args.shapes.static[0].requests[memory]"}},
		{name: "hard default constraint", mutate: func(a *config.StrandingAwarePackingArgs) {
			a.DefaultConstraints[0].WhenUnsatisfiable = corev1.DoNotSchedule
		}, want: []string{"args.defaultConstraints[0].whenUnsatisfiable"}},
		{name: "default constraint with selector", mutate: func(a *config.StrandingAwarePackingArgs) {
			a.DefaultConstraints[0].LabelSelector = &metav1.LabelSelector{}
		}, want: []string{"args.defaultConstraints[0].labelSelector"}},
		{name: "default constraint zero skew", mutate: func(a *config.StrandingAwarePackingArgs) {
			a.DefaultConstraints[0].MaxSkew = 0
		}, want: []string{"args.defaultConstraints[0].maxSkew"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := defaulted(t)
			tc.mutate(&args)
			err := ValidateStrandingAwarePackingArgs(field.NewPath("args"), &args)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want error containing %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// defaultedPredictableDemands returns internal PredictableDemandsArgs with v1
// defaults applied, as the scheduler sees them.
func defaultedPredictableDemands(t *testing.T) config.PredictableDemandsArgs {
	t.Helper()
	v1 := &configv1.PredictableDemandsArgs{}
	kubeschedulerscheme.Scheme.Default(v1)
	var out config.PredictableDemandsArgs
	if err := kubeschedulerscheme.Scheme.Convert(v1, &out, nil); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestValidatePredictableDemandsArgs(t *testing.T) {
	ratio := func(r corev1.ResourceName, q string) config.ResourceRatio {
		return config.ResourceRatio{Resource: r, Ratio: resource.MustParse(q)}
	}
	tests := []struct {
		name   string
		mutate func(a *config.PredictableDemandsArgs)
		want   []string // substrings of the error; empty means valid
		not    []string // substrings the error must not contain
	}{
		{name: "memory 1 and cpu 4 are valid", mutate: func(*config.PredictableDemandsArgs) {}},
		{name: "defaults (no caps) are valid", mutate: func(a *config.PredictableDemandsArgs) { a.OvercommitCaps.Caps = nil }},
		{name: "zero cap ratio", mutate: func(a *config.PredictableDemandsArgs) { a.OvercommitCaps.Caps[0].Ratio = resource.MustParse("0") },
			want: []string{"args.overcommitCaps.caps[0].ratio", "must be greater than 0"}},
		{name: "negative cap ratio", mutate: func(a *config.PredictableDemandsArgs) { a.OvercommitCaps.Caps[1].Ratio = resource.MustParse("-2") },
			want: []string{"args.overcommitCaps.caps[1].ratio", `"-2"`, "must be greater than 0"},
			not:  []string{"caps[0]"}},
		{name: "fractional cap ratio below 1 is valid", mutate: func(a *config.PredictableDemandsArgs) {
			a.OvercommitCaps.Caps[0].Ratio = resource.MustParse("0.8")
		}},
		{name: "unknown cap resource", mutate: func(a *config.PredictableDemandsArgs) {
			a.OvercommitCaps.Caps = append(a.OvercommitCaps.Caps, ratio("cpus", "2"))
		}, want: []string{"args.overcommitCaps.caps[2].resource", "cpus"}},
		{name: "duplicate cap", mutate: func(a *config.PredictableDemandsArgs) {
			a.OvercommitCaps.Caps = append(a.OvercommitCaps.Caps, ratio(corev1.ResourceMemory, "2"))
		}, want: []string{"args.overcommitCaps.caps[2].resource", "Duplicate", "memory"}, not: []string{"caps[0]"}},
		{name: "extended resource cap is valid", mutate: func(a *config.PredictableDemandsArgs) {
			a.OvercommitCaps.Caps = append(a.OvercommitCaps.Caps, ratio("nvidia.com/gpu", "1"))
		}},
		{name: "empty caps are valid", mutate: func(a *config.PredictableDemandsArgs) { a.OvercommitCaps.Caps = []config.ResourceRatio{} }},
		{name: "unknown declared resource", mutate: func(a *config.PredictableDemandsArgs) {
			a.DeclaredDemands.Resources = append(a.DeclaredDemands.Resources, "kubernetes.io/gpu")
		}, want: []string{"args.declaredDemands.resources[2]", "kubernetes.io/gpu"}},
		{name: "malformed namespace selector: bad operator", mutate: func(a *config.PredictableDemandsArgs) {
			a.DeclaredDemands.NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "team", Operator: "Equals", Values: []string{"a"}}}}
		}, want: []string{"args.declaredDemands.namespaceSelector.matchExpressions[0].operator", "Equals"}},
		{name: "malformed namespace selector: In without values", mutate: func(a *config.PredictableDemandsArgs) {
			a.DeclaredDemands.NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "team", Operator: metav1.LabelSelectorOpIn}}}
		}, want: []string{"args.declaredDemands.namespaceSelector.matchExpressions[0].values"}},
		{name: "malformed namespace selector: bad label value", mutate: func(a *config.PredictableDemandsArgs) {
			a.DeclaredDemands.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a b"}}
		}, want: []string{"args.declaredDemands.namespaceSelector.matchLabels"}},
		{name: "empty namespace selector is valid", mutate: func(a *config.PredictableDemandsArgs) {
			a.DeclaredDemands.NamespaceSelector = &metav1.LabelSelector{}
		}},
		{name: "imagePullSecrets without secrets", mutate: func(a *config.PredictableDemandsArgs) { a.DependencyGate.ImagePullSecrets = true },
			want: []string{"args.dependencyGate.imagePullSecrets", "dependencyGate.secrets: true"}},
		{name: "imagePullSecrets with secrets is valid", mutate: func(a *config.PredictableDemandsArgs) {
			a.DependencyGate.ImagePullSecrets, a.DependencyGate.Secrets = true, true
		}},
		{name: "maxLimitRequestRatio below 1", mutate: func(a *config.PredictableDemandsArgs) {
			a.DeclaredDemands.MaxLimitRequestRatio = []config.ResourceRatio{ratio(corev1.ResourceCPU, "0.5")}
		}, want: []string{"args.declaredDemands.maxLimitRequestRatio[0].ratio", "must be at least 1"}},
		{name: "maxLimitRequestRatio 999m is below 1", mutate: func(a *config.PredictableDemandsArgs) {
			a.DeclaredDemands.MaxLimitRequestRatio = []config.ResourceRatio{ratio(corev1.ResourceMemory, "1"), ratio(corev1.ResourceCPU, "999m")}
		}, want: []string{"args.declaredDemands.maxLimitRequestRatio[1].ratio"}, not: []string{"maxLimitRequestRatio[0]"}},
		{name: "maxLimitRequestRatio of exactly 1 is valid", mutate: func(a *config.PredictableDemandsArgs) {
			a.DeclaredDemands.MaxLimitRequestRatio = []config.ResourceRatio{ratio(corev1.ResourceMemory, "1"), ratio(corev1.ResourceCPU, "1.5")}
		}},
		{name: "maxLimitRequestRatio duplicate and unknown resource", mutate: func(a *config.PredictableDemandsArgs) {
			a.DeclaredDemands.MaxLimitRequestRatio = []config.ResourceRatio{ratio(corev1.ResourceCPU, "2"), ratio(corev1.ResourceCPU, "3"), ratio("cores", "2")}
		}, want: []string{"args.declaredDemands.maxLimitRequestRatio[1].resource", "Duplicate", "args.declaredDemands.maxLimitRequestRatio[2].resource"}},
		{name: "several errors are all reported", mutate: func(a *config.PredictableDemandsArgs) {
			a.DependencyGate.ImagePullSecrets = true
			a.OvercommitCaps.Caps[0].Ratio = resource.MustParse("0")
		}, want: []string{"args.dependencyGate.imagePullSecrets", "args.overcommitCaps.caps[0].ratio"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := defaultedPredictableDemands(t)
			args.OvercommitCaps.Caps = []config.ResourceRatio{ratio(corev1.ResourceMemory, "1"), ratio(corev1.ResourceCPU, "4")}
			tc.mutate(&args)
			err := ValidatePredictableDemandsArgs(field.NewPath("args"), &args)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want error containing %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(err.Error(), n) {
					t.Errorf("error %q should not mention %q", err, n)
				}
			}
		})
	}
}

func TestPredictableDemandsDefaults(t *testing.T) {
	a := defaultedPredictableDemands(t)
	g := a.DependencyGate
	if !g.Enabled || !g.ConfigMaps || g.Secrets || g.ImagePullSecrets || !g.PVCs {
		t.Errorf("dependency gate defaults: %+v", g)
	}
	if a.DeclaredDemands.NamespaceSelector != nil {
		t.Errorf("namespace selector defaults to %v, want nil (enforced nowhere)", a.DeclaredDemands.NamespaceSelector)
	}
	if got := a.DeclaredDemands.Resources; len(got) != 2 || got[0] != corev1.ResourceCPU || got[1] != corev1.ResourceMemory {
		t.Errorf("declared resources default: %v", got)
	}
	// Caps are opt-in: a default cap would refuse snug's pods on the nodes
	// of a cluster that already runs its limits above it.
	if caps := a.OvercommitCaps.Caps; len(caps) != 0 {
		t.Errorf("caps default to %v, want none", caps)
	}
}

func staticShapes(n int) []config.PodShape {
	out := make([]config.PodShape, n)
	for i := range out {
		out[i] = config.PodShape{Requests: corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(int64(100*(i+1)), resource.DecimalSI)}}
	}
	return out
}
