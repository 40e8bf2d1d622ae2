package strandingawarepacking

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	fwk "k8s.io/kube-scheduler/framework"
	schedulerconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	schedcache "k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/defaultbinder"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/queuesort"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	"k8s.io/kubernetes/pkg/scheduler/metrics"
	st "k8s.io/kubernetes/pkg/scheduler/testing"

	"github.com/snug-sched/snug/internal/plugintest"
	"github.com/snug-sched/snug/pkg/apis/config"
	_ "github.com/snug-sched/snug/pkg/apis/config/scheme"
	configv1 "github.com/snug-sched/snug/pkg/apis/config/v1"
)

const (
	gpu     corev1.ResourceName = "nvidia.com/gpu"
	zoneKey                     = corev1.LabelTopologyZone
)

func TestMain(m *testing.M) {
	metrics.Register() // the framework records plugin metrics
	os.Exit(m.Run())
}

// defaultArgs returns internal args with the v1 defaults applied, as the
// scheduler builds them from an empty pluginConfig entry.
func defaultArgs(t testing.TB) *config.StrandingAwarePackingArgs {
	t.Helper()
	return plugintest.Defaulted[config.StrandingAwarePackingArgs](t, &configv1.StrandingAwarePackingArgs{})
}

// env is a real framework with this plugin at PreScore and Score over a
// snapshot of nodes and bound pods.
type env struct {
	ctx      context.Context
	fw       framework.Framework
	pl       *Plugin
	snapshot *schedcache.Snapshot
}

type envOptions struct {
	// informerObjs, when non-nil, gives the framework an informer factory
	// over a fake clientset holding these objects.
	informerObjs []runtime.Object
}

func newEnv(t testing.TB, args *config.StrandingAwarePackingArgs, nodes []*corev1.Node, pods []*corev1.Pod, opts envOptions) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var created *Plugin
	registry := frameworkruntime.Registry{
		queuesort.Name:     queuesort.New,
		defaultbinder.Name: defaultbinder.New,
		Name:               plugintest.Capturing(New, &created),
	}
	profile := &schedulerconfig.KubeSchedulerProfile{
		SchedulerName: "snug-test",
		Plugins: &schedulerconfig.Plugins{
			QueueSort: schedulerconfig.PluginSet{Enabled: []schedulerconfig.Plugin{{Name: queuesort.Name}}},
			Bind:      schedulerconfig.PluginSet{Enabled: []schedulerconfig.Plugin{{Name: defaultbinder.Name}}},
			PreScore:  schedulerconfig.PluginSet{Enabled: []schedulerconfig.Plugin{{Name: Name}}},
			Score:     schedulerconfig.PluginSet{Enabled: []schedulerconfig.Plugin{{Name: Name, Weight: 1}}},
		},
		PluginConfig: []schedulerconfig.PluginConfig{{Name: Name, Args: args}},
	}
	snapshot := schedcache.NewSnapshot(pods, nodes)
	var factory informers.SharedInformerFactory
	if opts.informerObjs != nil {
		factory = informers.NewSharedInformerFactory(fake.NewClientset(opts.informerObjs...), 0)
	}
	fw := plugintest.NewFramework(t, ctx, cancel, registry, profile, factory, frameworkruntime.WithSnapshotSharedLister(snapshot))
	if created == nil {
		t.Fatal("plugin was not created")
	}
	if factory != nil {
		factory.Start(ctx.Done())
		for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
			if !ok {
				t.Fatalf("informer for %v did not sync", typ)
			}
		}
	}
	return &env{ctx: ctx, fw: fw, pl: created, snapshot: snapshot}
}

// nodeInfos returns the snapshot's NodeInfos of the named nodes (all when
// names is empty), in the order given.
func (e *env) nodeInfos(t testing.TB, names ...string) []fwk.NodeInfo {
	t.Helper()
	if len(names) == 0 {
		all, err := e.snapshot.NodeInfos().List()
		if err != nil {
			t.Fatal(err)
		}
		return all
	}
	out := make([]fwk.NodeInfo, 0, len(names))
	for _, n := range names {
		ni, err := e.snapshot.NodeInfos().Get(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ni)
	}
	return out
}

