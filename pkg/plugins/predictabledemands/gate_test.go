package predictabledemands

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	clientset "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/ktesting"
	fwk "k8s.io/kube-scheduler/framework"
	podutil "k8s.io/kubernetes/pkg/api/v1/pod"
	"k8s.io/utils/ptr"
)

// fakeStore is a store over a set of existing objects.
type fakeStore struct {
	mu       sync.Mutex
	objs     map[depKey]bool
	isSynced bool
	lookups  int
}

func newFakeStore(synced bool, objs ...depKey) *fakeStore {
	s := &fakeStore{objs: map[depKey]bool{}, isSynced: synced}
	for _, k := range objs {
		s.objs[k] = true
	}
	return s
}

func (s *fakeStore) exists(kind Kind, namespace, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lookups++
	return s.objs[depKey{kind, namespace, name}]
}

func (s *fakeStore) synced() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.isSynced
}

func (s *fakeStore) add(k depKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objs[k] = true
}

func (s *fakeStore) setSynced() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.isSynced = true
}

// fakeHandle implements the part of fwk.Handle the gate uses; any other
// method panics on the nil embedded Handle.
type fakeHandle struct {
	fwk.Handle
	cs  clientset.Interface
	rec events.EventRecorderLogger

	mu        sync.Mutex
	activated []map[string]*corev1.Pod
}

func (h *fakeHandle) Activate(_ klog.Logger, pods map[string]*corev1.Pod) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.activated = append(h.activated, maps.Clone(pods))
}

func (h *fakeHandle) ClientSet() clientset.Interface            { return h.cs }
func (h *fakeHandle) EventRecorder() events.EventRecorderLogger { return h.rec }

// calls returns the sorted pod keys of each Activate call.
func (h *fakeHandle) calls() [][]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out [][]string
	for _, m := range h.activated {
		out = append(out, slices.Sorted(maps.Keys(m)))
	}
	return out
}

func testGate(sel Selection, st store, h fwk.Handle) *gate {
	return &gate{
		sel:      sel,
		store:    st,
		handle:   h,
		waiting:  map[depKey]map[string]*corev1.Pod{},
		reports:  newReportQueue(),
		unsynced: map[string]*corev1.Pod{},

		syncTimeout: time.Hour, // tests that time out set their own
		syncQuiet:   time.Hour,
		watchErrs:   map[Kind]watchErr{},
	}
}

// waitingIndex returns dependency -> sorted pod keys.
func (g *gate) waitingIndex() map[depKey][]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[depKey][]string{}
	for k, pods := range g.waiting {
		out[k] = slices.Sorted(maps.Keys(pods))
	}
	return out
}

func cmKey(ns, name string) depKey     { return depKey{ConfigMap, ns, name} }
func secretKey(ns, name string) depKey { return depKey{Secret, ns, name} }
func pvcKey(ns, name string) depKey    { return depKey{PVC, ns, name} }

// gatedPod references ConfigMap x through envFrom of container "app",
// Secret s through a volume and PVC data.
func gatedPod(ns, name string) *corev1.Pod {
	p := podWith(ns, name, nil, corev1.Container{Name: "app", EnvFrom: []corev1.EnvFromSource{cmEnvFrom("x", nil)}})
	p.Spec.Volumes = []corev1.Volume{secretVolume("creds", "s", nil), pvcVolume("data", "data")}
	return p
}

func cmPod(ns, name, cm string) *corev1.Pod {
	return podWith(ns, name, nil, corev1.Container{Name: "app", EnvFrom: []corev1.EnvFromSource{cmEnvFrom(cm, nil)}})
}

var gateDefaults = Selection{ConfigMaps: true, PVCs: true}

