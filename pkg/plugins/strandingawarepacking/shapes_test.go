package strandingawarepacking

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"testing/synctest"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/snug-sched/snug/pkg/apis/config"
	"github.com/snug-sched/snug/pkg/stranding"
)

// resizePod is a running pod with an app container and a sidecar, each
// with its spec requests, the kubelet's allocated requests and the actuated
// requests in its container status (cpu in millicores, memory 1Gi).
type resizePod struct {
	app, appAllocated, appActuated    int64
	side, sideAllocated, sideActuated int64
	infeasible                        bool // PodResizePending, reason Infeasible
}

func (r resizePod) pod() *corev1.Pod {
	req := func(milli int64) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(milli, resource.DecimalSI), corev1.ResourceMemory: resource.MustParse("1Gi")}
	}
	status := func(name string, allocated, actuated int64) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: name, AllocatedResources: req(allocated), Resources: &corev1.ResourceRequirements{Requests: req(actuated)}}
	}
	p := makePod("resized", "n1", nil)
	p.Spec.Containers = []corev1.Container{{Name: "app", Resources: corev1.ResourceRequirements{Requests: req(r.app)}}}
	p.Spec.InitContainers = []corev1.Container{{Name: "side", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
		Resources: corev1.ResourceRequirements{Requests: req(r.side)}}}
	p.Status.Phase = corev1.PodRunning
	p.Status.ContainerStatuses = []corev1.ContainerStatus{status("app", r.appAllocated, r.appActuated)}
	p.Status.InitContainerStatuses = []corev1.ContainerStatus{status("side", r.sideAllocated, r.sideActuated)}
	if r.infeasible {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodResizePending, Status: corev1.ConditionTrue, Reason: corev1.PodReasonInfeasible}}
	}
	return p
}

// An in-place resize moves a running pod from its old shape to its new one
// through several updates, in the order the kubelet writes them: spec, then
// allocated, then actuated resources, or a PodResizePending condition. After
// every update the learner must hold exactly the pod's current shape, and
// after the deletion nothing, whichever of the fields changed.
func TestShapeLearnerFollowsInPlaceResize(t *testing.T) {
	steady := resizePod{app: 1000, appAllocated: 1000, appActuated: 1000, side: 200, sideAllocated: 200, sideActuated: 200}
	// Each step changes the pod as one update of the kubelet or the user does.
	type step = func(*resizePod)
	tests := []struct {
		name  string
		steps []step
	}{
		{"app upsized", []step{
			func(r *resizePod) { r.app = 2000 },
			func(r *resizePod) { r.appAllocated = 2000 },
			func(r *resizePod) { r.appActuated = 2000 },
		}},
		{"app downsized", []step{
			func(r *resizePod) { r.app = 500 },
			func(r *resizePod) { r.appAllocated = 500 },
			func(r *resizePod) { r.appActuated = 500 },
		}},
		{"app downsized, actuated before allocated", []step{
			func(r *resizePod) { r.app = 500 },
			func(r *resizePod) { r.appActuated = 500 },
			func(r *resizePod) { r.appAllocated = 500 },
		}},
		{"upsize found infeasible", []step{
			func(r *resizePod) { r.app = 4000 },
			func(r *resizePod) { r.infeasible = true },
		}},
		{"sidecar downsized", []step{
			func(r *resizePod) { r.side = 100 },
			func(r *resizePod) { r.sideAllocated = 100 },
			func(r *resizePod) { r.sideActuated = 100 },
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewShapeLearner(config.ShapeSource{Mode: config.ShapeSourceLearned, MaxLearned: 16})
			h := l.EventHandler()
			state := steady
			prev := state.pod()
			h.OnAdd(prev, false)
			for i, change := range tt.steps {
				change(&state)
				cur := state.pod()
				h.OnUpdate(prev, cur)
				prev = cur
				if got, want := shapeKeys(l.Snapshot()), []string{ShapeOf(cur).String()}; !slices.Equal(got, want) {
					t.Fatalf("after update %d (%+v): learned %v, want the pod's shape %v", i, state, got, want)
				}
			}
			h.OnDelete(prev)
			if got := l.Snapshot(); len(got) != 0 {
				t.Fatalf("after deletion: learned %v, want nothing", shapeKeys(got))
			}
		})
	}
}

