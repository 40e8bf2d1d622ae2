package predictabledemands

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	schedcache "k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/utils/ptr"

	"github.com/snug-sched/snug/pkg/apis/config"
)

const (
	memCapReason = "node(s) would exceed the memory limit cap (1 x allocatable)"
	cpuCapReason = "node(s) would exceed the cpu limit cap (4 x allocatable)"
)

// limPod is a bound-or-incoming pod with one container with these limits
// (requests equal to limits, as API defaulting would set them).
func limPod(name string, kv ...string) *corev1.Pod {
	return podWith("ns", name, nil, ctr("app", rl(kv...), rl(kv...)))
}

// reqPod has one container with requests and no limits.
func reqPod(name string, kv ...string) *corev1.Pod {
	return podWith("ns", name, nil, ctr("app", rl(kv...), nil))
}

// capsArgs returns the default args with caps; none given means memory 1x
// and cpu 4x allocatable (caps are off by default).
func capsArgs(t testing.TB, caps ...config.ResourceRatio) *config.PredictableDemandsArgs {
	args := defaultArgs(t)
	if caps == nil {
		caps = []config.ResourceRatio{capOf(corev1.ResourceMemory, "1"), capOf(corev1.ResourceCPU, "4")}
	}
	args.OvercommitCaps.Caps = caps
	return args
}

func capOf(r corev1.ResourceName, ratio string) config.ResourceRatio {
	return config.ResourceRatio{Resource: r, Ratio: resource.MustParse(ratio)}
}

// filter runs PreFilter and Filter of pl directly.
func filter(t testing.TB, pl *Plugin, pod *corev1.Pod, ni fwk.NodeInfo) *fwk.Status {
	t.Helper()
	state := framework.NewCycleState()
	if _, s := pl.PreFilter(context.Background(), state, pod, nil); !s.IsSuccess() {
		t.Fatalf("PreFilter: %v", s)
	}
	return pl.Filter(context.Background(), state, pod, ni)
}