// score runs PreScore, Score and NormalizeScore through the framework over
// the feasible nodes (all nodes when none are named) and returns the final
// node scores.
func (e *env) score(t testing.TB, pod *corev1.Pod, feasible ...string) map[string]int64 {
	t.Helper()
	nodes := e.nodeInfos(t, feasible...)
	state := framework.NewCycleState()
	if s := e.fw.RunPreScorePlugins(e.ctx, state, pod, nodes); !s.IsSuccess() {
		t.Fatalf("PreScore: %v", s)
	}
	res, s := e.fw.RunScorePlugins(e.ctx, state, pod, nodes)
	if !s.IsSuccess() {
		t.Fatalf("Score: %v", s)
	}
	out := map[string]int64{}
	for _, r := range res {
		out[r.Name] = r.TotalScore
	}
	return out
}

// observe feeds the learner what the pod informer would have shown it.
func (e *env) observe(pods ...*corev1.Pod) {
	for _, p := range pods {
		e.pl.Shapes().Observe(p, 1)
	}
}

func makeNode(name string, res map[corev1.ResourceName]string, labels ...string) *corev1.Node {
	if _, ok := res[corev1.ResourcePods]; !ok {
		res[corev1.ResourcePods] = "110"
	}
	w := st.MakeNode().Name(name).Capacity(res)
	for i := 0; i+1 < len(labels); i += 2 {
		w.Label(labels[i], labels[i+1])
	}
	return w.Obj()
}

func makePod(name, node string, req map[corev1.ResourceName]string, labels ...string) *corev1.Pod {
	w := st.MakePod().Namespace("default").Name(name).UID(name).Node(node).Req(req)
	for i := 0; i+1 < len(labels); i += 2 {
		w.Label(labels[i], labels[i+1])
	}
	return w.Obj()
}

func res(cpu, mem string) map[corev1.ResourceName]string {
	return map[corev1.ResourceName]string{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem}
}

func resGPU(cpu, mem, gpus string) map[corev1.ResourceName]string {
	r := res(cpu, mem)
	r[gpu] = gpus
	return r
}

func TestDefaultArgs(t *testing.T) {
	a := defaultArgs(t)
	if a.PackingWeight != 1 || a.StrandingWeight != 16 || a.StrandedLevelWeight != 4 || a.ExtendedResourceWeight != 1 ||
		!a.ScarceResources.ExtendedResources || a.ScarceResources.FragmentationWeight != 50 || a.Shapes.Mode != config.ShapeSourceLearned ||
		a.Shapes.MaxLearned != 64 || a.HostScarcityWeight != 16 || a.ScarceBundleWeight != 16 || len(a.Resources) != 4 || len(a.DefaultConstraints) != 1 {
		t.Fatalf("unexpected defaults: %+v", a)
	}
}

func TestNewRejectsBadArgs(t *testing.T) {
	if _, err := New(context.Background(), nil, nil); err == nil {
		t.Error("New(nil args) succeeded")
	}
	a := defaultArgs(t)
	a.PackingWeight, a.StrandingWeight, a.StrandedLevelWeight = 0, 0, 0
	if _, err := New(context.Background(), a, nil); err == nil {
		t.Error("New with all weights 0 succeeded")
	}
}

// (a) Packing: with balanced shapes nothing strands and the fuller node wins.
func TestScorePacksOntoFullerNode(t *testing.T) {
	nodes := []*corev1.Node{
		makeNode("n1", res("4", "8Gi")),
		makeNode("n2", res("4", "8Gi")),
		makeNode("n3", res("4", "8Gi")),
	}
	pods := []*corev1.Pod{
		makePod("p1", "n1", res("1", "2Gi")),
		makePod("p2", "n1", res("1", "2Gi")),
		makePod("p3", "n2", res("1", "2Gi")),
	}
	e := newEnv(t, defaultArgs(t), nodes, pods, envOptions{})
	incoming := makePod("new", "", res("1", "2Gi"))
	e.observe(append(pods, incoming)...)
	got := e.score(t, incoming)
	// Shape (1 cpu, 2Gi) tiles every free vector before and after: dF = 0,
	// L = 0, R = (P + 16/2 + 4)/21 with P over cpu, memory and pods
	// (ephemeral-storage: allocatable 0, skipped).
	// n1: P = (3/4 + 6/8 + 3/110)/3 = 0.509091
	// n2: P = (2/4 + 4/8 + 2/110)/3 = 0.339394
	// n3: P = (1/4 + 2/8 + 1/110)/3 = 0.169697
	// R spans 0.339/21 = 0.016, less than minRSpan (0.1): n1 100, the
	// others 100 - 80 x dR / 0.1: n2 94, n3 87.
	want := map[string]int64{"n1": 100, "n2": 94, "n3": 87}
	if !maps.Equal(got, want) {
		t.Errorf("scores = %v, want %v", got, want)
	}
}

