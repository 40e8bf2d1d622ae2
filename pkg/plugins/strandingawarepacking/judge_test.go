package strandingawarepacking

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/kubernetes/pkg/scheduler/framework"

	"github.com/snug-sched/snug/pkg/apis/config"
)

// Other plugins of the profile reach the plugin's judge through their
// handle while the framework runs; it sees a node in the layout PreScore
// builds for that node, with the plugin's shapes; the entry leaves with the
// framework.
func TestJudgeOf(t *testing.T) {
	if JudgeOf(nil) != nil {
		t.Fatal("JudgeOf(nil) is not nil")
	}
	var fw framework.Framework
	t.Run("while the framework runs", func(t *testing.T) {
		a := defaultArgs(t)
		a.Shapes.Mode = config.ShapeSourceStatic
		a.Shapes.Static = []config.PodShape{{Name: "s", Requests: corev1.ResourceList{gpu: resource.MustParse("1")}}}
		a.Resources = []config.ResourceWeight{{Name: corev1.ResourceMemory, Weight: 3}, {Name: corev1.ResourceCPU, Weight: 1}}
		a.ExtendedResourceWeight = 2
		e := newEnv(t, a, []*corev1.Node{makeNode("n", map[corev1.ResourceName]string{
			corev1.ResourceCPU: "8", corev1.ResourceMemory: "16Gi", "example.com/b": "1", "example.com/a": "1"})}, nil, envOptions{})
		fw = e.fw
		j := JudgeOf(e.fw)
		if j == nil || j != e.pl.judge || j.Shapes() != e.pl.Shapes() {
			t.Fatalf("JudgeOf = %p, want the plugin's %p", j, e.pl.judge)
		}
		pod := makePod("p", "", map[corev1.ResourceName]string{corev1.ResourceCPU: "1", "example.com/c": "1"})
		ni := e.nodeInfos(t, "n")
		shapes, _ := j.Shapes().Weighted()
		got := j.Layout(ni[0], Names(pod.Spec.Containers[0].Resources.Requests, shapes))
		want := e.preScore(t, pod, ni).layout
		want.Scale = got.Scale // Scale is per cycle, not the judge's business
		if got != want {
			t.Errorf("judge's layout %v %v, PreScore's %v %v", got.Names[:got.N], got.Weights[:got.N], want.Names[:want.N], want.Weights[:want.N])
		}
		if !slices.Equal(got.Names[:got.N], []corev1.ResourceName{corev1.ResourceMemory, corev1.ResourceCPU, "example.com/a", "example.com/b", "example.com/c", gpu}) ||
			got.Weights[0] != 3 || got.Weights[2] != 2 {
			t.Errorf("layout %v, weights %v", got.Names[:got.N], got.Weights[:got.N])
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for JudgeOf(fw) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the judge outlived its framework")
		}
		time.Sleep(time.Millisecond)
	}
}