// The model holds stranding.MaxShapes shapes: static shapes take their
// places first and the learner keeps the most frequent of the rest.
func TestShapeLearnerLeavesRoomForStaticShapes(t *testing.T) {
	src := config.ShapeSource{Mode: config.ShapeSourceLearned, MaxLearned: 64}
	for i := 0; i < 3; i++ {
		src.Static = append(src.Static, config.PodShape{Requests: corev1.ResourceList{
			corev1.ResourceCPU: *resource.NewQuantity(int64(100+i), resource.DecimalSI)}})
	}
	l := NewShapeLearner(src)
	for i := 0; i < 70; i++ {
		// 70 shapes far enough apart not to share a bucket.
		l.Observe(makePod(fmt.Sprint("p", i), "", res(fmt.Sprint(1+i%7), fmt.Sprintf("%dGi", 1+i/7))), 1+i)
	}
	if got := len(l.Snapshot()); got != stranding.MaxShapes {
		t.Errorf("%d shapes, want %d (3 static, 61 learned)", got, stranding.MaxShapes)
	}
}

// The plugins of one framework share a learner; when the framework's
// context ends the learner is forgotten, so a framework built per run (the
// simulator's) does not keep its informer factory alive.
func TestSharedLearnerForgottenWithItsFramework(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		factory := informers.NewSharedInformerFactory(fake.NewClientset(), 0)
		ctx, cancel := context.WithCancel(t.Context())
		first, err := SharedLearner(ctx, factory)
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := SharedLearner(ctx, factory); again != first {
			t.Fatal("two plugins of one framework got different learners")
		}
		cancel()
		synctest.Wait() // the context's AfterFunc has run
		if _, kept := sharedLearners.Load(factory); kept {
			t.Fatal("the learner of a framework whose context ended is still registered")
		}
		other := informers.NewSharedInformerFactory(fake.NewClientset(), 0)
		if l, _ := SharedLearner(t.Context(), other); l == first {
			t.Error("another framework got the first one's learner")
		}
	})
}

// SetFor counts the pod being scheduled once, whether or not its informer
// add has reached the learner, and leaves the learner as it was.
func TestShapeLearnerSetForCountsThePodOnce(t *testing.T) {
	small := func(name string) *corev1.Pod { return makePod(name, "", res("1", "1Gi")) }
	big := func(name string) *corev1.Pod { return makePod(name, "", res("8", "32Gi")) }
	done := func(p *corev1.Pod) *corev1.Pod { p = p.DeepCopy(); p.Status.Phase = corev1.PodSucceeded; return p }
	tests := []struct {
		name   string
		events func(h cache.ResourceEventHandler)
		pod    *corev1.Pod
		want   map[string]float64 // shape -> weight SetFor sees
	}{
		{"pod not heard of yet", func(h cache.ResourceEventHandler) { h.OnAdd(small("a"), false) },
			big("b"), map[string]float64{ShapeOf(small("a")).String(): 1, ShapeOf(big("b")).String(): 1}},
		{"pod heard of", func(h cache.ResourceEventHandler) { h.OnAdd(small("a"), false); h.OnAdd(big("b"), false) },
			big("b"), map[string]float64{ShapeOf(small("a")).String(): 1, ShapeOf(big("b")).String(): 1}},
		{"pod of a counted shape", func(h cache.ResourceEventHandler) { h.OnAdd(small("a"), false) },
			small("c"), map[string]float64{ShapeOf(small("a")).String(): 2}},
		{"pod deleted and created again", func(h cache.ResourceEventHandler) { h.OnAdd(big("b"), false); h.OnDelete(big("b")) },
			big("b"), map[string]float64{ShapeOf(big("b")).String(): 1}},
		{"pod finished", func(h cache.ResourceEventHandler) { h.OnAdd(big("b"), false); h.OnUpdate(big("b"), done(big("b"))) },
			big("b"), map[string]float64{ShapeOf(big("b")).String(): 1}},
		{"pod without requests", func(h cache.ResourceEventHandler) { h.OnAdd(small("a"), false) },
			makePod("e", "", nil), map[string]float64{ShapeOf(small("a")).String(): 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewShapeLearner(DefaultShapeSource)
			tt.events(l.EventHandler())
			before := l.Set()
			got := map[string]float64{}
			set := l.SetFor(tt.pod)
			for i, sh := range set.Shapes {
				got[sh.String()] = set.Weights[i]
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("SetFor: %v, want %v", got, tt.want)
			}
			if after := l.Set(); !reflect.DeepEqual(after, before) {
				t.Errorf("SetFor changed the learner: %+v, was %+v", after, before)
			}
		})
	}
}