// Pod slots are a resource too: a small pod that takes a node's last slot
// strands the CPU and memory a frequent bigger shape would have used there,
// and leaves them stranded for good.
func TestScoreLastPodSlotStrands(t *testing.T) {
	slots := func(name string) *corev1.Node {
		return makeNode(name, map[corev1.ResourceName]string{corev1.ResourceCPU: "4", corev1.ResourceMemory: "8Gi", corev1.ResourcePods: "4"})
	}
	nodes := []*corev1.Node{slots("n1"), slots("n2")}
	pods := []*corev1.Pod{ // best-effort: they take slots, nothing else
		makePod("be0", "n1", nil), makePod("be1", "n1", nil), makePod("be2", "n1", nil),
	}
	big := func(name string) *corev1.Pod { return makePod(name, "", res("3", "6Gi")) }
	incoming := makePod("new", "", res("1", "2Gi"))

	// Shapes: big (3, 6Gi) x 3 and small (1, 2Gi) x 1; rho 3/4 and 1/4.
	// n1 before (4, 8Gi, 1 slot): big 1, small 1 -> reach (2.5, 5Gi), F (1.5, 3Gi)
	//    after  (3, 6Gi, 0 slots): nothing fits -> F (3, 6Gi): dF = (1.5/4 + 3/8)/2 = 0.375
	// n2 before (4, 8Gi, 4 slots): big 1, small 4 -> reach (3.25, 6.5Gi), F (0.75, 1.5Gi)
	//    after  (3, 6Gi, 3 slots): big 1, small 3 -> reach (3, 6Gi), F 0: dF = -0.1875
	e := newEnv(t, defaultArgs(t), nodes, pods, envOptions{})
	e.observe(big("b0"), big("b1"), big("b2"), incoming)
	if got, want := e.score(t, incoming), map[string]int64{"n1": 20, "n2": 100}; !maps.Equal(got, want) {
		t.Errorf("with a bigger frequent shape: scores = %v, want %v", got, want)
	}

	// Only the small shape: n1's slot lets one more small pod in before and
	// none after, so the change of expected fragmentation is 0 on both
	// nodes, but n1 is left with (3, 6Gi) stranded for good: the stranded
	// level term keeps the pod on n2, and packing (n1 is fuller) loses.
	e = newEnv(t, defaultArgs(t), nodes, pods, envOptions{})
	e.observe(incoming)
	if got, want := e.score(t, incoming), map[string]int64{"n1": 20, "n2": 100}; !maps.Equal(got, want) {
		t.Errorf("small shape only: scores = %v, want %v", got, want)
	}
}

// (b) A CPU-only pod keeps off GPU nodes while CPU nodes are feasible.
func TestScoreKeepsCPUPodsOffGPUNodes(t *testing.T) {
	nodes := []*corev1.Node{
		makeNode("cpu-a", res("8", "32Gi")),
		makeNode("cpu-b", res("8", "32Gi")),
		makeNode("gpu-free", resGPU("8", "32Gi", "4")),
		makeNode("gpu-full", resGPU("8", "32Gi", "4")),
	}
	pods := []*corev1.Pod{
		makePod("a1", "cpu-a", res("1", "4Gi")),
		// gpu-free is the fullest node, but one GPU is still free.
		makePod("g1", "gpu-free", resGPU("5", "16Gi", "3")),
		// gpu-full has all its GPUs allocated: no longer scarce.
		makePod("g2", "gpu-full", resGPU("4", "16Gi", "4")),
	}
	e := newEnv(t, defaultArgs(t), nodes, pods, envOptions{})
	cpuPod := makePod("cpu", "", res("1", "4Gi"))
	e.observe(append(pods, cpuPod)...)

	got := e.score(t, cpuPod)
	for _, n := range []string{"cpu-a", "cpu-b", "gpu-full"} {
		if got[n] < 20 {
			t.Errorf("%s: score %d, want >= 20 (best tier)", n, got[n])
		}
		if got[n] <= got["gpu-free"] {
			t.Errorf("%s: score %d must beat gpu-free %d", n, got[n], got["gpu-free"])
		}
	}
	if got["gpu-free"] < 1 || got["gpu-free"] > 19 {
		t.Errorf("gpu-free: score %d, want in [1, 19] (second tier)", got["gpu-free"])
	}
	// Within the best tier packing decides: gpu-full (5/8 cpu after) > cpu-a > cpu-b.
	if !(got["gpu-full"] > got["cpu-a"] && got["cpu-a"] > got["cpu-b"]) {
		t.Errorf("best tier not ordered by packing: %v", got)
	}

	// Only GPU nodes feasible: the scarce tier is everyone's, packing decides.
	got = e.score(t, cpuPod, "gpu-free")
	if got["gpu-free"] < 20 {
		t.Errorf("sole feasible node scored %d, want >= 20", got["gpu-free"])
	}

	// A GPU pod requests the scarce resource: no penalty, it packs the fuller GPU node.
	nodes = append(nodes, makeNode("gpu-empty", resGPU("8", "32Gi", "4")))
	e = newEnv(t, defaultArgs(t), nodes, pods, envOptions{})
	gpuPod := makePod("gpu", "", resGPU("1", "4Gi", "1"))
	e.observe(append(pods, gpuPod)...)
	got = e.score(t, gpuPod, "gpu-free", "gpu-empty")
	if !(got["gpu-free"] > got["gpu-empty"] && got["gpu-empty"] >= 20) {
		t.Errorf("gpu pod: %v, want gpu-free > gpu-empty >= 20", got)
	}
}