func TestGateCheck(t *testing.T) {
	tests := []struct {
		name        string
		sel         Selection
		objs        []depKey
		pod         *corev1.Pod
		wantMsg     string // "" admitted
		wantWaiting map[depKey][]string
	}{
		{name: "missing ConfigMap", sel: gateDefaults, objs: []depKey{pvcKey("ns", "data")}, pod: gatedPod("ns", "p"),
			wantMsg:     `waiting for ConfigMap "x" (container "app" envFrom) to exist in namespace "ns"`,
			wantWaiting: map[depKey][]string{cmKey("ns", "x"): {"ns/p"}}},
		{name: "missing ConfigMap and PVC, in reference order", sel: gateDefaults, pod: gatedPod("ns", "p"),
			wantMsg:     `waiting for ConfigMap "x" (container "app" envFrom), PersistentVolumeClaim "data" (volume "data") to exist in namespace "ns"`,
			wantWaiting: map[depKey][]string{cmKey("ns", "x"): {"ns/p"}, pvcKey("ns", "data"): {"ns/p"}}},
		{name: "objects in another namespace do not count", sel: gateDefaults,
			objs: []depKey{cmKey("other", "x"), pvcKey("ns", "data")}, pod: gatedPod("ns", "p"),
			wantMsg:     `waiting for ConfigMap "x" (container "app" envFrom) to exist in namespace "ns"`,
			wantWaiting: map[depKey][]string{cmKey("ns", "x"): {"ns/p"}}},
		{name: "secrets gate when selected", sel: Selection{ConfigMaps: true, Secrets: true, PVCs: true},
			objs: []depKey{cmKey("ns", "x"), pvcKey("ns", "data")}, pod: gatedPod("ns", "p"),
			wantMsg:     `waiting for Secret "s" (volume "creds") to exist in namespace "ns"`,
			wantWaiting: map[depKey][]string{secretKey("ns", "s"): {"ns/p"}}},
		{name: "all present", sel: gateDefaults, objs: []depKey{cmKey("ns", "x"), pvcKey("ns", "data")}, pod: gatedPod("ns", "p"),
			wantWaiting: map[depKey][]string{}},
		{name: "secrets not selected never gate", sel: gateDefaults,
			objs: []depKey{cmKey("ns", "x"), pvcKey("ns", "data")}, pod: gatedPod("ns", "p"),
			wantWaiting: map[depKey][]string{}},
		{name: "optional references never gate", sel: Selection{ConfigMaps: true, Secrets: true, PVCs: true},
			pod: func() *corev1.Pod {
				p := podWith("ns", "p", nil, corev1.Container{Name: "app",
					EnvFrom: []corev1.EnvFromSource{cmEnvFrom("x", ptr.To(true))},
					Env:     []corev1.EnvVar{secretKeyEnv("S", "s", ptr.To(true))}})
				p.Spec.Volumes = []corev1.Volume{cmVolume("v", "y", ptr.To(true))}
				return p
			}(),
			wantWaiting: map[depKey][]string{}},
		{name: "no references", sel: gateDefaults, pod: podWith("ns", "p", nil, ctr("app", nil, nil)),
			wantWaiting: map[depKey][]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &fakeHandle{}
			g := testGate(tc.sel, newFakeStore(true, tc.objs...), h)
			s := g.check(context.Background(), tc.pod)
			if tc.wantMsg == "" {
				if s != nil {
					t.Errorf("check = %v, want nil", s)
				}
			} else if s.Code() != fwk.UnschedulableAndUnresolvable || s.Message() != tc.wantMsg {
				t.Errorf("check = %v %q, want UnschedulableAndUnresolvable %q", s.Code(), s.Message(), tc.wantMsg)
			}
			if got := g.waitingIndex(); !maps.EqualFunc(got, tc.wantWaiting, slices.Equal) {
				t.Errorf("waiting = %v, want %v", got, tc.wantWaiting)
			}
			if r, ok := g.reports.poll(); ok {
				if tc.wantMsg == "" {
					t.Errorf("unexpected report %q", r.msg)
				} else if r.msg != tc.wantMsg || r.pod != tc.pod {
					t.Errorf("report = %q for %s, want %q", r.msg, r.pod.Name, tc.wantMsg)
				}
			} else {
				if tc.wantMsg != "" {
					t.Error("no report queued")
				}
			}
			if c := h.calls(); c != nil {
				t.Errorf("check activated pods: %v", c)
			}
		})
	}
}

