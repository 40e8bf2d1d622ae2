// Package resourcemodel is snug's single definition of what a pod asks for.
//
// Every snug component (scheduler plugins, descheduler strategies, simulator,
// planner) reads a pod's requests and limits through this package, so that
// init containers, restartable init containers (sidecars), pod overhead and
// pod-level resources are counted the same way everywhere, and the same way
// the kube-scheduler's NodeResourcesFit counts them:
//
//	requests = max(sum(app containers + sidecars), max over init containers of
//	           (init container + sidecars started before it)) + overhead,
//	           replaced by pod-level requests where those are set.
//
// The arithmetic is delegated to k8s.io/component-helpers/resource.
package resourcemodel

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
	schedutil "k8s.io/kubernetes/pkg/scheduler/util"
)

// options mirrors what the 1.36 scheduler uses for NodeInfo accounting:
// in-place resize is GA, so status resources of running pods count, and
// pod-level resources are honoured.
var options = resourcehelper.PodResourcesOptions{
	UseStatusResources: true,
}

// Requests returns the pod's effective requests.
func Requests(pod *corev1.Pod) corev1.ResourceList {
	return resourcehelper.PodRequests(pod, options)
}

// FitRequests is what the scheduler's NodeResourcesFit charges a pod it is
// placing (its PreFilter): a pending pod has no status resources, and
// pod-level requests count only with the PodLevelResources feature, which
// the caller passes. A check that must never reject a pod NodeResourcesFit
// would admit uses this figure, not Requests.
func FitRequests(pod *corev1.Pod, podLevelResources bool) corev1.ResourceList {
	return resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{SkipPodLevelResources: !podLevelResources})
}

// ScoringRequests is Requests as kube-scheduler's scoring counts it (the
// NonZeroRequested of its NodeInfo, and noderesources' scores): a container
// that does not request cpu or memory counts upstream's defaults,
// schedutil.DefaultMilliCPURequest (100m) and DefaultMemoryRequest (200Mi),
// or, with pod-level requests, the pod does when it sets none for the
// resource. Zero-request pods would otherwise all score as if they took
// nothing, and pile onto the fullest node. Filters must use Requests.
func ScoringRequests(pod *corev1.Pod) corev1.ResourceList {
	opts := options
	opts.NonMissingContainerRequests = scoringDefaults
	if resourcehelper.IsPodLevelRequestsSet(pod) {
		requests := Requests(pod)
		opts.NonMissingContainerRequests = corev1.ResourceList{}
		for name, q := range scoringDefaults {
			if _, ok := requests[name]; !ok {
				opts.NonMissingContainerRequests[name] = q
			}
		}
	}
	return resourcehelper.PodRequests(pod, opts)
}

var scoringDefaults = corev1.ResourceList{
	corev1.ResourceCPU:    *resource.NewMilliQuantity(schedutil.DefaultMilliCPURequest, resource.DecimalSI),
	corev1.ResourceMemory: *resource.NewQuantity(schedutil.DefaultMemoryRequest, resource.DecimalSI),
}

// Limits returns the pod's effective limits. A resource that some container
// leaves unlimited is absent or understated here; callers that need a bound
// decide how to count unlimited containers (see BoundedLimits).
func Limits(pod *corev1.Pod) corev1.ResourceList {
	return resourcehelper.PodLimits(pod, options)
}

// Value returns q in the integer unit the scheduler uses for name:
// millicores for cpu, plain units (bytes, counts) for everything else.
func Value(name corev1.ResourceName, list corev1.ResourceList) int64 {
	q, ok := list[name]
	if !ok {
		return 0
	}
	if name == corev1.ResourceCPU {
		return q.MilliValue()
	}
	return q.Value()
}

// BoundedLimits returns the pod's effective limits where a container that
// sets no limit for a resource counts its request instead (a BestEffort
// container counts 0). That is the share of the node the pod is entitled to
// burst into that the scheduler can know about: an unlimited container may
// use more, but counting it as the whole node would make one such pod fill
// any overcommit budget. Pod-level limits, init containers, sidecars and
// overhead are combined exactly as in Limits.
func BoundedLimits(pod *corev1.Pod) corev1.ResourceList {
	return resourcehelper.PodLimits(withBoundedLimits(pod), options)
}

// withBoundedLimits returns pod itself when every requested resource already
// has a limit, otherwise a copy sharing everything but the containers and
// pod-level resources it fills in. It runs for every pod on a node whose
// limit sum the scheduler recomputes, so it copies as little as it can.
func withBoundedLimits(pod *corev1.Pod) *corev1.Pod {
	initFill, appFill := needsFill(pod.Spec.InitContainers), needsFill(pod.Spec.Containers)
	pr := pod.Spec.Resources
	podFill := pr != nil && !limitsCover(pr.Requests, pr.Limits)
	if !initFill && !appFill && !podFill {
		return pod
	}
	p := *pod // shallow: only the fields below are replaced, never mutated
	if initFill {
		p.Spec.InitContainers = filled(pod.Spec.InitContainers)
	}
	if appFill {
		p.Spec.Containers = filled(pod.Spec.Containers)
	}
	if podFill {
		// A pod-level request without a pod-level limit bounds the pod by
		// that request, but never below its containers' own (bounded)
		// limits: a pod-level limit would replace those in PodLimits.
		containers := resourcehelper.AggregateContainerLimits(&p, options)
		limits := make(corev1.ResourceList, len(pr.Requests))
		for name, q := range pr.Limits {
			limits[name] = q
		}
		for name, q := range pr.Requests {
			if _, ok := limits[name]; !ok {
				if c, ok := containers[name]; ok && c.Cmp(q) > 0 {
					q = c
				}
				limits[name] = q
			}
		}
		res := *pr
		res.Limits = limits
		p.Spec.Resources = &res
	}
	return &p
}

// limitsCover reports whether every requested resource has a limit.
func limitsCover(requests, limits corev1.ResourceList) bool {
	for name := range requests {
		if _, ok := limits[name]; !ok {
			return false
		}
	}
	return true
}

func needsFill(cs []corev1.Container) bool {
	for i := range cs {
		if !limitsCover(cs[i].Resources.Requests, cs[i].Resources.Limits) {
			return true
		}
	}
	return false
}

// filled copies cs, giving each container that lacks a limit for a
// requested resource a new Limits list with the request in its place.
func filled(cs []corev1.Container) []corev1.Container {
	out := make([]corev1.Container, len(cs))
	copy(out, cs)
	for i := range out {
		r := &out[i].Resources
		if limitsCover(r.Requests, r.Limits) {
			continue
		}
		limits := make(corev1.ResourceList, len(r.Requests))
		for name, q := range r.Limits {
			limits[name] = q
		}
		for name, q := range r.Requests {
			if _, ok := limits[name]; !ok {
				limits[name] = q
			}
		}
		r.Limits = limits
	}
	return out
}
