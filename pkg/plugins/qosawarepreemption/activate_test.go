package qosawarepreemption

import (
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	fwk "k8s.io/kube-scheduler/framework"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	st "k8s.io/kubernetes/pkg/scheduler/testing"
	fakeext "k8s.io/kubernetes/pkg/scheduler/testing/framework"
)

func TestWaitThenActivate(t *testing.T) {
	const interval = 20 * time.Millisecond
	tests := []struct {
		name          string
		notReady      int // how many checks report the preemptor not ready
		closeDone     bool
		limit         time.Duration
		wantActivated bool
	}{
		{name: "activates once ready", notReady: 3, limit: time.Minute, wantActivated: true},
		{name: "activates one interval after the first check when ready at once", notReady: 0, limit: time.Minute, wantActivated: true},
		{name: "gives up at the limit", notReady: 1 << 30, limit: 3 * interval},
		// Ready at once: a watch that ignored done would activate.
		{name: "stops with the scheduler", notReady: 0, closeDone: true, limit: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan struct{})
			if tt.closeDone {
				close(done)
			}
			var checks, activations atomic.Int32
			ready := func() bool { return checks.Add(1) > int32(tt.notReady) }
			start := time.Now()
			waitThenActivate(done, ready, func() { activations.Add(1) }, interval, tt.limit)
			elapsed := time.Since(start)
			want := int32(0)
			if tt.wantActivated {
				want = 1
			}
			if got := activations.Load(); got != want {
				t.Errorf("activated %d times, want %d", got, want)
			}
			if !tt.wantActivated {
				return
			}
			// Ready is not asked again once it said yes: the next tick activates.
			if checks.Load() != int32(tt.notReady)+1 {
				t.Errorf("checked %d times, want %d", checks.Load(), tt.notReady+1)
			}
			// Tickers never fire early: activating on the tick that found
			// the preemptor ready would return an interval sooner.
			if min := time.Duration(tt.notReady+2) * interval; elapsed < min {
				t.Errorf("activated after %v, want at least %v (one interval after ready)", elapsed, min)
			}
		})
	}
}

func TestVictimsGone(t *testing.T) {
	pod := func(name, uid, node string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(uid)}, Spec: corev1.PodSpec{NodeName: node}}
	}
	victims := []*corev1.Pod{pod("a", "ua", "n1"), pod("b", "ub", "n1")}
	terminating := pod("b", "ub", "n1")
	terminating.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	tests := []struct {
		name     string
		store    []*corev1.Pod // nil store: no informers
		noLister bool
		want     bool
	}{
		{name: "both still bound", store: victims, want: false},
		{name: "one deleted, one terminating", store: []*corev1.Pod{terminating}, want: false},
		{name: "both deleted", store: []*corev1.Pod{}, want: true},
		{name: "name reused by a new pod", store: []*corev1.Pod{pod("a", "new", "n2")}, want: true},
		{name: "rejected at Permit, not bound", store: []*corev1.Pod{pod("a", "ua", ""), pod("b", "ub", "")}, want: true},
		{name: "no informers", noLister: true, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lister corelisters.PodLister
			if !tt.noLister {
				idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
				for _, p := range tt.store {
					if err := idx.Add(p); err != nil {
						t.Fatal(err)
					}
				}
				lister = corelisters.NewPodLister(idx)
			}
			if got := victimsGone(lister, victims); got != tt.want {
				t.Errorf("victimsGone = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestExtenderMayChangeVictims(t *testing.T) {
	pod := st.MakePod().Name("p").Obj()
	tests := []struct {
		name      string
		extenders []fwk.Extender
		want      bool
	}{
		{name: "no extenders", want: false},
		{name: "an interested preempting extender", extenders: []fwk.Extender{&fakeext.FakeExtender{ExtenderName: "e"}}, want: true},
		{name: "an uninterested one", extenders: []fwk.Extender{&fakeext.FakeExtender{ExtenderName: "e", UnInterested: true}}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, defaultArgs(t, ""), nil, nil, frameworkruntime.WithExtenders(tt.extenders))
			if got := e.pl.extenderMayChangeVictims(pod); got != tt.want {
				t.Errorf("extenderMayChangeVictims = %v, want %v", got, tt.want)
			}
		})
	}
}