func TestFilterOvercommitCaps(t *testing.T) {
	alloc := rl("cpu", "4", "memory", "8Gi", "pods", "110", "nvidia.com/gpu", "4")
	tests := []struct {
		name     string
		caps     []config.ResourceRatio // nil: memory 1, cpu 4
		alloc    corev1.ResourceList
		existing []*corev1.Pod
		incoming *corev1.Pod
		want     string // "" fits, else the Unschedulable reason
		// unresolvable: the pod alone exceeds the cap on this node.
		unresolvable bool
	}{
		{name: "empty node, exactly the memory cap fits",
			incoming: limPod("in", "memory", "8Gi")},
		{name: "empty node, one byte over the memory cap",
			incoming: limPod("in", "memory", "8589934593"), want: memCapReason, unresolvable: true},
		{name: "sum with existing pods exactly at the cap fits",
			existing: []*corev1.Pod{limPod("a", "memory", "6Gi"), limPod("b", "memory", "1Gi")},
			incoming: limPod("in", "memory", "1Gi")},
		{name: "at the cap, any more memory is rejected",
			existing: []*corev1.Pod{limPod("a", "memory", "8Gi")},
			incoming: limPod("in", "memory", "1Mi"), want: memCapReason},
		{name: "cpu cap is 4x allocatable: 16 cpu fits",
			existing: []*corev1.Pod{limPod("a", "cpu", "10"), limPod("b", "cpu", "5")},
			incoming: limPod("in", "cpu", "1")},
		{name: "cpu cap is 4x allocatable: 16001m rejected",
			existing: []*corev1.Pod{limPod("a", "cpu", "10"), limPod("b", "cpu", "5")},
			incoming: limPod("in", "cpu", "1001m"), want: cpuCapReason},
		{name: "memory checked before cpu",
			existing: []*corev1.Pod{limPod("a", "cpu", "16", "memory", "8Gi")},
			incoming: limPod("in", "cpu", "1", "memory", "1"), want: memCapReason},
		{name: "a cap the pod adds nothing to is not checked",
			existing: []*corev1.Pod{limPod("a", "memory", "9Gi")},
			incoming: limPod("in", "cpu", "1")},
		{name: "existing pod without limits counts its requests",
			existing: []*corev1.Pod{reqPod("a", "memory", "7Gi")},
			incoming: limPod("in", "memory", "1025Mi"), want: memCapReason},
		{name: "incoming pod without limits counts its requests",
			existing: []*corev1.Pod{limPod("a", "memory", "7Gi")},
			incoming: reqPod("in", "memory", "1Gi")},
		{name: "best-effort existing pods count 0",
			existing: []*corev1.Pod{podWith("ns", "be1", nil, ctr("app", nil, nil)), podWith("ns", "be2", nil, ctr("app", nil, nil))},
			incoming: limPod("in", "memory", "8Gi")},
		{name: "existing pod's init container limit exceeds its app sum",
			existing: []*corev1.Pod{podWith("ns", "a", []corev1.Container{ctr("init", rl("memory", "6Gi"), rl("memory", "6Gi"))},
				ctr("app", rl("memory", "1Gi"), rl("memory", "1Gi")))},
			incoming: limPod("in", "memory", "2049Mi"), want: memCapReason},
		{name: "existing pod's init container limit: exactly at the cap fits",
			existing: []*corev1.Pod{podWith("ns", "a", []corev1.Container{ctr("init", rl("memory", "6Gi"), rl("memory", "6Gi"))},
				ctr("app", rl("memory", "1Gi"), rl("memory", "1Gi")))},
			incoming: limPod("in", "memory", "2Gi", "cpu", "1")},
		{name: "existing pod's sidecar without a limit counts its request",
			existing: []*corev1.Pod{podWith("ns", "a", []corev1.Container{sidecar("proxy", rl("memory", "2Gi"), nil)},
				ctr("app", rl("memory", "5Gi"), rl("memory", "5Gi")))},
			incoming: limPod("in", "memory", "1025Mi"), want: memCapReason},
		{name: "incoming pod's sidecar counts",
			existing: []*corev1.Pod{limPod("a", "memory", "5121Mi")},
			incoming: podWith("ns", "in", []corev1.Container{sidecar("proxy", rl("memory", "1Gi"), rl("memory", "2Gi"))},
				ctr("app", rl("memory", "1Gi"), rl("memory", "1Gi"))),
			want: memCapReason},
		{name: "incoming pod's overhead counts",
			existing: []*corev1.Pod{limPod("a", "memory", "7Gi")},
			incoming: func() *corev1.Pod {
				p := limPod("in", "memory", "1Gi")
				p.Spec.Overhead = rl("memory", "1Mi")
				return p
			}(),
			want: memCapReason},
		{name: "extended resource cap: at the cap fits",
			caps:     []config.ResourceRatio{capOf(gpu, "1")},
			existing: []*corev1.Pod{limPod("a", "nvidia.com/gpu", "3")},
			incoming: limPod("in", "nvidia.com/gpu", "1")},
		{name: "extended resource cap: over the cap",
			caps:     []config.ResourceRatio{capOf(gpu, "1")},
			existing: []*corev1.Pod{limPod("a", "nvidia.com/gpu", "3")},
			incoming: limPod("in", "nvidia.com/gpu", "2"),
			want:     "node(s) would exceed the nvidia.com/gpu limit cap (1 x allocatable)"},
		{name: "extended resource cap on a node without the resource",
			caps:     []config.ResourceRatio{capOf(gpu, "1")},
			alloc:    rl("cpu", "4", "memory", "8Gi"),
			incoming: limPod("in", "nvidia.com/gpu", "1"),
			want:     "node(s) would exceed the nvidia.com/gpu limit cap (1 x allocatable)", unresolvable: true},
		{name: "pods cap counts nothing for a pod (pods is not a limit)",
			caps:     []config.ResourceRatio{capOf(corev1.ResourcePods, "1"), capOf(corev1.ResourceMemory, "1")},
			existing: []*corev1.Pod{limPod("a", "memory", "1Gi")},
			incoming: limPod("in", "memory", "1Gi")},
		{name: "fractional cap exactly reached fits (no float rounding)",
			caps:     []config.ResourceRatio{capOf(corev1.ResourceCPU, "1.16")},
			alloc:    rl("cpu", "100m", "memory", "1Gi"),
			existing: []*corev1.Pod{limPod("a", "cpu", "16m")},
			incoming: limPod("in", "cpu", "100m")},
		{name: "fractional cap exceeded by 1m",
			caps:     []config.ResourceRatio{capOf(corev1.ResourceCPU, "1.16")},
			alloc:    rl("cpu", "100m", "memory", "1Gi"),
			existing: []*corev1.Pod{limPod("a", "cpu", "17m")},
			incoming: limPod("in", "cpu", "100m"),
			want:     "node(s) would exceed the cpu limit cap (1160m x allocatable)"},
		{name: "cap below 1",
			caps:     []config.ResourceRatio{capOf(corev1.ResourceMemory, "0.5")},
			incoming: limPod("in", "memory", "4Gi")},
		{name: "cap below 1 exceeded",
			caps:     []config.ResourceRatio{capOf(corev1.ResourceMemory, "0.5")},
			incoming: limPod("in", "memory", "4097Mi"),
			want:     "node(s) would exceed the memory limit cap (500m x allocatable)", unresolvable: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pl := newPlugin(t, capsArgs(t, tc.caps...))
			a := alloc
			if tc.alloc != nil {
				a = tc.alloc
			}
			var bound []*corev1.Pod
			for _, p := range tc.existing {
				bound = append(bound, onNode(p, "n1"))
			}
			s := filter(t, pl, tc.incoming, nodeInfo("n1", a, bound...))
			if tc.want == "" {
				if !s.IsSuccess() {
					t.Errorf("Filter = %v, want success", s)
				}
				return
			}
			code := fwk.Unschedulable
			if tc.unresolvable {
				code = fwk.UnschedulableAndUnresolvable
			}
			if s.Code() != code || s.Message() != tc.want {
				t.Errorf("Filter = %v %q, want %v %q", s.Code(), s.Message(), code, tc.want)
			}
		})
	}
}

