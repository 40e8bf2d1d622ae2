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
	tests := []struct {
		name      string
		notReady  int  // how many checks report the preemptor not ready
		offer     int  // ticks offered at most
		expire    bool // the deadline fires once the offered ticks are taken
		closeDone bool // the scheduler has stopped before the watch starts
		wantTicks int  // ticks the watch takes before it returns
		wantActed bool
	}{
		{name: "activates on the tick after ready", notReady: 3, offer: 100, wantTicks: 5, wantActed: true},
		{name: "ready at once still waits one tick", notReady: 0, offer: 100, wantTicks: 2, wantActed: true},
		{name: "gives up at the deadline", notReady: 1 << 30, offer: 5, expire: true, wantTicks: 5},
		// No tick is ever offered: a watch that ignored done would hang
		// here (and fail at go test's timeout) instead of returning.
		{name: "stops with the scheduler", notReady: 0, closeDone: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan struct{})
			if tt.closeDone {
				close(done)
			}
			tick, deadline := make(chan time.Time), make(chan time.Time)
			var checks, activations atomic.Int32
			ready := func() bool { return checks.Add(1) > int32(tt.notReady) }
			finished := make(chan struct{})
			go func() {
				defer close(finished)
				waitThenActivate(done, tick, deadline, ready, func() { activations.Add(1) })
			}()
			// The tick channel is unbuffered: each send is one tick taken.
			ticks := 0
		offer:
			for ticks < tt.offer {
				select {
				case tick <- time.Time{}:
					ticks++
				case <-finished:
					break offer
				}
			}
			if tt.expire {
				close(deadline)
			}
			<-finished
			if ticks != tt.wantTicks {
				t.Errorf("returned after %d ticks, want %d", ticks, tt.wantTicks)
			}
			want := int32(0)
			if tt.wantActed {
				want = 1
			}
			if got := activations.Load(); got != want {
				t.Errorf("activated %d times, want %d", got, want)
			}
			// Ready is not asked again once it said yes: the next tick activates.
			if tt.wantActed && checks.Load() != int32(tt.notReady)+1 {
				t.Errorf("checked %d times, want %d", checks.Load(), tt.notReady+1)
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