func TestGateAppearedActivatesWaitingPodsOnce(t *testing.T) {
	h := &fakeHandle{}
	st := newFakeStore(true)
	g := testGate(gateDefaults, st, h)
	for _, p := range []*corev1.Pod{cmPod("ns", "p1", "x"), cmPod("ns", "p2", "x"), cmPod("ns", "p3", "y"), cmPod("other", "p4", "x")} {
		if s := g.check(context.Background(), p); s.Code() != fwk.UnschedulableAndUnresolvable {
			t.Fatalf("check %s = %v", p.Name, s)
		}
	}
	// Re-checking a waiting pod does not duplicate it.
	if s := g.check(context.Background(), cmPod("ns", "p1", "x")); s.Code() != fwk.UnschedulableAndUnresolvable {
		t.Fatalf("re-check = %v", s)
	}
	want := map[depKey][]string{cmKey("ns", "x"): {"ns/p1", "ns/p2"}, cmKey("ns", "y"): {"ns/p3"}, cmKey("other", "x"): {"other/p4"}}
	if got := g.waitingIndex(); !maps.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("waiting = %v, want %v", got, want)
	}

	st.add(cmKey("ns", "x"))
	g.appeared(cmKey("ns", "x"))
	g.appeared(cmKey("ns", "x")) // a second event for the same object: nothing left to activate
	g.appeared(depKey{Secret, "ns", "y"})
	if got, want := h.calls(), [][]string{{"ns/p1", "ns/p2"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("Activate calls = %v, want %v", got, want)
	}
	want = map[depKey][]string{cmKey("ns", "y"): {"ns/p3"}, cmKey("other", "x"): {"other/p4"}}
	if got := g.waitingIndex(); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("waiting = %v, want %v", got, want)
	}

	// The activated pods pass PreEnqueue now and leave no trace.
	for _, p := range []*corev1.Pod{cmPod("ns", "p1", "x"), cmPod("ns", "p2", "x")} {
		if s := g.check(context.Background(), p); s != nil {
			t.Errorf("check %s after x appeared = %v", p.Name, s)
		}
	}
	g.appeared(cmKey("ns", "y"))
	if got, want := h.calls(), [][]string{{"ns/p1", "ns/p2"}, {"ns/p3"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("Activate calls = %v, want %v", got, want)
	}
	want = map[depKey][]string{cmKey("other", "x"): {"other/p4"}}
	if got := g.waitingIndex(); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("waiting = %v, want %v", got, want)
	}
}

// A pod waiting on two objects is activated by the first; PreEnqueue then
// registers it again for the one still missing.
func TestGatePodWaitingOnTwoObjects(t *testing.T) {
	h := &fakeHandle{}
	st := newFakeStore(true)
	g := testGate(gateDefaults, st, h)
	p := gatedPod("ns", "p")
	_ = g.check(context.Background(), p)
	st.add(cmKey("ns", "x"))
	g.appeared(cmKey("ns", "x"))
	s := g.check(context.Background(), p)
	if want := `waiting for PersistentVolumeClaim "data" (volume "data") to exist in namespace "ns"`; s.Message() != want {
		t.Errorf("check = %q, want %q", s.Message(), want)
	}
	want := map[depKey][]string{pvcKey("ns", "data"): {"ns/p"}}
	if got := g.waitingIndex(); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("waiting = %v, want %v", got, want)
	}
	st.add(pvcKey("ns", "data"))
	g.appeared(pvcKey("ns", "data"))
	if s := g.check(context.Background(), p); s != nil {
		t.Errorf("check with everything present = %v", s)
	}
	if got := g.waitingIndex(); len(got) != 0 {
		t.Errorf("waiting = %v, want empty", got)
	}
	if got, want := h.calls(), [][]string{{"ns/p"}, {"ns/p"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("Activate calls = %v, want %v", got, want)
	}
}

func TestGateForgetPod(t *testing.T) {
	h := &fakeHandle{}
	g := testGate(gateDefaults, newFakeStore(true), h)
	_ = g.check(context.Background(), gatedPod("ns", "gone"))
	_ = g.check(context.Background(), cmPod("ns", "stays", "x"))
	g.forgetPod("ns/gone", "ns/gone")
	want := map[depKey][]string{cmKey("ns", "x"): {"ns/stays"}}
	if got := g.waitingIndex(); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("waiting after forgetPod = %v, want %v", got, want)
	}
	g.forgetPod("ns/stays", "ns/stays")
	if got := g.waitingIndex(); len(got) != 0 {
		t.Errorf("waiting = %v, want empty", got)
	}
	g.appeared(cmKey("ns", "x"))
	g.appeared(pvcKey("ns", "data"))
	if c := h.calls(); c != nil {
		t.Errorf("forgotten pods were activated: %v", c)
	}
}

