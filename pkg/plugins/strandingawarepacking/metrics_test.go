package strandingawarepacking

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/kubernetes/pkg/scheduler/framework"

	"github.com/snug-sched/snug/pkg/apis/config"
	"github.com/snug-sched/snug/pkg/plugins/internal/metricstest"
)

// sampleEveryCycle makes every PreScore record the stranded gauges.
func sampleEveryCycle(t *testing.T) {
	old := strandedSampleInterval
	strandedSampleInterval = 0
	stranded.last.Store(0)
	t.Cleanup(func() { strandedSampleInterval = old })
}

func TestPreScoreRecordsStrandedCapacity(t *testing.T) {
	sampleEveryCycle(t)
	args := defaultArgs(t)
	args.Shapes.Mode = config.ShapeSourceStatic
	args.Shapes.Static = []config.PodShape{{Name: "app", Requests: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("3Gi")}}}
	nodes := []*corev1.Node{
		makeNode("n1", res("4", "8Gi")),
		makeNode("n2", res("4", "8Gi")),
		makeNode("gpu", resGPU("8", "32Gi", "4")),
	}
	pods := []*corev1.Pod{
		makePod("mem", "n1", map[corev1.ResourceName]string{corev1.ResourceMemory: "6Gi"}),
		makePod("cpu", "n2", map[corev1.ResourceName]string{corev1.ResourceCPU: "2"}),
	}
	e := newEnv(t, args, nodes, pods, envOptions{})
	incoming := makePod("new", "", res("1", "1Gi"))
	preScore := func(names ...string) {
		t.Helper()
		if s := e.pl.PreScore(e.ctx, framework.NewCycleState(), incoming, e.nodeInfos(t, names...)); !s.IsSuccess() {
			t.Fatalf("PreScore: %v", s)
		}
	}
	gauge := func(name string, r corev1.ResourceName) (float64, bool) {
		s, ok := metricstest.Get(t, name, map[string]string{"resource": string(r)})
		return s.Value, ok
	}
	const gi = 1 << 30

	// Shape (1 cpu, 3Gi). n1 free (4 cpu, 2Gi): fits none, all stranded.
	// n2 free (2 cpu, 8Gi): fits twice, 2Gi stranded.
	preScore("n1", "n2")
	want := map[corev1.ResourceName][2]float64{ // capacity, ratio
		corev1.ResourceCPU:              {4, 4.0 / 8},
		corev1.ResourceMemory:           {4 * gi, 4.0 / 16},
		corev1.ResourceEphemeralStorage: {0, 0}, // no shape demands it
	}
	for r, w := range want {
		c, ok1 := gauge("snug_stranded_capacity", r)
		ratio, ok2 := gauge("snug_stranded_capacity_ratio", r)
		if !ok1 || !ok2 || c != w[0] || ratio != w[1] {
			t.Errorf("%s: stranded capacity %v (present %v), ratio %v (present %v); want %v, %v", r, c, ok1, ratio, ok2, w[0], w[1])
		}
	}
	for _, r := range []corev1.ResourceName{corev1.ResourcePods, gpu} {
		if v, ok := gauge("snug_stranded_capacity", r); ok {
			t.Errorf("%s: series present (%v), want none", r, v)
		}
	}
	if got := metricstest.Value(t, "snug_stranded_capacity_nodes", nil); got != 2 {
		t.Errorf("nodes = %v, want 2", got)
	}

	// The GPU node adds its extended resource to the layout; no shape
	// demands GPUs, so none is stranded. Its free (8 cpu, 32Gi) fits the
	// shape 8 times: 8Gi stranded.
	preScore("n1", "n2", "gpu")
	if v, ok := gauge("snug_stranded_capacity", gpu); !ok || v != 0 {
		t.Errorf("gpu: %v (present %v), want 0", v, ok)
	}
	if v, _ := gauge("snug_stranded_capacity", corev1.ResourceMemory); v != 12*gi {
		t.Errorf("memory with the gpu node: %v, want %v", v, 12*gi)
	}
	// Gone from the layout: its series goes too.
	preScore("n1", "n2")
	if v, ok := gauge("snug_stranded_capacity", gpu); ok {
		t.Errorf("gpu series still present (%v) after the GPU node left the cycle", v)
	}

	// Sampled: within the interval, cycles leave the gauges alone.
	strandedSampleInterval = time.Hour
	preScore("n1", "n2", "gpu")
	if got := metricstest.Value(t, "snug_stranded_capacity_nodes", nil); got != 2 {
		t.Errorf("nodes = %v within the sample interval, want 2 (unchanged)", got)
	}
}

// BenchmarkRecordStranded measures one sample of the stranded gauges over
// all nodes (what one PreScore per strandedSampleInterval adds).
func BenchmarkRecordStranded(b *testing.B) {
	e, nodes := benchEnv(b, benchNodes, false)
	state := framework.NewCycleState()
	if s := e.pl.PreScore(e.ctx, state, benchPod(false), nodes); !s.IsSuccess() {
		b.Fatal(s)
	}
	s, err := getState(state)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("nodes=5000", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			recordStranded(s, nodes)
		}
	})
}
