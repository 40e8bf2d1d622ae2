package simgate_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/snug-sched/snug/pkg/strategies/internal/strategytest"
	"github.com/snug-sched/snug/pkg/strategies/simgate"
)

const def = corev1.DefaultSchedulerName

func begin(t *testing.T, objs ...runtime.Object) *simgate.Gate {
	t.Helper()
	profiles, err := simgate.LoadProfiles(nil)
	if err != nil {
		t.Fatal(err)
	}
	g := simgate.New(simgate.Options{Profiles: profiles})
	f := informers.NewSharedInformerFactory(fake.NewClientset(objs...), 0)
	g.RegisterInformers(f)
	f.Start(t.Context().Done())
	f.WaitForCacheSync(t.Context().Done())
	if err := g.Begin(t.Context(), "test", f); err != nil {
		t.Fatal(err)
	}
	return g
}

// Capacity freed or taken by one planned move is seen by the next: b has
// room for one of the two pods, so only the first is approved; undoing it
// (its eviction failed) gives the room back.
func TestCapacityNeverPromisedTwice(t *testing.T) {
	x := strategytest.Pod("x", "x", "a", def, "2", "1Gi")
	y := strategytest.Pod("y", "y", "a", def, "2", "1Gi")
	g := begin(t, strategytest.Node("a", "4", "8Gi", nil), strategytest.Node("b", "3", "8Gi", nil), x, y,
		strategytest.ReplicaSet("x"), strategytest.ReplicaSet("y"))
	ctx := t.Context()
	notA := simgate.NotOnto(map[string]bool{"a": true})
	m, err := g.Plan(ctx, x, "test", "", notA)
	if err != nil || m.To != "b" {
		t.Fatalf("first move: %+v, %v; want onto b", m, err)
	}
	if _, err := g.Plan(ctx, y, "test", "", notA); !simgate.IsRejected(err) {
		t.Fatalf("second move: %v, want a refusal (b is taken)", err)
	}
	g.Undo(ctx, m, errors.New("429: PodDisruptionBudget"))
	if m2, err := g.Plan(ctx, y, "test", "", notA); err != nil || m2.To != "b" {
		t.Fatalf("after undo: %+v, %v; want y onto b", m2, err)
	}
	g.Finish(ctx)
	plan := g.LastPlan()
	if len(plan) != 2 || plan[0].Status != "failed" || !strings.Contains(plan[0].Error, "429") || plan[1].Name != "y" {
		t.Fatalf("plan %+v", plan)
	}
}

func TestUnsafePodsNeverPlanned(t *testing.T) {
	ds := strategytest.Pod("ds", "ds", "a", def, "100m", "1Gi")
	ds.OwnerReferences[0].Kind = "DaemonSet"
	mirror := strategytest.Pod("mirror", "m", "a", def, "100m", "1Gi")
	mirror.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "x"}
	bare := strategytest.Pod("bare", "b", "a", def, "100m", "1Gi")
	bare.OwnerReferences = nil
	g := begin(t, strategytest.Node("a", "4", "8Gi", nil), strategytest.Node("b", "4", "8Gi", nil), ds, mirror, bare)
	for _, p := range []*corev1.Pod{ds, mirror, bare} {
		if _, err := g.Plan(t.Context(), p, "test", "", nil); !simgate.IsRejected(err) {
			t.Errorf("%s: %v, want a refusal", p.Name, err)
		}
	}
}

func TestWritePlan(t *testing.T) {
	moves := []simgate.Move{{Namespace: "ns", Name: "p", From: "a", To: "b", Tied: []string{"b", "c"}, Strategy: "RemoveDuplicates", Status: "planned"}}
	var table, js bytes.Buffer
	if err := simgate.WritePlan(&table, "table", moves); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "ns/p") || !strings.Contains(table.String(), "b (or c)") {
		t.Errorf("table:\n%s", table.String())
	}
	if err := simgate.WritePlan(&js, "json", moves); err != nil {
		t.Fatal(err)
	}
	var out struct{ Moves []simgate.Move }
	if err := json.Unmarshal(js.Bytes(), &out); err != nil || len(out.Moves) != 1 || out.Moves[0].To != "b" {
		t.Errorf("json %s: %v", js.String(), err)
	}
	if err := simgate.WritePlan(&js, "yaml", moves); err == nil {
		t.Error("yaml accepted")
	}
}
