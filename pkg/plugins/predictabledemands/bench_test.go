package predictabledemands

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	schedcache "k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
)

// benchGatedPod references six objects: two ConfigMaps and a Secret through
// env and envFrom, a ConfigMap and a Secret through a projected volume, and
// a PVC.
func benchGatedPod(i int) *corev1.Pod {
	p := podWith("ns", fmt.Sprintf("p-%d", i), nil, corev1.Container{
		Name:    "app",
		Env:     []corev1.EnvVar{cmKeyEnv("LEVEL", "settings", nil), secretKeyEnv("TOKEN", "token", nil)},
		EnvFrom: []corev1.EnvFromSource{cmEnvFrom("env", nil)},
	})
	p.Spec.Volumes = []corev1.Volume{
		projectedVolume("bundle", projCM("ca", nil), projSecret("tls", nil)),
		pvcVolume("data", "data"),
	}
	return p
}

func BenchmarkPreEnqueue(b *testing.B) {
	sel := Selection{ConfigMaps: true, Secrets: true, PVCs: true}
	st := newFakeStore(true,
		cmKey("ns", "settings"), secretKey("ns", "token"), cmKey("ns", "env"),
		cmKey("ns", "ca"), secretKey("ns", "tls"), pvcKey("ns", "data"))
	g := testGate(sel, st, &fakeHandle{})
	pl := &Plugin{gate: g}
	pods := make([]*corev1.Pod, 1024)
	for i := range pods {
		pods[i] = benchGatedPod(i)
	}
	if n := len(Dependencies(pods[0], sel)); n != 6 {
		b.Fatalf("%d references, want 6", n)
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if s := pl.PreEnqueue(ctx, pods[i%len(pods)]); s != nil {
			b.Fatal(s)
		}
		i++
	}
}

const benchNodes = 5000

// benchFilterEnv returns a plugin with caps memory 1x and cpu 4x and NodeInfos holding three
// pods each (limits, requests only, an init container and a sidecar), with
// the limit cache warm.
func benchFilterEnv(tb testing.TB, n int) (*Plugin, fwk.CycleState, *corev1.Pod, []fwk.NodeInfo) {
	tb.Helper()
	pl := newPlugin(tb, capsArgs(tb))
	alloc := rl("cpu", "32", "memory", "128Gi", "pods", "110")
	nodes := make([]fwk.NodeInfo, n)
	for i := range nodes {
		name := fmt.Sprintf("node-%05d", i)
		pods := []*corev1.Pod{
			onNode(limPod(name+"-a", "cpu", "4", "memory", "16Gi"), name),
			onNode(reqPod(name+"-b", "cpu", "2", "memory", "8Gi"), name),
			onNode(podWith("ns", name+"-c",
				[]corev1.Container{ctr("init", rl("cpu", "1", "memory", "1Gi"), rl("cpu", "1", "memory", "1Gi")), sidecar("proxy", rl("cpu", "100m", "memory", "128Mi"), nil)},
				ctr("app", rl("cpu", "1", "memory", "4Gi"), rl("cpu", "2", "memory", "4Gi"))), name),
		}
		nodes[i] = nodeInfo(name, alloc, pods...)
	}
	pod := limPod("incoming", "cpu", "2", "memory", "4Gi")
	state := framework.NewCycleState()
	if _, s := pl.PreFilter(context.Background(), state, pod, nodes); !s.IsSuccess() {
		tb.Fatalf("PreFilter: %v", s)
	}
	for _, ni := range nodes {
		if s := pl.Filter(context.Background(), state, pod, ni); !s.IsSuccess() {
			tb.Fatalf("Filter: %v", s)
		}
	}
	return pl, state, pod, nodes
}

func BenchmarkFilter(b *testing.B) {
	pl, state, pod, nodes := benchFilterEnv(b, benchNodes)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if s := pl.Filter(ctx, state, pod, nodes[i%len(nodes)]); s != nil {
			b.Fatal(s)
		}
		i++
	}
}

// BenchmarkFilterCold measures a node whose cache entry is stale (a new
// NodeInfo generation) but whose pods are the ones last seen on it: the sum
// is recomputed from their remembered limits.
func BenchmarkFilterCold(b *testing.B) {
	pl, state, pod, nodes := benchFilterEnv(b, 1)
	ni := nodes[0].(*framework.NodeInfo)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		ni.Generation++
		if s := pl.Filter(ctx, state, pod, ni); s != nil {
			b.Fatal(s)
		}
	}
}

func TestFilterDoesNotAllocate(t *testing.T) {
	pl, state, pod, nodes := benchFilterEnv(t, 100)
	ctx := context.Background()
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		if s := pl.Filter(ctx, state, pod, nodes[i%len(nodes)]); s != nil {
			t.Fatal(s)
		}
		i++
	})
	if allocs != 0 {
		t.Errorf("Filter on a warm cache: %v allocs per run, want 0", allocs)
	}
}

// BenchmarkFilterDerived measures Filter on a NodeInfo derived from the
// snapshot's, as in a preemption dry run: one of its three pods removed,
// a generation never cached, every pod's limits reused.
func BenchmarkFilterDerived(b *testing.B) {
	pl, state, pod, nodes := benchFilterEnv(b, 1)
	var pods []*corev1.Pod
	for _, pi := range nodes[0].GetPods() {
		pods = append(pods, pi.GetPod())
	}
	// The snapshot's NodeInfo of the node has a generation of its own.
	pl.handle = snapshotHandle{snapshot: schedcache.NewSnapshot(pods, []*corev1.Node{nodes[0].Node()})}
	derived := nodes[0].Snapshot()
	if err := derived.RemovePod(klog.Background(), derived.GetPods()[0].GetPod()); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if s := pl.Filter(ctx, state, pod, derived); s != nil {
			b.Fatal(s)
		}
	}
}
