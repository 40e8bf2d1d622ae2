package validation

import (
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
		{name: "both weights zero", mutate: func(a *config.StrandingAwarePackingArgs) { a.PackingWeight, a.StrandingWeight = 0, 0 },
			want: []string{"args.packingWeight", "cannot both be 0"}},
		{name: "unknown resource", mutate: func(a *config.StrandingAwarePackingArgs) {
			a.Resources = append(a.Resources, config.ResourceWeight{Name: "cpus", Weight: 1})
		}, want: []string{"args.resources[4].name", "cpus"}},
		{name: "duplicate resource", mutate: func(a *config.StrandingAwarePackingArgs) {
			a.Resources = append(a.Resources, config.ResourceWeight{Name: corev1.ResourceCPU, Weight: 1})
		}, want: []string{"args.resources[4].name", "Duplicate"}},
		{name: "weight out of range", mutate: func(a *config.StrandingAwarePackingArgs) { a.Resources[1].Weight = 101 },
			want: []string{"args.resources[1].weight"}},
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