// (c) Soft zone spreading decides the zone; packing decides the node in it.
func TestScoreSpreadsZonesThenPacks(t *testing.T) {
	nodes := []*corev1.Node{
		makeNode("a1", res("8", "32Gi"), zoneKey, "zone-a"),
		makeNode("a2", res("8", "32Gi"), zoneKey, "zone-a"),
		makeNode("b1", res("8", "32Gi"), zoneKey, "zone-b"),
		makeNode("b2", res("8", "32Gi"), zoneKey, "zone-b"),
		makeNode("nozone", res("8", "32Gi")),
	}
	pods := []*corev1.Pod{
		makePod("web-0", "a1", res("1", "4Gi"), "app", "web"),
		// Same shape as web: every free vector tiles, so fragmentation is
		// flat and packing decides inside a zone.
		makePod("other-0", "a1", res("1", "4Gi"), "app", "other"),
		makePod("other-1", "a1", res("1", "4Gi"), "app", "other"),
		makePod("other-2", "b1", res("1", "4Gi"), "app", "other"),
		makePod("other-3", "b1", res("1", "4Gi"), "app", "other"),
		// Same labels, other namespace: must not count.
		st.MakePod().Namespace("elsewhere").Name("web-x").UID("web-x").Node("b2").Req(res("1", "4Gi")).Label("app", "web").Obj(),
	}
	sel := st.MakeLabelSelector().Label("app", "web").Obj()
	incoming := st.MakePod().Namespace("default").Name("web-1").UID("web-1").Label("app", "web").
		Req(res("1", "4Gi")).SpreadConstraint(1, zoneKey, corev1.ScheduleAnyway, sel, nil, nil, nil, nil).Obj()

	e := newEnv(t, defaultArgs(t), nodes, pods, envOptions{})
	e.observe(append(pods, incoming)...)
	got := e.score(t, incoming)
	// zone-a holds 1 matching pod, zone-b 0: violation 1 in zone-a (and on
	// the node without a zone label), 0 in zone-b.
	if !(got["b1"] > got["b2"]) {
		t.Errorf("zone-b: fuller b1 (%d) should beat b2 (%d)", got["b1"], got["b2"])
	}
	for _, n := range []string{"a1", "a2", "nozone"} {
		if got[n] >= got["b2"] || got[n] > 19 {
			t.Errorf("%s: score %d must be in the second tier, below zone-b's %d", n, got[n], got["b2"])
		}
	}
	if !(got["a1"] > got["a2"]) {
		t.Errorf("zone-a: fuller a1 (%d) should beat a2 (%d)", got["a1"], got["a2"])
	}

	// The same constraint as DoNotSchedule belongs to the in-tree filter:
	// this plugin ignores it and packs, so the fullest node a1 wins.
	hard := incoming.DeepCopy()
	hard.Spec.TopologySpreadConstraints[0].WhenUnsatisfiable = corev1.DoNotSchedule
	got = e.score(t, hard)
	for _, n := range []string{"a2", "b1", "b2", "nozone"} {
		if got["a1"] <= got[n] {
			t.Errorf("hard constraint: a1 (%d) should beat %s (%d)", got["a1"], n, got[n])
		}
	}
}

