package strandingawarepacking

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	kubeschedulerconfigv1 "k8s.io/kube-scheduler/config/v1"
	fwk "k8s.io/kube-scheduler/framework"
	schedulerconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	kubeschedulerscheme "k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	plfeature "k8s.io/kubernetes/pkg/scheduler/framework/plugins/feature"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/noderesources"
	st "k8s.io/kubernetes/pkg/scheduler/testing"
)

// benchCluster is a mixed cluster: 4 of 5 nodes are CPU nodes, 1 of 5 a GPU
// node; each node runs three pods of a handful of shapes; CPU nodes sit in
// three zones.
func benchCluster(n int) ([]*corev1.Node, []*corev1.Pod) {
	cpuShapes := []map[corev1.ResourceName]string{
		res("500m", "1Gi"), res("1", "2Gi"), res("2", "4Gi"), res("4", "4Gi"), res("1", "8Gi"),
	}
	nodes := make([]*corev1.Node, 0, n)
	pods := make([]*corev1.Pod, 0, 3*n)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("node-%05d", i)
		zone := fmt.Sprintf("zone-%d", i%3)
		if i%5 == 4 {
			nodes = append(nodes, makeNode(name, resGPU("64", "512Gi", "8"), zoneKey, zone, modelLabel, []string{"G2", "T4"}[i/5%2]))
			pods = append(pods,
				makePod(name+"-g0", name, resGPU("8", "64Gi", "2"), "app", "train"),
				makePod(name+"-g1", name, resGPU("8", "64Gi", "2"), "app", "train"),
				makePod(name+"-c0", name, cpuShapes[i%len(cpuShapes)], "app", fmt.Sprint("web-", i%10)))
			continue
		}
		nodes = append(nodes, makeNode(name, res("32", "128Gi"), zoneKey, zone))
		for j := 0; j < 3; j++ {
			pods = append(pods, makePod(fmt.Sprintf("%s-c%d", name, j), name, cpuShapes[(i+j)%len(cpuShapes)], "app", fmt.Sprint("web-", (i+j)%10)))
		}
	}
	return nodes, pods
}

func benchPod(spread bool) *corev1.Pod {
	w := st.MakePod().Namespace("default").Name("incoming").UID("incoming").Label("app", "web-1").Req(res("2", "4Gi"))
	if spread {
		w.SpreadConstraint(1, zoneKey, corev1.ScheduleAnyway, st.MakeLabelSelector().Label("app", "web-1").Obj(), nil, nil, nil, nil)
	}
	return w.Obj()
}

const benchNodes = 5000

// benchEnv builds the cluster; with constrained, the learner has also seen
// GPU pods that require a GPU model, so nodes of each model get their own
// stranding model.
func benchEnv(b testing.TB, n int, constrained bool) (*env, []fwk.NodeInfo) {
	nodes, pods := benchCluster(n)
	e := newEnv(b, defaultArgs(b), nodes, pods, envOptions{})
	e.observe(pods...)
	e.observe(benchPod(false))
	if constrained {
		for i, m := range []string{"G2", "T4", "G2", "G2"} {
			e.observe(requireModel(makePod(fmt.Sprint("model-", i), "", resGPU("4", "32Gi", fmt.Sprint(1+i%2))), m))
		}
	}
	return e, e.nodeInfos(b)
}

// benchCases are the benchmarks' variants: a soft zone spread constraint
// on the pod, and GPU-model-constrained shapes in the learner.
var benchCases = []struct{ spread, constrained bool }{{false, false}, {true, false}, {false, true}}

// BenchmarkPreScore measures one scheduling cycle's PreScore over all nodes.
func BenchmarkPreScore(b *testing.B) {
	for _, c := range benchCases {
		e, nodes := benchEnv(b, benchNodes, c.constrained)
		pod := benchPod(c.spread)
		b.Run(fmt.Sprintf("nodes=%d/zone-spread=%v/model-constraints=%v", len(nodes), c.spread, c.constrained), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if s := e.pl.PreScore(e.ctx, framework.NewCycleState(), pod, nodes); !s.IsSuccess() {
					b.Fatal(s)
				}
			}
		})
	}
}

// BenchmarkScore measures one Score call (one node).
func BenchmarkScore(b *testing.B) {
	for _, c := range benchCases {
		e, nodes := benchEnv(b, benchNodes, c.constrained)
		pod := benchPod(c.spread)
		state := framework.NewCycleState()
		if s := e.pl.PreScore(e.ctx, state, pod, nodes); !s.IsSuccess() {
			b.Fatal(s)
		}
		b.Run(fmt.Sprintf("nodes=%d/zone-spread=%v/model-constraints=%v", len(nodes), c.spread, c.constrained), func(b *testing.B) {
			scoreEach(b, e, state, pod, nodes)
		})
	}
}