func TestPreFilterSkipsPodsAddingNothing(t *testing.T) {
	pl := newPlugin(t, capsArgs(t))
	tests := []struct {
		name string
		pod  *corev1.Pod
		skip bool
		want [maxCaps]int64 // memory, cpu
	}{
		{name: "best effort", pod: podWith("ns", "p", nil, ctr("app", nil, nil)), skip: true},
		{name: "only uncapped resources", pod: limPod("p", "ephemeral-storage", "1Gi"), skip: true},
		{name: "zero requests", pod: reqPod("p", "cpu", "0", "memory", "0"), skip: true},
		{name: "cpu request only", pod: reqPod("p", "cpu", "250m"), want: [maxCaps]int64{0, 250}},
		{name: "limits", pod: limPod("p", "cpu", "2", "memory", "1Gi"), want: [maxCaps]int64{1 << 30, 2000}},
		{name: "init container only", pod: podWith("ns", "p", []corev1.Container{ctr("i", rl("memory", "1Mi"), nil)}, ctr("app", nil, nil)),
			want: [maxCaps]int64{1 << 20, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			state := framework.NewCycleState()
			_, s := pl.PreFilter(context.Background(), state, tc.pod, nil)
			if tc.skip {
				if !s.IsSkip() {
					t.Errorf("PreFilter = %v, want Skip", s)
				}
				return
			}
			if !s.IsSuccess() {
				t.Fatalf("PreFilter = %v, want success", s)
			}
			d, err := state.Read(stateKey)
			if err != nil {
				t.Fatal(err)
			}
			if got := d.(*preFilterState).pod; got != tc.want {
				t.Errorf("state = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFilterWithoutPreFilterState(t *testing.T) {
	pl := newPlugin(t, capsArgs(t))
	s := pl.Filter(context.Background(), framework.NewCycleState(), limPod("p", "cpu", "1"), nodeInfo("n1", rl("cpu", "4")))
	if s.Code() != fwk.Error || !strings.Contains(s.Message(), `reading "PredictableDemands/prefilter" from cycle state`) {
		t.Errorf("Filter = %v, want an Error about the missing cycle state", s)
	}
}

func TestNodeSumCacheFollowsGeneration(t *testing.T) {
	pl := newPlugin(t, capsArgs(t))
	alloc := rl("cpu", "4", "memory", "8Gi")
	a := onNode(limPod("a", "memory", "4Gi", "cpu", "1"), "n1")
	b := onNode(reqPod("b", "memory", "2Gi", "cpu", "500m"), "n1")
	ni := nodeInfo("n1", alloc, a)

	first := pl.nodeSum(ni)
	if first[0] != 4<<30 || first[1] != 1000 {
		t.Fatalf("sum = %v, want [4Gi 1000m]", first[:2])
	}
	if !pl.limits.cached(ni.GetGeneration()) {
		t.Error("the sum of the node's generation was not cached")
	}
	incoming := limPod("in", "memory", "3Gi")
	if s := filter(t, pl, incoming, ni); !s.IsSuccess() {
		t.Fatalf("Filter with 4Gi+3Gi of 8Gi = %v, want success", s)
	}

	// A pod added to the node: new generation, sum recomputed.
	gen := ni.GetGeneration()
	ni.AddPod(b)
	if ni.GetGeneration() == gen {
		t.Fatal("AddPod did not change the generation")
	}
	if got := pl.nodeSum(ni); got[0] != 6<<30 || got[1] != 1500 {
		t.Errorf("sum after AddPod = %v, want [6Gi 1500m]", got[:2])
	}
	if s := filter(t, pl, incoming, ni); s.Code() != fwk.Unschedulable || s.Message() != memCapReason {
		t.Errorf("Filter after AddPod = %v, want Unschedulable %q", s, memCapReason)
	}

	// A preemption dry run: a clone with a pod removed fits, the original
	// NodeInfo still does not.
	clone := ni.Snapshot().(*framework.NodeInfo)
	if clone.GetGeneration() != ni.GetGeneration() {
		t.Fatal("a clone should start at the same generation")
	}
	if err := clone.RemovePod(klog.Background(), a); err != nil {
		t.Fatal(err)
	}
	if got := pl.nodeSum(clone); got[0] != 2<<30 || got[1] != 500 {
		t.Errorf("sum of the clone = %v, want [2Gi 500m]", got[:2])
	}
	if s := filter(t, pl, incoming, clone); !s.IsSuccess() {
		t.Errorf("Filter on the clone without a = %v, want success", s)
	}
	if s := filter(t, pl, incoming, ni); s.Code() != fwk.Unschedulable {
		t.Errorf("Filter on the original after the dry run = %v, want Unschedulable", s)
	}
	if got := pl.nodeSum(ni); got[0] != 6<<30 {
		t.Errorf("sum of the original after the dry run = %v, want 6Gi", got[:2])
	}

	// Removing the pod for real.
	if err := ni.RemovePod(klog.Background(), b); err != nil {
		t.Fatal(err)
	}
	if got := pl.nodeSum(ni); got[0] != 4<<30 || got[1] != 1000 {
		t.Errorf("sum after RemovePod = %v, want [4Gi 1000m]", got[:2])
	}
}

// Through a real framework: the status names the plugin and the cap.
func TestFilterThroughFramework(t *testing.T) {
	e := newEnv(t, capsArgs(t))
	ni := nodeInfo("n1", rl("cpu", "2", "memory", "4Gi"), onNode(limPod("a", "memory", "3Gi"), "n1"))
	for _, tc := range []struct {
		pod  *corev1.Pod
		want fwk.Code
	}{
		{limPod("fits", "memory", "1Gi"), fwk.Success},
		{limPod("over", "memory", "1025Mi"), fwk.Unschedulable},
		{limPod("cpu-fits", "cpu", "8"), fwk.Success},
		// Alone over 4 x 2 cpu: nothing on the node is in the way.
		{limPod("cpu-over", "cpu", "8001m"), fwk.UnschedulableAndUnresolvable},
	} {
		state := framework.NewCycleState()
		if _, s, _ := e.fw.RunPreFilterPlugins(e.ctx, state, tc.pod); !s.IsSuccess() {
			t.Fatalf("%s: PreFilter = %v", tc.pod.Name, s)
		}
		s := e.fw.RunFilterPlugins(e.ctx, state, tc.pod, ni)
		if s.Code() != tc.want {
			t.Errorf("%s: Filter = %v, want %v", tc.pod.Name, s, tc.want)
		}
		if !s.IsSuccess() && s.Plugin() != Name {
			t.Errorf("%s: plugin = %q, want %q", tc.pod.Name, s.Plugin(), Name)
		}
	}
}

func TestExactRatio(t *testing.T) {
	tests := []struct {
		ratio string
		x, y  int64
		want  bool
	}{
		{"1", 10, 10, false},
		{"1", 11, 10, true},
		{"4", 16000, 4000, false},
		{"4", 16001, 4000, true},
		{"1.16", 116, 100, false},
		{"1.16", 117, 100, true},
		{"1160m", 116, 100, false},
		{"0.5", 1, 2, false},
		{"0.5", 2, 3, true},
		{"2e3", 2000, 1, false},
		{"2e3", 2001, 1, true},
		{"1", 1 << 62, 1 << 62, false},    // 128-bit products
		{"1.5", 3 << 60, 1 << 61, false},  // x*den and num*y overflow int64
		{"1.5", 3<<60 + 1, 1 << 61, true}, // ...and still compare exactly
		{"1", 1, 0, true},                 // nothing allocatable
		{"1", 0, 0, false},                // nothing asked
	}
	for _, tc := range tests {
		r := newExactRatio(resource.MustParse(tc.ratio))
		if r.den == 0 {
			t.Errorf("ratio %s fell back to float", tc.ratio)
		}
		if got := r.exceeds(tc.x, tc.y); got != tc.want {
			t.Errorf("%d > %s*%d = %v, want %v", tc.x, tc.ratio, tc.y, got, tc.want)
		}
	}
}

// Two NodeInfos whose generations share a slot evict each other but never
// read each other's sum; a NodeInfo at generation 0 is computed every time.
func TestNodeSumCacheCollisions(t *testing.T) {
	pl := newPlugin(t, capsArgs(t))
	alloc := rl("cpu", "4", "memory", "8Gi")
	a := nodeInfo("a", alloc, onNode(limPod("a", "memory", "1Gi"), "a"))
	b := nodeInfo("b", alloc, onNode(limPod("b", "memory", "2Gi"), "b"))
	a.Generation = 5
	b.Generation = 5 + 1<<limitCacheBits
	for range 3 {
		if got := pl.nodeSum(a)[0]; got != 1<<30 {
			t.Fatalf("sum of a = %d, want 1Gi", got)
		}
		if got := pl.nodeSum(b)[0]; got != 2<<30 {
			t.Fatalf("sum of b = %d, want 2Gi", got)
		}
	}
	zero := nodeInfo("z", alloc, onNode(limPod("z", "memory", "3Gi"), "z"))
	zero.Generation = 0
	if got := pl.nodeSum(zero)[0]; got != 3<<30 {
		t.Fatalf("sum at generation 0 = %d, want 3Gi", got)
	}
	zero.Pods = nil // changed without a new generation: only safe because 0 is never cached
	if got := pl.nodeSum(zero)[0]; got != 0 {
		t.Errorf("sum at generation 0 after emptying = %d, want 0", got)
	}
}

// snapshotHandle is a framework handle that only serves a snapshot.
type snapshotHandle struct {
	fwk.Handle
	snapshot *schedcache.Snapshot
}

func (h snapshotHandle) SnapshotSharedLister() fwk.SharedLister { return h.snapshot }

// Preemption dry runs and nominated pods filter NodeInfos derived from the
// snapshot's: their sums are right, reuse the limits of the snapshot's
// pods instead of recomputing them, and are not cached (their generations
// never come back, and caching them evicted the snapshot's nodes).
func TestNodeSumDerivedNodeInfos(t *testing.T) {
	pl := newPlugin(t, capsArgs(t))
	alloc := rl("cpu", "4", "memory", "8Gi")
	a := onNode(limPod("a", "memory", "4Gi", "cpu", "1"), "n1")
	b := onNode(reqPod("b", "memory", "2Gi", "cpu", "500m"), "n1")
	snapshot := schedcache.NewSnapshot([]*corev1.Pod{a, b},
		[]*corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{Allocatable: alloc, Capacity: alloc}}})
	pl.handle = snapshotHandle{snapshot: snapshot}
	ni, err := snapshot.NodeInfos().Get("n1")
	if err != nil {
		t.Fatal(err)
	}
	if got := pl.nodeSum(ni); got[0] != 6<<30 || got[1] != 1500 {
		t.Fatalf("snapshot sum = %v, want [6Gi 1500m]", got[:2])
	}
	if !pl.limits.cached(ni.GetGeneration()) {
		t.Fatal("the snapshot's NodeInfo was not cached")
	}

	dryRun := ni.Snapshot()
	if err := dryRun.RemovePod(klog.Background(), a); err != nil {
		t.Fatal(err)
	}
	nominated := ni.Snapshot().(*framework.NodeInfo)
	nominated.AddPod(limPod("nominated", "memory", "1Gi", "cpu", "250m"))
	tests := []struct {
		name    string
		ni      fwk.NodeInfo
		wantMem int64
		wantCPU int64
		// allocs is what a Filter on it may allocate: nothing when every
		// pod is one of the snapshot's.
		allocs float64
	}{
		{"dry run without a", dryRun, 2 << 30, 500, 0},
		{"nominated pod added", nominated, 7 << 30, 1750, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pl.nodeSum(tt.ni); got[0] != tt.wantMem || got[1] != tt.wantCPU {
				t.Errorf("sum = %v, want [%d %d]", got[:2], tt.wantMem, tt.wantCPU)
			}
			if pl.limits.cached(tt.ni.GetGeneration()) {
				t.Error("a derived NodeInfo was cached")
			}
			if tt.allocs >= 0 {
				if got := testing.AllocsPerRun(100, func() { pl.nodeSum(tt.ni) }); got != tt.allocs {
					t.Errorf("nodeSum allocates %v times, want %v", got, tt.allocs)
				}
			}
		})
	}
	if got := pl.nodeSum(ni); got[0] != 6<<30 {
		t.Errorf("snapshot sum after the derived ones = %v, want 6Gi", got[:2])
	}
}

// A node of a cluster snug is adopted into: pods of other schedulers and a
// DaemonSet already hold memory limits of 1.5 x allocatable (a container
// without a limit counts its request), as is common. The default args must
// not refuse a small snug pod there: the caps are opt-in.
func TestDefaultsAdmitPodOnOvercommittedNode(t *testing.T) {
	daemon := limPod("node-agent", "cpu", "100m", "memory", "2Gi")
	daemon.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "node-agent", UID: "ds", Controller: ptr.To(true)}}
	web := podWith("ns", "web", nil, ctr("app", rl("cpu", "1", "memory", "4Gi"), rl("cpu", "2", "memory", "14Gi")))
	batch := reqPod("batch", "cpu", "1", "memory", "8Gi") // no limit: counts its 8Gi request
	// 2 + 14 + 8 = 24Gi of limits on 16Gi: 1.5 x allocatable.
	ni := nodeInfo("n1", rl("cpu", "8", "memory", "16Gi", "pods", "110"),
		onNode(daemon, "n1"), onNode(web, "n1"), onNode(batch, "n1"))
	e := newEnv(t, defaultArgs(t))
	small := limPod("small", "cpu", "100m", "memory", "128Mi")
	state := framework.NewCycleState()
	_, s, _ := e.fw.RunPreFilterPlugins(e.ctx, state, small)
	if s.IsSuccess() {
		s = e.fw.RunFilterPlugins(e.ctx, state, small, ni)
	}
	if !s.IsSuccess() {
		t.Errorf("a 128Mi pod on a node whose pods' memory limits are 1.5 x allocatable: %v, want it admitted with the default args", s)
	}
}
