package predictabledemands

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	podutil "k8s.io/kubernetes/pkg/api/v1/pod"
)

var podsResource = corev1.SchemeGroupVersion.WithResource("pods")

// apiServer is a fake clientset whose status patches check the
// preconditions a patch may carry as the API server does: a resourceVersion
// other than the pod's is a conflict, a uid other than the pod's an invalid
// update (the uid is immutable). It records the patches it was sent.
type apiServer struct {
	*fake.Clientset
	mu       sync.Mutex
	patches  []string // every status patch sent, accepted or not
	accepted int
	// alwaysConflict makes every patch a conflict.
	alwaysConflict bool
}

func newAPIServer(pods ...*corev1.Pod) *apiServer {
	var objs []runtime.Object
	for _, p := range pods {
		objs = append(objs, p)
	}
	s := &apiServer{Clientset: fake.NewClientset(objs...)}
	s.PrependReactor("patch", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pa := a.(k8stesting.PatchAction)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.patches = append(s.patches, string(pa.GetPatch()))
		var body struct {
			Metadata struct {
				UID             types.UID `json:"uid"`
				ResourceVersion string    `json:"resourceVersion"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(pa.GetPatch(), &body); err != nil {
			return true, nil, apierrors.NewBadRequest(err.Error())
		}
		obj, err := s.Tracker().Get(podsResource, pa.GetNamespace(), pa.GetName())
		if err != nil {
			return true, nil, err
		}
		cur := obj.(*corev1.Pod)
		gr := schema.GroupResource{Resource: "pods"}
		if s.alwaysConflict || (body.Metadata.ResourceVersion != "" && body.Metadata.ResourceVersion != cur.ResourceVersion) {
			return true, nil, apierrors.NewConflict(gr, cur.Name, nil)
		}
		if body.Metadata.UID != "" && body.Metadata.UID != cur.UID {
			return true, nil, apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, cur.Name, field.ErrorList{
				field.Invalid(field.NewPath("metadata", "uid"), body.Metadata.UID, "field is immutable")})
		}
		s.accepted++
		return false, nil, nil // the tracker applies it
	})
	return s
}

func (s *apiServer) sent() ([]string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.patches...), s.accepted
}

func (s *apiServer) pod(t *testing.T, ns, name string) *corev1.Pod {
	t.Helper()
	obj, err := s.Tracker().Get(podsResource, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*corev1.Pod)
}

func withRV(p *corev1.Pod, rv string) *corev1.Pod {
	p = p.DeepCopy()
	p.ResourceVersion = rv
	return p
}

func withUID(p *corev1.Pod, uid types.UID) *corev1.Pod {
	p = p.DeepCopy()
	p.UID = uid
	return p
}

func withCondition(p *corev1.Pod, c corev1.PodCondition) *corev1.Pod {
	p = p.DeepCopy()
	podutil.UpdatePodCondition(&p.Status, &c)
	return p
}

func TestPatchPodScheduled(t *testing.T) {
	read := withRV(cmPod("ns", "p", "x"), "1") // the pod as the informer has it
	cond := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		Reason: ReasonMissingDependency, Message: `waiting for ConfigMap "x"`}
	relabeled := withRV(read, "2")
	relabeled.Labels = map[string]string{"a": "b"}
	for _, tc := range []struct {
		name           string
		api            *corev1.Pod // the pod in the API server; nil: deleted
		alwaysConflict bool
		wantWritten    bool
		wantErr        bool
		wantPatches    int // sent, accepted or not
	}{
		{name: "unchanged", api: read, wantWritten: true, wantPatches: 1},
		{name: "recreated with a new UID", api: withRV(withUID(read, "new"), "5"), wantPatches: 1},
		// Only the UID tells the pods apart.
		{name: "recreated, same resourceVersion", api: withUID(read, "new"), wantPatches: 1},
		{name: "bound meanwhile", api: withRV(onNode(read, "node-1"), "2"), wantPatches: 1},
		{name: "updated meanwhile, still pending", api: relabeled, wantWritten: true, wantPatches: 2},
		{name: "already carries the condition", api: withRV(withCondition(read, cond), "2"), wantPatches: 1},
		{name: "deleted", wantPatches: 1},
		{name: "conflicts every time", api: read, alwaysConflict: true, wantErr: true, wantPatches: maxPatchAttempts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s *apiServer
			if tc.api != nil {
				s = newAPIServer(tc.api)
			} else {
				s = newAPIServer()
			}
			s.alwaysConflict = tc.alwaysConflict
			written, err := patchPodScheduled(context.Background(), s, read, cond)
			if written != tc.wantWritten || (err != nil) != tc.wantErr {
				t.Errorf("patchPodScheduled = %v, %v; want written %v, error %v", written, err, tc.wantWritten, tc.wantErr)
			}
			patches, accepted := s.sent()
			if len(patches) != tc.wantPatches {
				t.Errorf("%d patches sent, want %d: %q", len(patches), tc.wantPatches, patches)
			}
			if want := map[bool]int{true: 1}[tc.wantWritten]; accepted != want {
				t.Errorf("%d patches accepted, want %d", accepted, want)
			}
			for _, p := range patches {
				if !strings.Contains(p, `"uid":"ns/p"`) || !strings.Contains(p, `"resourceVersion":"`) {
					t.Errorf("patch %s lacks the uid or resourceVersion precondition", p)
				}
			}
			if tc.api == nil {
				return
			}
			got := s.pod(t, "ns", "p")
			_, c := podutil.GetPodCondition(&got.Status, corev1.PodScheduled)
			has := c != nil && c.Reason == cond.Reason && c.Message == cond.Message
			if wantCond := tc.wantWritten || tc.name == "already carries the condition"; has != wantCond {
				t.Errorf("pod in the API server has the condition: %v, want %v (%+v)", has, wantCond, got.Status.Conditions)
			}
			if tc.name == "updated meanwhile, still pending" && got.Labels["a"] != "b" {
				t.Errorf("patch lost the concurrent update: labels %v", got.Labels)
			}
		})
	}
}