// A StatefulSet pod recreated under the same name: the old pod's delete,
// delivered after the new pod's PreEnqueue, must not drop the new pod.
func TestGateForgetPodIgnoresOtherIncarnation(t *testing.T) {
	h := &fakeHandle{}
	g := testGate(gateDefaults, newFakeStore(true), h)
	old := cmPod("ns", "web-0", "x")
	old.UID = "old"
	newer := cmPod("ns", "web-0", "x")
	newer.UID = "new"
	_ = g.check(context.Background(), old)
	_ = g.check(context.Background(), newer)
	g.forgetPod("ns/web-0", old.UID)
	want := map[depKey][]string{cmKey("ns", "x"): {"ns/web-0"}}
	if got := g.waitingIndex(); !maps.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("waiting = %v, want %v", got, want)
	}
	g.appeared(cmKey("ns", "x"))
	calls := h.calls()
	if len(calls) != 1 || h.activated[0]["ns/web-0"].UID != "new" {
		t.Errorf("Activate calls = %v, want the new web-0 once", calls)
	}

	// The same while the caches sync.
	h2 := &fakeHandle{}
	st := newFakeStore(false, cmKey("ns", "x"))
	g2 := testGate(gateDefaults, st, h2)
	_ = g2.check(context.Background(), newer)
	g2.forgetPod("ns/web-0", old.UID)
	st.setSynced()
	g2.activateWhenSynced(context.Background())
	if got, want := h2.calls(), [][]string{{"ns/web-0"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("Activate calls after sync = %v, want %v", got, want)
	}
}

func TestGateHoldsPodsUntilSynced(t *testing.T) {
	h := &fakeHandle{}
	st := newFakeStore(false, cmKey("ns", "x"), pvcKey("ns", "data"))
	g := testGate(gateDefaults, st, h)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	s := g.check(ctx, gatedPod("ns", "early"))
	if want := "waiting for the dependency gate's caches to sync; scheduled without the check after 1h0m0s"; s.Code() != fwk.UnschedulableAndUnresolvable || s.Message() != want {
		t.Fatalf("check while unsynced = %v %q, want %q", s.Code(), s.Message(), want)
	}
	_ = g.check(ctx, gatedPod("ns", "deleted"))
	g.forgetPod("ns/deleted", "ns/deleted")
	// A pod without references is never held.
	if s := g.check(ctx, podWith("ns", "plain", nil, ctr("app", nil, nil))); s != nil {
		t.Errorf("check of a pod without references while unsynced = %v", s)
	}
	if st.lookups != 0 {
		t.Errorf("%d lookups in an unsynced store", st.lookups)
	}
	if got := g.waitingIndex(); len(got) != 0 {
		t.Errorf("held pods entered the waiting index: %v", got)
	}
	// Within syncQuiet a hold is the usual startup wait: not reported.
	if r, ok := g.reports.poll(); ok {
		t.Errorf("a pod held within syncQuiet was reported: %q", r.msg)
	}

	done := make(chan struct{})
	go func() { g.activateWhenSynced(ctx); close(done) }()
	time.Sleep(150 * time.Millisecond)
	if c := h.calls(); c != nil {
		t.Fatalf("activated before the store synced: %v", c)
	}
	st.setSynced()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("activateWhenSynced did not return after the store synced")
	}
	if got, want := h.calls(), [][]string{{"ns/early"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("Activate calls = %v, want %v", got, want)
	}
	if s := g.check(ctx, gatedPod("ns", "early")); s != nil {
		t.Errorf("check after sync = %v, want nil", s)
	}
	g.mu.Lock()
	if g.unsynced != nil {
		t.Error("unsynced not released after sync")
	}
	g.mu.Unlock()
}

// A store that reports unsynced again later (it should not) does not make
// the gate hold pods that nothing will activate.
func TestGateAfterSyncNeverHolds(t *testing.T) {
	h := &fakeHandle{}
	st := newFakeStore(true)
	g := testGate(gateDefaults, st, h)
	g.activateWhenSynced(context.Background())
	st.mu.Lock()
	st.isSynced = false
	st.mu.Unlock()
	s := g.check(context.Background(), cmPod("ns", "p", "x"))
	if want := `waiting for ConfigMap "x" (container "app" envFrom) to exist in namespace "ns"`; s.Message() != want {
		t.Errorf("check = %q, want %q", s.Message(), want)
	}
	if c := h.calls(); c != nil {
		t.Errorf("Activate calls = %v, want none (nothing was held)", c)
	}
}

