package predictabledemands

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/snug-sched/snug/pkg/plugins/internal/metricstest"
)

// gateReading is the dependency gate's metrics, read from the legacy registry.
type gateReading struct {
	cmMissing, pvcMissing, secretMissing, cmNotSynced, pvcNotSynced float64
	released, deleted                                               uint64
}

func readGate(t *testing.T) gateReading {
	t.Helper()
	held := func(kind Kind, reason string) float64 {
		return metricstest.Value(t, "snug_dependency_gate_held_pods", map[string]string{"kind": string(kind), "reason": reason})
	}
	ended := func(result string) uint64 {
		return metricstest.Count(t, "snug_dependency_gate_hold_duration_seconds", map[string]string{"result": result})
	}
	return gateReading{
		cmMissing:     held(ConfigMap, ReasonMissingDependency),
		pvcMissing:    held(PVC, ReasonMissingDependency),
		secretMissing: held(Secret, ReasonMissingDependency),
		cmNotSynced:   held(ConfigMap, ReasonGateNotSynced),
		pvcNotSynced:  held(PVC, ReasonGateNotSynced),
		released:      ended(holdReleased),
		deleted:       ended(holdDeleted),
	}
}

func (a gateReading) minus(b gateReading) gateReading {
	return gateReading{
		cmMissing: a.cmMissing - b.cmMissing, pvcMissing: a.pvcMissing - b.pvcMissing, secretMissing: a.secretMissing - b.secretMissing,
		cmNotSynced: a.cmNotSynced - b.cmNotSynced, pvcNotSynced: a.pvcNotSynced - b.pvcNotSynced,
		released: a.released - b.released, deleted: a.deleted - b.deleted,
	}
}

func TestGateMetrics(t *testing.T) {
	registerMetrics()
	ctx := context.Background()
	base := readGate(t)
	expect := func(step string, want gateReading) {
		t.Helper()
		if got := readGate(t).minus(base); got != want {
			t.Errorf("%s: metrics (change since the start)\n got %+v\nwant %+v", step, got, want)
		}
	}

	st := newFakeStore(true)
	g := testGate(gateDefaults, st, &fakeHandle{})
	pod := gatedPod("ns", "web") // ConfigMap x, PVC data (Secrets are not selected)
	if s := g.check(ctx, pod); s.IsSuccess() {
		t.Fatal("check passed a pod whose ConfigMap and PVC are missing")
	}
	expect("held on a ConfigMap and a PVC", gateReading{cmMissing: 1, pvcMissing: 1})
	// Checked again (activation, update): still one pod.
	_ = g.check(ctx, pod)
	expect("checked twice", gateReading{cmMissing: 1, pvcMissing: 1})

	st.add(cmKey("ns", "x"))
	_ = g.check(ctx, pod)
	expect("ConfigMap created", gateReading{pvcMissing: 1})

	st.add(pvcKey("ns", "data"))
	if s := g.check(ctx, pod); s != nil {
		t.Fatalf("check = %v after every object exists", s)
	}
	expect("released", gateReading{released: 1})
	// A pod that passes without having been held observes nothing.
	_ = g.check(ctx, gatedPod("ns", "never-held"))
	expect("never held", gateReading{released: 1})

	other := cmPod("ns", "other", "missing")
	_ = g.check(ctx, other)
	expect("second pod held", gateReading{cmMissing: 1, released: 1})
	g.forgetPod("ns/other", "some-other-uid") // another incarnation's delete
	expect("delete of another incarnation", gateReading{cmMissing: 1, released: 1})
	// A recreated pod of the same name replaces the record: the old one is gone.
	recreated := other.DeepCopy()
	recreated.UID = "recreated"
	_ = g.check(ctx, recreated)
	expect("recreated", gateReading{cmMissing: 1, released: 1, deleted: 1})
	g.forgetPod("ns/other", recreated.UID)
	expect("deleted while held", gateReading{released: 1, deleted: 2})

	// Held because the caches have not synced: by the kinds it refers to.
	unsynced := testGate(gateDefaults, newFakeStore(false), &fakeHandle{})
	early := gatedPod("ns", "early")
	_ = unsynced.check(ctx, early)
	expect("held unsynced", gateReading{cmNotSynced: 1, pvcNotSynced: 1, released: 1, deleted: 2})
	unsynced.forgetPod("ns/early", early.UID)
	expect("unsynced pod deleted", gateReading{released: 1, deleted: 3})

	sum, _ := metricstest.Get(t, "snug_dependency_gate_hold_duration_seconds", map[string]string{"result": holdReleased})
	if sum.Value <= 0 {
		t.Errorf("hold duration sum = %v, want > 0", sum.Value)
	}
}

