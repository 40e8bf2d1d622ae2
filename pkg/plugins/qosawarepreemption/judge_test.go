package qosawarepreemption

import (
	"math"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/snug-sched/snug/internal/plugintest"
	"github.com/snug-sched/snug/pkg/apis/config"
	configv1 "github.com/snug-sched/snug/pkg/apis/config/v1"
)

// The stranding criterion judges nodes with the shapes and resource weights
// of the profile's StrandingAwarePacking, so the two plugins call the same
// capacity stranded; without it in the profile, with the learned shapes and
// every resource at weight 1.
func TestStrandedAfterUsesPackingArgs(t *testing.T) {
	nodes := []*corev1.Node{
		makeNode("n", map[corev1.ResourceName]string{corev1.ResourceCPU: "8", corev1.ResourceMemory: "16Gi"}),
	}
	pods := []*corev1.Pod{newPod("fill", 2000, burstable, res("5", "8Gi")).Node("n").Obj()}
	preemptor := newPod("preemptor", 1000, burstable, res("2", "4Gi")).Obj()
	packing := func(mutate func(a *config.StrandingAwarePackingArgs)) *config.StrandingAwarePackingArgs {
		a := plugintest.Defaulted[config.StrandingAwarePackingArgs](t, &configv1.StrandingAwarePackingArgs{})
		mutate(a)
		return a
	}
	static := func(cpu, mem string) func(a *config.StrandingAwarePackingArgs) {
		return func(a *config.StrandingAwarePackingArgs) {
			a.Shapes = config.ShapeSource{Mode: config.ShapeSourceStatic, MaxLearned: 16, Static: []config.PodShape{{Name: "s",
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}}}}
		}
	}
	// Once the preemptor runs on n, 1 core (1/8) and 4Gi (4/16) are free.
	// The learned shape, 2 cores and 4Gi, fits in neither.
	tests := []struct {
		name    string
		packing *config.StrandingAwarePackingArgs
		want    float64
	}{
		{"no StrandingAwarePacking: learned shapes", nil, (1.0/8 + 4.0/16) / 2},
		{"default args: the same learned shapes", packing(func(*config.StrandingAwarePackingArgs) {}), (1.0/8 + 4.0/16) / 2},
		{"static shape that fits the leftover", packing(static("1", "4Gi")), 0},
		{"static shape, memory weighs 3", packing(func(a *config.StrandingAwarePackingArgs) {
			static("1", "8Gi")(a)
			a.Resources = []config.ResourceWeight{{Name: corev1.ResourceCPU, Weight: 1}, {Name: corev1.ResourceMemory, Weight: 3}}
		}), (1.0/8 + 3*4.0/16) / 4},
		// Its own learner, fed by the informers only (never started here),
		// has learned nothing but the preemptor's shape, which is the
		// learned shape's.
		{"own learner: the preemptor's shape", packing(func(a *config.StrandingAwarePackingArgs) { a.Shapes.MaxLearned = 4 }), (1.0/8 + 4.0/16) / 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnvWithPacking(t, defaultArgs(t, ""), tt.packing, nodes, pods)
			e.pl.ObservePod(newPod("shape", 0, burstable, res("2", "4Gi")).Obj(), 1)
			if got := e.pl.strandedAfter("n", nil, preemptor); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("strandedAfter() = %v, want %v", got, tt.want)
			}
		})
	}
}