// Default constraints apply to a pod without its own, with the selector of
// its owning ReplicaSet, read through the informer factory.
func TestScoreDefaultConstraints(t *testing.T) {
	nodes := []*corev1.Node{
		makeNode("a1", res("8", "32Gi"), zoneKey, "zone-a"),
		makeNode("b1", res("8", "32Gi"), zoneKey, "zone-b"),
	}
	owner := []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: "rs-web", Controller: ptrTo(true)}}
	web0 := makePod("web-0", "a1", res("1", "4Gi"), "app", "web")
	web0.OwnerReferences = owner
	filler := makePod("filler", "a1", res("4", "16Gi"), "app", "other")
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web", UID: "rs-web"},
		Spec:       appsv1.ReplicaSetSpec{Selector: st.MakeLabelSelector().Label("app", "web").Obj()},
	}
	incoming := makePod("web-1", "", res("1", "4Gi"), "app", "web")
	incoming.OwnerReferences = owner

	e := newEnv(t, defaultArgs(t), nodes, []*corev1.Pod{web0, filler}, envOptions{informerObjs: []runtime.Object{rs}})
	got := e.score(t, incoming)
	if !(got["b1"] > got["a1"] && got["b1"] >= 20 && got["a1"] <= 19) {
		t.Errorf("default zone constraint: %v, want b1 (best tier) > a1 (second tier)", got)
	}

	// An empty default constraint list disables default spreading: pack on a1.
	args := defaultArgs(t)
	args.DefaultConstraints = nil
	e = newEnv(t, args, nodes, []*corev1.Pod{web0, filler}, envOptions{informerObjs: []runtime.Object{rs}})
	got = e.score(t, incoming)
	if !(got["a1"] > got["b1"]) {
		t.Errorf("no default constraints: %v, want a1 > b1", got)
	}
}

func ptrTo[T any](v T) *T { return &v }

// (d) The shapes the operator declares decide what counts as stranded.
func TestScoreStaticShapes(t *testing.T) {
	nodes := []*corev1.Node{
		makeNode("n1", res("4", "8Gi")),
		makeNode("n2", res("4", "8Gi")),
	}
	// Explicit zero requests: a missing one would count upstream's scoring
	// default (100m, 200Mi) on the node, and the arithmetic below ignores it.
	pods := []*corev1.Pod{
		makePod("mem", "n1", res("0", "6Gi")),
		makePod("cpu", "n2", res("2", "0")),
	}
	incoming := makePod("new", "", res("1", "1Gi"))
	static := func(name, cpu, mem string) *config.StrandingAwarePackingArgs {
		a := defaultArgs(t)
		a.Shapes.Mode = config.ShapeSourceStatic
		a.Shapes.Static = []config.PodShape{{Name: name, Requests: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}}}
		return a
	}
	// Free before placement: n1 (4 cpu, 2Gi), n2 (2 cpu, 8Gi); after: n1
	// (3, 1Gi), n2 (1, 7Gi). P(n1) = (1/4 + 7/8 + 2/110)/3 = 0.381061,
	// P(n2) = (3/4 + 1/8 + 2/110)/3 = 0.297727. Default weights: packing 1,
	// fragmentation change 16, stranded level 4.
	//
	// Shape small-cpu (1 cpu, 256Mi): one shape less fits on either node,
	// dF = (-0.75/8)/2 on both. Stranded after: n1 256Mi, n2 6.75Gi, so
	// the level term picks n1.
	// Shape mem-heavy (250m, 3.5Gi): n1 fits none before or after, n2 two
	// before and after: dF = (-1/4 - 1/8)/2 on both. Stranded after: n1
	// all of (3, 1Gi), n2 only 500m: n2.
	tests := []struct {
		name string
		args *config.StrandingAwarePackingArgs
		want map[string]int64
	}{
		// R differs by less than minRSpan (0.1): the other node gets
		// 100 - 80 x dR / 0.1.
		{"small-cpu", static("small-cpu", "1", "256Mi"), map[string]int64{"n1": 100, "n2": 35}},
		{"mem-heavy", static("mem-heavy", "250m", "3584Mi"), map[string]int64{"n1": 46, "n2": 100}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.args, nodes, pods, envOptions{})
			if got := e.score(t, incoming); !maps.Equal(got, tc.want) {
				t.Errorf("scores = %v, want %v", got, tc.want)
			}
			// Static mode learns nothing: a flood of other shapes changes nothing.
			for i := 0; i < 100; i++ {
				e.pl.Shapes().Observe(makePod(fmt.Sprint("x", i), "", res("3", "100Mi")), 1)
			}
			if n := len(e.pl.Shapes().Snapshot()); n != 1 {
				t.Errorf("static mode snapshot has %d shapes, want 1", n)
			}
			if got := e.score(t, incoming); !maps.Equal(got, tc.want) {
				t.Errorf("after observations: scores = %v, want %v", got, tc.want)
			}
		})
	}

	// Learned mode with the mem-heavy static shape and one learned
	// small-cpu pod (the static shape weighs as much as the most frequent
	// learned one): dF is equal on both nodes again, and with small-cpu n1's
	// leftover is no longer stranded but for 256Mi (L = 1/64, n2 0). Level
	// 4 x 1/64 no longer outweighs packing (0.381 vs 0.298): the learned
	// shape turns mem-heavy's choice around.
	a := static("mem-heavy", "250m", "3584Mi")
	a.Shapes.Mode = config.ShapeSourceLearned
	// The incoming pod's own shape (1 cpu, 1Gi) is learned too: the cycle
	// counts the pod it schedules (SetFor) and favours n1 a little more.
	e := newEnv(t, a, nodes, pods, envOptions{})
	e.pl.Shapes().Observe(makePod("m", "", res("1", "256Mi")), 1)
	want := map[string]int64{"n1": 100, "n2": 97}
	if got := e.score(t, incoming); !maps.Equal(got, want) {
		t.Errorf("learned: scores = %v, want %v", got, want)
	}
	// The learner hears of the incoming pod from its own informer handler,
	// before or after the cycle starts: the scores are the same.
	e.observe(incoming)
	if got := e.score(t, incoming); !maps.Equal(got, want) {
		t.Errorf("learned, incoming pod observed before its cycle: scores = %v, want %v", got, want)
	}
}