// scoreEach calls Score once per iteration, on the nodes in turn.
func scoreEach(b *testing.B, e *env, state fwk.CycleState, pod *corev1.Pod, nodes []fwk.NodeInfo) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, s := e.pl.Score(e.ctx, state, pod, nodes[i]); !s.IsSuccess() {
			b.Fatal(s)
		}
		if i++; i == len(nodes) {
			i = 0
		}
	}
}

// BenchmarkScoreGPUPod measures one Score call of a few-core GPU pod on a
// GPU node: the bundle term's waste and fit run, which a CPU-only pod skips.
func BenchmarkScoreGPUPod(b *testing.B) {
	e, nodes := benchEnv(b, benchNodes, false)
	pod := st.MakePod().Namespace("default").Name("incoming-gpu").UID("incoming-gpu").Req(resGPU("2", "8Gi", "1")).Obj()
	e.observe(pod)
	var gpuNodes []fwk.NodeInfo
	for i, ni := range nodes {
		if i%5 == 4 {
			gpuNodes = append(gpuNodes, ni)
		}
	}
	state := framework.NewCycleState()
	if s := e.pl.PreScore(e.ctx, state, pod, gpuNodes); !s.IsSuccess() {
		b.Fatal(s)
	}
	b.Run(fmt.Sprintf("gpu-nodes=%d", len(gpuNodes)), func(b *testing.B) {
		scoreEach(b, e, state, pod, gpuNodes)
	})
}

// newDefaultFit builds upstream NodeResourcesFit as the default scheduler
// profile does: v1 defaults (LeastAllocated over cpu and memory) and the
// features of the default feature gates.
func newDefaultFit(b testing.TB, e *env) *noderesources.Fit {
	v1 := &kubeschedulerconfigv1.NodeResourcesFitArgs{}
	kubeschedulerscheme.Scheme.Default(v1)
	var args schedulerconfig.NodeResourcesFitArgs
	if err := kubeschedulerscheme.Scheme.Convert(v1, &args, nil); err != nil {
		b.Fatal(err)
	}
	if args.ScoringStrategy == nil || args.ScoringStrategy.Type != schedulerconfig.LeastAllocated || len(args.ScoringStrategy.Resources) != 2 {
		b.Fatalf("unexpected NodeResourcesFit defaults: %+v", args.ScoringStrategy)
	}
	p, err := noderesources.NewFit(e.ctx, &args, e.fw, plfeature.NewSchedulerFeaturesFromGates(utilfeature.DefaultFeatureGate))
	if err != nil {
		b.Fatal(err)
	}
	return p.(*noderesources.Fit)
}

// BenchmarkNodeResourcesFitScore is the upstream baseline for BenchmarkScore:
// NodeResourcesFit's Score on the same nodes and pod, after one PreScore.
func BenchmarkNodeResourcesFitScore(b *testing.B) {
	e, nodes := benchEnv(b, benchNodes, false)
	fit := newDefaultFit(b, e)
	pod := benchPod(false)
	state := framework.NewCycleState()
	if s := fit.PreScore(e.ctx, state, pod, nodes); !s.IsSuccess() {
		b.Fatal(s)
	}
	b.Run(fmt.Sprintf("nodes=%d", len(nodes)), func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, s := fit.Score(e.ctx, state, pod, nodes[i]); !s.IsSuccess() {
				b.Fatal(s)
			}
			if i++; i == len(nodes) {
				i = 0
			}
		}
	})
}

// TestScoreDoesNotAllocate asserts the Score path's allocation budget: none,
// on CPU and GPU nodes, with and without a soft spread constraint.
func TestScoreDoesNotAllocate(t *testing.T) {
	for _, c := range benchCases {
		e, nodes := benchEnv(t, 50, c.constrained)
		spread := c.spread
		pod := benchPod(spread)
		state := framework.NewCycleState()
		if s := e.pl.PreScore(e.ctx, state, pod, nodes); !s.IsSuccess() {
			t.Fatal(s)
		}
		allocs := testing.AllocsPerRun(20, func() {
			for _, ni := range nodes {
				if _, s := e.pl.Score(e.ctx, state, pod, ni); s != nil {
					t.Fatal(s)
				}
			}
		})
		if allocs != 0 {
			t.Errorf("spread=%v constrained=%v: %v allocations per %d Score calls, want 0", spread, c.constrained, allocs, len(nodes))
		}
	}
}