func TestGateActivateWhenSyncedStopsWithContext(t *testing.T) {
	h := &fakeHandle{}
	g := testGate(gateDefaults, newFakeStore(false), h)
	_ = g.check(context.Background(), cmPod("ns", "p", "x"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g.activateWhenSynced(ctx)
	if c := h.calls(); c != nil {
		t.Errorf("Activate calls = %v, want none", c)
	}
}

func TestGateReportLoop(t *testing.T) {
	pod := cmPod("ns", "p", "x")
	already := cmPod("ns", "already", "x")
	msgAlready := `waiting for ConfigMap "x" (container "app" envFrom) to exist in namespace "ns"`
	already.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		Reason: ReasonMissingDependency, Message: msgAlready}}
	cs := fake.NewClientset(pod, already)
	rec := events.NewFakeRecorder(10)
	h := &fakeHandle{cs: cs, rec: rec}
	g := testGate(gateDefaults, newFakeStore(true), h)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go g.reportLoop(ctx)

	// Already reported with the same message: no patch, no event.
	if s := g.check(ctx, already); s == nil {
		t.Fatal("check admitted a pod with a missing ConfigMap")
	}
	s := g.check(ctx, pod)
	if s == nil {
		t.Fatal("check admitted a pod with a missing ConfigMap")
	}
	select {
	case ev := <-rec.Events:
		if want := "Warning MissingDependency " + s.Message(); ev != want {
			t.Errorf("event = %q, want %q", ev, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event recorded")
	}
	got, err := cs.CoreV1().Pods("ns").Get(ctx, "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, c := podutil.GetPodCondition(&got.Status, corev1.PodScheduled)
	if c == nil || c.Status != corev1.ConditionFalse || c.Reason != ReasonMissingDependency || c.Message != s.Message() {
		t.Errorf("PodScheduled condition = %+v, want False/%s/%q", c, ReasonMissingDependency, s.Message())
	}
	select {
	case ev := <-rec.Events:
		t.Errorf("unexpected second event %q", ev)
	case <-time.After(100 * time.Millisecond):
	}
	for _, a := range cs.Actions() {
		if a.GetVerb() == "patch" && a.(interface{ GetName() string }).GetName() == "already" {
			t.Errorf("pod already carrying the message was patched again")
		}
	}
}

// check, appeared and forgetPod from many goroutines: run with -race.
func TestGateConcurrent(t *testing.T) {
	h := &fakeHandle{}
	st := newFakeStore(true)
	g := testGate(gateDefaults, st, h)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				p := cmPod("ns", fmt.Sprintf("p-%d-%d", w, i), fmt.Sprintf("cm-%d", i%7))
				_ = g.check(context.Background(), p)
				if i%3 == 0 {
					g.forgetPod(p.Namespace+"/"+p.Name, p.UID)
				}
				g.reports.poll()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			g.appeared(cmKey("ns", fmt.Sprintf("cm-%d", i%7)))
		}
	}()
	wg.Wait()
	for i := 0; i < 7; i++ {
		st.add(cmKey("ns", fmt.Sprintf("cm-%d", i)))
		g.appeared(cmKey("ns", fmt.Sprintf("cm-%d", i)))
	}
	if got := g.waitingIndex(); len(got) != 0 {
		t.Errorf("waiting = %v, want empty once every object exists", got)
	}
}

// Caches that never sync (the scheduler may not list ConfigMaps): the gate
// holds pods, after syncQuiet says why on them, after syncTimeout logs it and
// lets them through unchecked with an event; once the caches sync it gates
// again.
func TestGateFallsBackWhenCachesDoNotSync(t *testing.T) {
	const forbidden = `configmaps is forbidden: User "system:serviceaccount:snug-system:snug-scheduler" cannot list resource "configmaps"`
	logger := ktesting.NewLogger(t, ktesting.NewConfig(ktesting.BufferLogs(true)))
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), logger))
	defer cancel()
	early, late := cmPod("ns", "early", "kube-root-ca.crt"), cmPod("ns", "late", "kube-root-ca.crt")
	cs := fake.NewClientset(early, late)
	rec := events.NewFakeRecorder(10)
	h := &fakeHandle{cs: cs, rec: rec}
	st := newFakeStore(false)
	g := testGate(gateDefaults, st, h)
	g.syncQuiet, g.syncTimeout = 200*time.Millisecond, 2*time.Second
	g.watchError(ConfigMap, nil, errors.New(forbidden))
	go g.reportLoop(ctx)
	nextEvent := func() string {
		t.Helper()
		select {
		case ev := <-rec.Events:
			return ev
		case <-time.After(5 * time.Second):
			t.Fatal("no event recorded")
			return ""
		}
	}
	wantHeld := "waiting for the dependency gate's caches to sync (ConfigMap: " + forbidden + "); scheduled without the check after 2s"
	checkHeld := func(p *corev1.Pod) {
		t.Helper()
		if s := g.check(ctx, p); s.Code() != fwk.UnschedulableAndUnresolvable || s.Message() != wantHeld {
			t.Fatalf("check before the timeout = %v %q, want %q", s.Code(), s.Message(), wantHeld)
		}
	}
	heldOnPod := func(name string) {
		t.Helper()
		if ev, want := nextEvent(), "Warning "+ReasonGateNotSynced+" "+wantHeld; ev != want {
			t.Errorf("event = %q, want %q", ev, want)
		}
		got, err := cs.CoreV1().Pods("ns").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, c := podutil.GetPodCondition(&got.Status, corev1.PodScheduled); c == nil || c.Reason != ReasonGateNotSynced || c.Message != wantHeld {
			t.Errorf("%s: PodScheduled condition = %+v, want %s %q", name, c, ReasonGateNotSynced, wantHeld)
		}
	}

	began := time.Now()
	checkHeld(early)
	done := make(chan struct{})
	go func() { g.activateWhenSynced(ctx); close(done) }()
	// After syncQuiet the held pod is told why, and so is a pod held later.
	heldOnPod("early")
	if waited := time.Since(began); waited < 150*time.Millisecond {
		t.Errorf("hold reported after %v, within the 200ms syncQuiet", waited)
	}
	checkHeld(late)
	heldOnPod("late")

	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		return len(h.calls()) > 0, nil
	}); err != nil {
		t.Fatal("held pods not activated after the sync timeout")
	}
	if waited := time.Since(began); waited < 1900*time.Millisecond {
		t.Errorf("held pods activated after %v, before the 2s timeout", waited)
	}
	if got, want := h.calls(), [][]string{{"ns/early", "ns/late"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("Activate calls = %v, want %v", got, want)
	}
	log := logger.GetSink().(ktesting.Underlier).GetBuffer().String()
	for _, want := range []string{"caches did not sync", "RBAC", "cannot list resource"} {
		if !strings.Contains(log, want) {
			t.Errorf("scheduler log lacks %q:\n%s", want, log)
		}
	}

	// Let through unchecked, with an event; the condition is left alone.
	calls := len(cs.Actions())
	if s := g.check(ctx, early); s != nil {
		t.Fatalf("check after the timeout = %v, want the pod let through", s)
	}
	wantBypass := "Warning " + ReasonGateBypassed + " the dependency gate's caches did not sync within 2s (ConfigMap: " +
		forbidden + "); scheduling without checking that ConfigMaps exist"
	if ev := nextEvent(); ev != wantBypass {
		t.Errorf("event = %q, want %q", ev, wantBypass)
	}
	if n := len(cs.Actions()); n != calls {
		t.Errorf("%d API calls for a pod let through, want none (event only)", n-calls)
	}

	// The caches sync late: the gate is on again.
	st.setSynced()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("activateWhenSynced did not return after the store synced")
	}
	if s := g.check(ctx, cmPod("ns", "later", "x")); s.Code() != fwk.UnschedulableAndUnresolvable ||
		!strings.Contains(s.Message(), `waiting for ConfigMap "x"`) {
		t.Errorf("check after a late sync = %v, want the pod held for its missing ConfigMap", s)
	}
	if log := logger.GetSink().(ktesting.Underlier).GetBuffer().String(); !strings.Contains(log, "caches synced") {
		t.Errorf("scheduler log does not say the caches synced late:\n%s", log)
	}
}

// Every held pod is reported however far the writer is behind: with narrow
// queueing hints nothing re-runs a held pod to report it again. A second
// hold of the same pod replaces its report.
func TestGateReportsEveryHeldPod(t *testing.T) {
	g := testGate(Selection{ConfigMaps: true}, newFakeStore(true), &fakeHandle{})
	const n = 3000
	for i := range n {
		if g.check(context.Background(), cmPod("ns", fmt.Sprint("p", i), "missing")) == nil {
			t.Fatal("pod with a missing ConfigMap admitted")
		}
	}
	_ = g.check(context.Background(), cmPod("ns", "p0", "other"))
	pending := map[string]report{}
	g.reports.takeInto(pending)
	if len(pending) != n {
		t.Fatalf("%d reports waiting, want %d (one per held pod)", len(pending), n)
	}
	if msg := pending["ns/p0"].msg; !strings.Contains(msg, `"other"`) {
		t.Errorf("p0's report %q, want its latest hold (ConfigMap \"other\")", msg)
	}
}

// poll takes one waiting report, if any.
func (q *reportQueue) poll() (report, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for k, r := range q.m {
		delete(q.m, k)
		return r, true
	}
	return report{}, false
}