// A pod the informer no longer has (its delete was handled before this
// PreEnqueue) or has bound is never counted as held: nothing would end it.
func TestGateMetricsSkipPodsGoneFromInformer(t *testing.T) {
	registerMetrics()
	live := cmPod("ns", "live", "missing")
	bound := onNode(cmPod("ns", "bound", "missing"), "n1")
	factory := informers.NewSharedInformerFactory(fake.NewClientset(), 0)
	store := factory.Core().V1().Pods().Informer().GetStore()
	for _, p := range []*corev1.Pod{live, bound} {
		if err := store.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	g := testGate(gateDefaults, newFakeStore(true), &fakeHandle{})
	g.held.lister = factory.Core().V1().Pods().Lister()
	base := readGate(t)
	ctx := context.Background()
	_ = g.check(ctx, cmPod("ns", "deleted", "missing"))
	_ = g.check(ctx, cmPod("ns", "bound", "missing"))
	if got := readGate(t).minus(base); got != (gateReading{}) {
		t.Errorf("pods gone from the informer or bound changed the metrics: %+v", got)
	}
	_ = g.check(ctx, live)
	if got := readGate(t).minus(base); got != (gateReading{cmMissing: 1}) {
		t.Errorf("live pod held: %+v, want cmMissing 1", got)
	}
	g.forgetPod("ns/live", live.UID)
}

func TestFilterCountsCapRejections(t *testing.T) {
	pl := newPlugin(t, capsArgs(t, capOf(corev1.ResourceMemory, "1"), capOf(corev1.ResourceCPU, "4")))
	rejections := func(r corev1.ResourceName) float64 {
		return metricstest.Value(t, "snug_overcommit_cap_rejections_total", map[string]string{"resource": string(r)})
	}
	memBefore, cpuBefore := rejections(corev1.ResourceMemory), rejections(corev1.ResourceCPU)
	ni := nodeInfo("n1", rl("cpu", "4", "memory", "8Gi", "pods", "110"), onNode(limPod("a", "cpu", "1", "memory", "6Gi"), "n1"))

	if s := filter(t, pl, limPod("fits", "cpu", "1", "memory", "1Gi"), ni); s != nil {
		t.Fatalf("Filter = %v, want success", s)
	}
	for range 2 {
		if s := filter(t, pl, limPod("too-much-memory", "cpu", "1", "memory", "4Gi"), ni); s.Message() != memCapReason {
			t.Fatalf("Filter = %v, want %q", s, memCapReason)
		}
	}
	if s := filter(t, pl, limPod("too-much-cpu", "cpu", "16", "memory", "1Gi"), ni); s.Message() != cpuCapReason {
		t.Fatalf("Filter = %v, want %q", s, cpuCapReason)
	}
	if got := rejections(corev1.ResourceMemory) - memBefore; got != 2 {
		t.Errorf("memory cap rejections = %v, want 2", got)
	}
	if got := rejections(corev1.ResourceCPU) - cpuBefore; got != 1 {
		t.Errorf("cpu cap rejections = %v, want 1", got)
	}
}
