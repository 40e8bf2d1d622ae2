// Package strandingawarepacking is the StrandingAwarePacking score plugin:
// bin packing that avoids stranded resources, keeps pods off scarce
// resources they do not use, and spreads across topology domains before it
// packs within them.
//
// The arithmetic lives in pkg/stranding (see its package doc for the model
// and formula); this package is the framework glue. PreScore fixes the cycle's
// resource layout, the pod's vector, the shapes and the soft spread
// constraints; Score evaluates one node without allocating; NormalizeScore
// maps the lexicographic order (scarce tier, spread violation, R) onto
// [0, 100].
//
// Scores count cpu and memory as kube-scheduler's scores do: a container
// without a cpu or memory request counts 100m or 200Mi, in the incoming pod
// (resourcemodel.ScoringRequests) and in the pods on the node (the node's
// NonZeroRequested), so that a BestEffort pod is judged by what it will
// use rather than as a zero vector that changes nothing and so lands on the
// fullest node. Filters (NodeResourcesFit) and the stranded-capacity
// metrics count the real requests.
package strandingawarepacking

import (
	"context"
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/snug-sched/snug/pkg/apis/config"
	"github.com/snug-sched/snug/pkg/apis/config/validation"
	"github.com/snug-sched/snug/pkg/stranding"
)

// Name is the plugin's name in the registry and in KubeSchedulerConfiguration.
const Name = "StrandingAwarePacking"

// Plugin implements PreScore, Score and NormalizeScore, and Reserve to tell
// its shape learner a pod is no longer pending.
type Plugin struct {
	args    config.StrandingAwarePackingArgs
	handle  fwk.Handle
	weights stranding.Weights
	shapes  *ShapeLearner
	// judge holds the args' layout rules and the shapes; the preemption
	// plugin of the profile reaches it with JudgeOf.
	judge *Judge

	// Listers for DefaultSelector (default spread constraints), nil without an informer factory.
	services     corelisters.ServiceLister
	replCtrls    corelisters.ReplicationControllerLister
	replicaSets  appslisters.ReplicaSetLister
	statefulSets appslisters.StatefulSetLister
}

var (
	_ fwk.PreScorePlugin    = &Plugin{}
	_ fwk.ScorePlugin       = &Plugin{}
	_ fwk.ScoreExtensions   = &Plugin{}
	_ fwk.EnqueueExtensions = &Plugin{}
	_ fwk.ReservePlugin     = &Plugin{}
)

// Name returns the plugin name.
func (pl *Plugin) Name() string { return Name }

// New builds the plugin from validated args.
func New(ctx context.Context, obj runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
	args, ok := obj.(*config.StrandingAwarePackingArgs)
	if !ok {
		return nil, fmt.Errorf("%s: want args of type StrandingAwarePackingArgs, got %T", Name, obj)
	}
	if err := validation.ValidateStrandingAwarePackingArgs(field.NewPath(Name+"Args"), args); err != nil {
		return nil, err
	}
	registerMetrics()
	pl := &Plugin{
		args:    *args.DeepCopy(),
		handle:  h,
		weights: stranding.Weights{Packing: float64(args.PackingWeight), Stranding: float64(args.StrandingWeight), Level: float64(args.StrandedLevelWeight), Host: float64(args.HostScarcityWeight), Bundle: float64(args.ScarceBundleWeight)},
		shapes:  NewShapeLearner(args.Shapes),
	}
	if f := h.SharedInformerFactory(); f != nil {
		pl.services = f.Core().V1().Services().Lister()
		pl.replCtrls = f.Core().V1().ReplicationControllers().Lister()
		pl.replicaSets = f.Apps().V1().ReplicaSets().Lister()
		pl.statefulSets = f.Apps().V1().StatefulSets().Lister()
		switch {
		case reflect.DeepEqual(args.Shapes, DefaultShapeSource):
			// Share the profile's default learner (one pod watch for all plugins).
			shared, err := SharedLearner(ctx, f)
			if err != nil {
				return nil, fmt.Errorf("%s: watching pod shapes: %w", Name, err)
			}
			pl.shapes = shared
		case args.Shapes.Mode == config.ShapeSourceLearned:
			if _, err := f.Core().V1().Pods().Informer().AddEventHandler(pl.shapes.EventHandler()); err != nil {
				return nil, fmt.Errorf("%s: watching pod shapes: %w", Name, err)
			}
		}
	}
	pl.judge = &Judge{rules: newLayoutRules(args), shapes: pl.shapes}
	registerJudge(ctx, h, pl.judge)
	return pl, nil
}

// Shapes exposes the shape learner, so an in-process simulator without
// informers can feed it the pods it places.
func (pl *Plugin) Shapes() *ShapeLearner { return pl.shapes }

// EventsToRegister returns no events: a score plugin never rejects a pod, so
// no cluster event can make a pod it rejected schedulable.
func (pl *Plugin) EventsToRegister(context.Context) ([]fwk.ClusterEventWithHint, error) {
	return nil, nil
}

// ScoreExtensions returns the plugin itself: NormalizeScore is required.
func (pl *Plugin) ScoreExtensions() fwk.ScoreExtensions { return pl }

// ObservePod feeds the shape learner; the simulator calls it for the pods it
// places, binds or sees pending, as the scheduler's informer would.
func (pl *Plugin) ObservePod(pod *corev1.Pod, delta int) { pl.shapes.Observe(pod, delta) }

// Reserve counts the pod as bound in the shape learner once the scheduler
// has assumed it on a node: the next cycles see it in the node's usage and
// must not count it as pending demand too. The informer's binding update
// then changes nothing.
func (pl *Plugin) Reserve(_ context.Context, _ fwk.CycleState, pod *corev1.Pod, _ string) *fwk.Status {
	pl.shapes.Bind(pod, 1)
	return nil
}

// Unreserve makes the pod pending again when its binding fails (a no-op
// for a pod Reserve did not mark).
func (pl *Plugin) Unreserve(_ context.Context, _ fwk.CycleState, pod *corev1.Pod, _ string) {
	pl.shapes.Bind(pod, -1)
}

// ObserveBind tells the shape learner a pod is no longer pending.
func (pl *Plugin) ObserveBind(pod *corev1.Pod, delta int) { pl.shapes.Bind(pod, delta) }

// ObserverKey is the shape learner, shared by the plugins of a profile.
func (pl *Plugin) ObserverKey() any { return pl.shapes }