// podIndex is a pod informer's store and lister, filled by the test.
type podIndex struct {
	store  cache.Indexer
	lister corelisters.PodLister
}

func newPodIndex(pods ...*corev1.Pod) *podIndex {
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, p := range pods {
		_ = idx.Add(p)
	}
	return &podIndex{store: idx, lister: corelisters.NewPodLister(idx)}
}

func (i *podIndex) set(p *corev1.Pod) { _ = i.store.Update(p) }

// gateWithPods is a gate over the informer's pods, with a fake API server
// holding the same pods.
func gateWithPods(st store, pods ...*corev1.Pod) (*gate, *podIndex, *apiServer, *events.FakeRecorder) {
	s := newAPIServer(pods...)
	rec := events.NewFakeRecorder(100)
	g := testGate(gateDefaults, st, &fakeHandle{cs: s, rec: rec})
	idx := newPodIndex(pods...)
	g.held.lister = idx.lister
	return g, idx, s, rec
}

func recorded(rec *events.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// Before it patches, the gate looks at the pod in the informer: a report
// about a pod that was replaced, bound, deleted or let through since is
// dropped, with no patch and no event.
func TestGateWriteSkipsChangedPods(t *testing.T) {
	held := withRV(cmPod("ns", "p", "x"), "1")
	for _, tc := range []struct {
		name      string
		informer  func(*podIndex) // what happened after the report
		release   bool            // the gate let the pod through since
		eventOnly bool
		wantPatch bool
		wantEvent bool
	}{
		{name: "as reported", wantPatch: true, wantEvent: true},
		{name: "recreated with a new UID", informer: func(i *podIndex) { i.set(withRV(withUID(held, "new"), "3")) }},
		{name: "bound meanwhile", informer: func(i *podIndex) { i.set(withRV(onNode(held, "node-1"), "2")) }},
		{name: "deleted", informer: func(i *podIndex) { _ = i.store.Delete(held) }},
		{name: "let through since", release: true},
		{name: "bypass event on a pod bound since", eventOnly: true, wantEvent: true,
			informer: func(i *podIndex) { i.set(withRV(onNode(held, "node-1"), "2")) }},
		{name: "bypass event on a recreated pod", eventOnly: true,
			informer: func(i *podIndex) { i.set(withRV(withUID(held, "new"), "3")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, idx, s, rec := gateWithPods(newFakeStore(true), held)
			var r report
			if tc.eventOnly {
				r = report{pod: held, reason: ReasonGateBypassed, msg: "unchecked", eventOnly: true}
			} else {
				if g.check(context.Background(), held) == nil {
					t.Fatal("pod with a missing ConfigMap admitted")
				}
				r, _ = g.reports.poll()
			}
			if tc.release {
				g.held.release("ns/p", held.UID)
			}
			if tc.informer != nil {
				tc.informer(idx)
			}
			g.write(context.Background(), r)
			if patches, _ := s.sent(); (len(patches) > 0) != tc.wantPatch {
				t.Errorf("patches %q, want a patch: %v", patches, tc.wantPatch)
			}
			if evs := recorded(rec); (len(evs) > 0) != tc.wantEvent {
				t.Errorf("events %q, want an event: %v", evs, tc.wantEvent)
			}
		})
	}
}

type fakeLeader struct{ on atomic.Bool }

func (l *fakeLeader) leading() bool { return l.on.Load() }

// A standby holds pods without a write; once it leads it reports on those
// still held, unbound and the same pod.
func TestGateStandbyWritesOnlyOnceLeading(t *testing.T) {
	a, b, c := withRV(cmPod("ns", "a", "x"), "1"), withRV(cmPod("ns", "b", "x"), "1"), withRV(cmPod("ns", "c", "x"), "1")
	g, idx, s, rec := gateWithPods(newFakeStore(true), a, b, c)
	l := &fakeLeader{}
	g.leader = l
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { g.reportLoop(ctx); close(done) }()
	for _, p := range []*corev1.Pod{a, b, c} {
		if g.check(ctx, p) == nil {
			t.Fatalf("%s admitted with a missing ConfigMap", p.Name)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(s.Actions()); n != 0 {
		t.Errorf("standby made %d API calls: %v", n, s.Actions())
	}
	if evs := recorded(rec); len(evs) != 0 {
		t.Errorf("standby recorded events %q", evs)
	}
	// Meanwhile the leader bound b, and c was deleted and recreated.
	bound := withRV(onNode(b, "node-1"), "2")
	idx.set(bound)
	if err := s.Tracker().Update(podsResource, bound, "ns"); err != nil {
		t.Fatal(err)
	}
	idx.set(withRV(withUID(c, "c-2"), "4"))

	l.on.Store(true)
	var evs []string
	select {
	case e := <-rec.Events:
		evs = append(evs, e)
	case <-time.After(10 * time.Second):
		t.Fatal("the new leader did not report on the held pod")
	}
	time.Sleep(200 * time.Millisecond) // for any report it should not make
	evs = append(evs, recorded(rec)...)
	patches, _ := s.sent()
	if len(patches) != 1 || !strings.Contains(patches[0], `"uid":"ns/a"`) {
		t.Errorf("patches %q, want one, on pod a", patches)
	}
	if len(evs) != 1 || !strings.HasPrefix(evs[0], "Warning "+ReasonMissingDependency) {
		t.Errorf("events %q, want one MissingDependency event (pod a)", evs)
	}
	if _, c := podutil.GetPodCondition(&s.pod(t, "ns", "b").Status, corev1.PodScheduled); c != nil {
		t.Errorf("bound pod b got condition %+v", c)
	}
	cancel()
	<-done
}

// A standby does not keep reports of pods that are gone, bound or let
// through meanwhile.
func TestGateDropStale(t *testing.T) {
	pods := map[string]*corev1.Pod{}
	for _, n := range []string{"kept", "deleted", "bound", "recreated", "released"} {
		pods[n] = withRV(cmPod("ns", n, "x"), "1")
	}
	all := slices.Collect(maps.Values(pods))
	g, idx, _, _ := gateWithPods(newFakeStore(true), all...)
	pending := map[string]report{}
	for n, p := range pods {
		if g.check(context.Background(), p) == nil {
			t.Fatalf("%s admitted", n)
		}
		pending["ns/"+n], _ = g.reports.poll()
	}
	pending["ns/bypassed"] = report{pod: pods["kept"], reason: ReasonGateBypassed, eventOnly: true}
	_ = idx.store.Delete(pods["deleted"])
	idx.set(withRV(onNode(pods["bound"], "n"), "2"))
	idx.set(withRV(withUID(pods["recreated"], "new"), "2"))
	g.held.release("ns/released", pods["released"].UID)
	g.dropStale(pending)
	if got, want := slices.Sorted(maps.Keys(pending)), []string{"ns/bypassed", "ns/kept"}; !slices.Equal(got, want) {
		t.Errorf("kept reports %v, want %v", got, want)
	}
}
