package strandingawarepacking

import (
	"context"
	"reflect"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"
	v1helper "k8s.io/kubernetes/pkg/apis/core/v1/helper"

	"github.com/snug-sched/snug/pkg/apis/config"
	"github.com/snug-sched/snug/pkg/stranding"
)

// layoutRules turn resource names into a layout as the args say: the
// configured resources with their weights, then every extended resource
// (and every other resource listed as scarce) in name order at
// extendedResourceWeight.
type layoutRules struct {
	base           stranding.Layout // the configured resources
	scarce         map[corev1.ResourceName]bool
	scarceExtended bool
	extendedWeight float64
}

func newLayoutRules(args *config.StrandingAwarePackingArgs) layoutRules {
	r := layoutRules{
		base:           stranding.NewLayout(),
		scarce:         map[corev1.ResourceName]bool{},
		scarceExtended: args.ScarceResources.ExtendedResources,
		extendedWeight: float64(args.ExtendedResourceWeight),
	}
	for _, n := range args.ScarceResources.Names {
		r.scarce[n] = true
	}
	r.base.ScarceFragmentation = float64(args.ScarceResources.FragmentationWeight)
	for _, res := range args.Resources {
		r.base.Add(res.Name, float64(res.Weight), r.isScarce(res.Name))
	}
	return r
}

func (r *layoutRules) isScarce(n corev1.ResourceName) bool {
	return r.scarce[n] || (r.scarceExtended && v1helper.IsExtendedResourceName(n))
}

// layout returns the configured resources followed by the extended (or
// scarce) resources among names, in name order. It reorders and filters
// names in place.
func (r *layoutRules) layout(names []corev1.ResourceName) stranding.Layout {
	l := r.base
	names = slices.DeleteFunc(names, func(n corev1.ResourceName) bool {
		return !v1helper.IsExtendedResourceName(n) && !r.scarce[n]
	})
	l.AddSorted(names, r.extendedWeight, r.isScarce)
	return l
}

// appendShapeNames appends the resources the shapes ask for to names.
func appendShapeNames(names []corev1.ResourceName, shapes []Shape) []corev1.ResourceName {
	for _, sh := range shapes {
		for _, q := range sh {
			names = append(names, q.Name)
		}
	}
	return names
}

// Judge sees a node as a profile's StrandingAwarePacking does: the same
// resources with the same weights, and the same shapes. The preemption
// plugin ranks candidate nodes by the stranding they are left with through
// it, so that the two plugins of a profile call the same capacity stranded.
type Judge struct {
	rules  layoutRules
	shapes *ShapeLearner
}

// DefaultJudge is the judge of a profile without StrandingAwarePacking:
// cpu, memory, ephemeral-storage, pods and every extended resource at
// weight 1, against the shapes of learner.
func DefaultJudge(learner *ShapeLearner) *Judge {
	args := config.StrandingAwarePackingArgs{ExtendedResourceWeight: 1}
	for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage, corev1.ResourcePods} {
		args.Resources = append(args.Resources, config.ResourceWeight{Name: n, Weight: 1})
	}
	return &Judge{rules: newLayoutRules(&args), shapes: learner}
}

// Shapes is the judge's shape source.
func (j *Judge) Shapes() *ShapeLearner { return j.shapes }

// Names returns the resources a pod's requests and the shapes ask for, as
// Layout takes them.
func Names(requests corev1.ResourceList, shapes []Shape) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(requests))
	for n := range requests {
		names = append(names, n)
	}
	return appendShapeNames(names, shapes)
}

// Layout is the layout in which the plugin judges node ni for a pod and
// shapes asking for names (see Names), as its PreScore builds it for a
// cycle of that node alone: the configured resources, then the extended
// resources of names and of ni's allocatable in name order.
//
// The preemption plugin calls it for each candidate node: a layout holds
// at most stranding.MaxDims names, so the buffer on the stack usually holds
// them all and the call allocates nothing.
func (j *Judge) Layout(ni fwk.NodeInfo, names []corev1.ResourceName) stranding.Layout {
	var buf [2 * stranding.MaxDims]corev1.ResourceName
	all := append(buf[:0], names...)
	for n := range ni.GetAllocatable().GetScalarResources() {
		all = append(all, n)
	}
	return j.rules.layout(all)
}

// judges holds the judge of each framework's StrandingAwarePacking, so
// that other plugins of the profile can reach it through their handle:
// the framework gives plugins no access to each other or to other plugins'
// args. An entry leaves with its framework's context.
var judges sync.Map // fwk.Handle -> *Judge

// JudgeOf returns the judge of the StrandingAwarePacking plugin of h's
// profile, or nil if the profile has none. Plugins are built in no fixed
// order, so call it once the framework is built (at scheduling time), not
// from a plugin's constructor.
func JudgeOf(h fwk.Handle) *Judge {
	if !registrable(h) {
		return nil
	}
	if j, ok := judges.Load(h); ok {
		return j.(*Judge)
	}
	return nil
}

func registerJudge(ctx context.Context, h fwk.Handle, j *Judge) {
	if !registrable(h) {
		return
	}
	judges.Store(h, j)
	context.AfterFunc(ctx, func() { judges.CompareAndDelete(h, j) })
}

// registrable reports whether h can key a map (the framework's handle is a
// pointer; a test's may not be).
func registrable(h fwk.Handle) bool {
	return h != nil && reflect.TypeOf(h).Comparable()
}