func shapeKeys(s []Shape) []string {
	out := make([]string, len(s))
	for i, sh := range s {
		out[i] = sh.String()
	}
	return out
}

func key(cpuMilli, mem int64) string {
	switch {
	case cpuMilli == 0:
		return fmt.Sprintf("memory=%d;", mem)
	case mem == 0:
		return fmt.Sprintf("cpu=%d;", cpuMilli)
	}
	return fmt.Sprintf("cpu=%d;memory=%d;", cpuMilli, mem)
}

// (e) The shape learner.
func TestShapeLearner(t *testing.T) {
	const gi = 1 << 30
	learned := func(max int32) *ShapeLearner {
		return NewShapeLearner(config.ShapeSource{Mode: config.ShapeSourceLearned, MaxLearned: max})
	}
	a, b, c := res("1", "1Gi"), res("2", "1Gi"), res("500m", "4Gi")
	pod := func(r map[corev1.ResourceName]string) *corev1.Pod { return makePod("p", "", r) }

	t.Run("frequency order, ties by key", func(t *testing.T) {
		l := learned(16)
		l.Observe(pod(a), 1)
		l.Observe(pod(b), 1)
		l.Observe(pod(c), 3)
		l.Observe(pod(a), 1)
		got := shapeKeys(l.Snapshot())
		want := []string{key(500, 4*gi), key(1000, gi), key(2000, gi)}
		if !slices.Equal(got, want) {
			t.Fatalf("Snapshot = %v, want %v", got, want)
		}
		l.Observe(pod(b), 1) // a and b tie at 2: "cpu=1000" < "cpu=2000"
		if got, want := shapeKeys(l.Snapshot()), []string{key(500, 4*gi), key(1000, gi), key(2000, gi)}; !slices.Equal(got, want) {
			t.Fatalf("tie: Snapshot = %v, want %v", got, want)
		}
		l.Observe(pod(b), 2) // b: 4 > c: 3 > a: 2
		if got, want := shapeKeys(l.Snapshot()), []string{key(2000, gi), key(500, 4*gi), key(1000, gi)}; !slices.Equal(got, want) {
			t.Fatalf("Snapshot = %v, want %v", got, want)
		}
	})

	t.Run("deletion", func(t *testing.T) {
		l := learned(16)
		l.Observe(pod(a), 2)
		l.Observe(pod(b), 1)
		l.Observe(pod(a), -1)
		if got, want := shapeKeys(l.Snapshot()), []string{key(1000, gi), key(2000, gi)}; !slices.Equal(got, want) {
			t.Fatalf("Snapshot = %v, want %v", got, want)
		}
		l.Observe(pod(a), -1)
		if got, want := shapeKeys(l.Snapshot()), []string{key(2000, gi)}; !slices.Equal(got, want) {
			t.Fatalf("after deleting a: Snapshot = %v, want %v", got, want)
		}
		l.Observe(pod(c), -1) // never seen: no negative ghost
		l.Observe(pod(c), 1)
		// Equal counts: ordered by bucket key (deterministic).
		if got, want := shapeKeys(l.Snapshot()), []string{key(500, 4*gi), key(2000, gi)}; !slices.Equal(got, want) {
			t.Fatalf("after unknown delete: Snapshot = %v, want %v", got, want)
		}
	})

	t.Run("MaxLearned cap", func(t *testing.T) {
		l := learned(2)
		for i := 1; i <= 5; i++ {
			l.Observe(pod(res(fmt.Sprintf("%dm", 100*i), "1Gi")), i) // 500m most frequent
		}
		if got, want := shapeKeys(l.Snapshot()), []string{key(500, gi), key(400, gi)}; !slices.Equal(got, want) {
			t.Fatalf("Snapshot = %v, want %v", got, want)
		}
	})

	t.Run("static first", func(t *testing.T) {
		l := NewShapeLearner(config.ShapeSource{Mode: config.ShapeSourceLearned, MaxLearned: 2, Static: []config.PodShape{
			{Name: "s", Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3")}},
			{Name: "zero", Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("0")}}, // dropped
		}})
		if got, want := shapeKeys(l.Snapshot()), []string{key(3000, 0)}; !slices.Equal(got, want) {
			t.Fatalf("initial Snapshot = %v, want %v", got, want)
		}
		l.Observe(pod(a), 5)
		l.Observe(pod(b), 1)
		l.Observe(pod(c), 3)
		if got, want := shapeKeys(l.Snapshot()), []string{key(3000, 0), key(1000, gi), key(500, 4*gi)}; !slices.Equal(got, want) {
			t.Fatalf("Snapshot = %v, want %v", got, want)
		}
	})

	t.Run("best-effort and nil pods ignored", func(t *testing.T) {
		l := learned(16)
		l.Observe(makePod("be", "", nil), 1)
		l.Observe(nil, 1)
		if got := l.Snapshot(); len(got) != 0 {
			t.Fatalf("Snapshot = %v, want empty", shapeKeys(got))
		}
	})

	t.Run("snapshot cached until a change", func(t *testing.T) {
		l := learned(16)
		l.Observe(pod(a), 1)
		s1, s2 := l.Snapshot(), l.Snapshot()
		if &s1[0] != &s2[0] {
			t.Error("unchanged learner rebuilt its snapshot")
		}
		l.Observe(pod(b), 1)
		if s3 := l.Snapshot(); len(s3) != 2 || len(s1) != 1 {
			t.Errorf("snapshot after change = %v (old one now %v)", shapeKeys(s3), shapeKeys(s1))
		}
	})

	t.Run("event handler", func(t *testing.T) {
		l := learned(16)
		h := l.EventHandler()
		running := pod(a)
		done := running.DeepCopy()
		done.Status.Phase = corev1.PodSucceeded
		failedB := pod(b)
		failedB.Status.Phase = corev1.PodFailed

		h.OnAdd(running, false)
		h.OnAdd(pod(c), false)
		h.OnAdd(failedB, false) // terminal: ignored
		// Equal counts: ordered by bucket key (deterministic).
		if got, want := shapeKeys(l.Snapshot()), []string{key(500, 4*gi), key(1000, gi)}; !slices.Equal(got, want) {
			t.Fatalf("after adds: %v, want %v", got, want)
		}
		h.OnUpdate(running, done) // finished: leaves the histogram
		if got, want := shapeKeys(l.Snapshot()), []string{key(500, 4*gi)}; !slices.Equal(got, want) {
			t.Fatalf("after success: %v, want %v", got, want)
		}
		h.OnUpdate(done, done) // terminal to terminal: nothing
		h.OnDelete(done)       // terminal delete: nothing
		h.OnDelete(failedB)
		if got, want := shapeKeys(l.Snapshot()), []string{key(500, 4*gi)}; !slices.Equal(got, want) {
			t.Fatalf("after terminal events: %v, want %v", got, want)
		}
		// In-place resize: the old shape leaves, the new one arrives.
		cOld := pod(c)
		cNew := pod(res("500m", "8Gi"))
		h.OnUpdate(cOld, cNew)
		if got, want := shapeKeys(l.Snapshot()), []string{key(500, 8*gi)}; !slices.Equal(got, want) {
			t.Fatalf("after resize: %v, want %v", got, want)
		}
		h.OnDelete(cache.DeletedFinalStateUnknown{Key: "default/p", Obj: cNew})
		h.OnDelete("not a pod")
		h.OnUpdate("not a pod", cNew)
		if got := l.Snapshot(); len(got) != 0 {
			t.Fatalf("after tombstone delete: %v, want empty", shapeKeys(got))
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		l := learned(4)
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 200; i++ {
					p := pod(res(fmt.Sprintf("%dm", 100*(1+i%8)), "1Gi"))
					l.Observe(p, 1)
					_ = l.Snapshot()
					l.Observe(p, -1)
				}
			}()
		}
		wg.Wait()
		if got := l.Snapshot(); len(got) != 0 {
			t.Fatalf("balanced observations left %v", shapeKeys(got))
		}
	})
}

// The learner follows the scheduler's pod informer in Learned mode.
func TestLearnerFedByInformer(t *testing.T) {
	nodes := []*corev1.Node{makeNode("n1", res("4", "8Gi"))}
	running := makePod("run", "n1", res("1", "2Gi"))
	pending := makePod("pend", "", res("3", "1Gi"))
	pending.UID = "pend"
	done := makePod("done", "n1", res("2", "6Gi"))
	done.Status.Phase = corev1.PodSucceeded
	e := newEnv(t, defaultArgs(t), nodes, []*corev1.Pod{running}, envOptions{informerObjs: []runtime.Object{running, pending, done}})
	want := []string{key(1000, 2<<30), key(3000, 1<<30)}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := shapeKeys(e.pl.Shapes().Snapshot())
		if slices.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("learned shapes = %v, want %v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Static mode does not register the handler.
	a := defaultArgs(t)
	a.Shapes.Mode = config.ShapeSourceStatic
	a.Shapes.Static = []config.PodShape{{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}
	e = newEnv(t, a, nodes, []*corev1.Pod{running}, envOptions{informerObjs: []runtime.Object{running, pending}})
	if got := shapeKeys(e.pl.Shapes().Snapshot()); !slices.Equal(got, []string{key(1000, 0)}) {
		t.Fatalf("static shapes = %v", got)
	}
}

// Score fails cleanly without PreScore state, and NormalizeScore keeps the
// framework's [0, 100] contract.
func TestScoreWithoutPreScore(t *testing.T) {
	e := newEnv(t, defaultArgs(t), []*corev1.Node{makeNode("n1", res("4", "8Gi"))}, nil, envOptions{})
	ni := e.nodeInfos(t, "n1")[0]
	if _, s := e.pl.Score(e.ctx, framework.NewCycleState(), makePod("p", "", res("1", "1Gi")), ni); s.IsSuccess() {
		t.Fatal("Score without PreScore state succeeded")
	}
}

func TestShapeLearnerBucketsAndIgnoredPods(t *testing.T) {
	l := NewShapeLearner(config.ShapeSource{Mode: config.ShapeSourceLearned, MaxLearned: 16})
	mk := func(cpu string) *corev1.Pod {
		return &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}}}
	}
	// 1000m, 1010m and 1020m fall in one eighth-octave bucket ([960m,
	// 1024m)); the first seen stays the representative, exactly.
	for _, cpu := range []string{"1000m", "1010m", "1020m"} {
		l.Observe(mk(cpu), 1)
	}
	l.Observe(mk("1500m"), 1)
	ds := mk("100m")
	ds.OwnerReferences = []metav1.OwnerReference{{Kind: "DaemonSet", Name: "proxy", Controller: func() *bool { b := true; return &b }()}}
	mirror := mk("100m")
	mirror.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "x"}
	for i := 0; i < 10; i++ {
		l.Observe(ds, 1)
		l.Observe(mirror, 1)
	}
	got := shapeKeys(l.Snapshot())
	if want := []string{"cpu=1000;", "cpu=1500;"}; !slices.Equal(got, want) {
		t.Errorf("Snapshot = %v, want %v (bucketed, DaemonSet and mirror pods ignored)", got, want)
	}
}
