// Package predictabledemands is the PredictableDemands plugin: the
// Predictable Demands pattern enforced at scheduling time, in three parts
// that can each be switched off in the args, and a room check.
//
//  1. Dependency gate (PreEnqueue): a pod is not queued while a non-optional
//     ConfigMap, Secret (off by default) or PVC it references is missing in
//     its namespace; the pod's PodScheduled condition and an event name the
//     missing object, and the pod is activated as soon as it appears.
//     ConfigMaps and Secrets are watched cluster-wide (metadata only), so the
//     scheduler needs list/watch on them: every pod with a service-account
//     token mounts ConfigMap kube-root-ca.crt. Until the gate's caches have
//     synced it holds pods for at most SyncTimeout (30s), saying so on them
//     after 2s (reason DependencyGateNotSynced, with the informers' last
//     list/watch error); if
//     they have not synced by then, typically because RBAC forbids the list,
//     the scheduler logs an error and the gate lets pods through unchecked,
//     with a DependencyGateBypassed event on each, until the caches sync.
//     With leader election, every replica's gate holds pods (kube-scheduler
//     feeds its queue, and so PreEnqueue, in standbys too) but only the
//     leader writes conditions and events (leader.go); a standby that takes
//     over writes those of the pods it holds. A condition is patched only
//     onto the pod it is about, still unbound: the patch carries the pod's
//     UID and resourceVersion.
//
//  2. Declared demands (PreFilter): in namespaces selected by a label
//     selector, every container must request the configured resources, and
//     limit/request may be bounded per resource like LimitRange's
//     maxLimitRequestRatio.
//
//  3. Overcommit caps (Filter), none unless configured: per capped resource
//     r and node n,
//
//     sum over pods p on n of L_r(p) + L_r(incoming) <= ratio_r * allocatable_r(n)
//
//     where L_r is the pod's effective limit with a container that sets no
//     limit counting its request (resourcemodel.BoundedLimits). The sum is
//     over every pod on the node, whoever scheduled it, so a cap below what
//     a cluster already runs refuses snug's pods on those nodes; that is why
//     there is no default cap.
//
//  4. Room check (PreFilter, room.go): in profiles whose filters include
//     NodeResourcesFit, a pod that no node has room for by NodeResourcesFit's
//     own cpu, memory and pod-slot test,
//
//     for every node n: N_pods(n)+1 > pods(n) or some r in {cpu, memory} with
//     request_r > allocatable_r(n) - requested_r(n)
//
//     is rejected before a Filter pass over all nodes that can only fail,
//     with the status NodeResourcesFit would give every node (preemption
//     reads it). It never rejects a pod NodeResourcesFit admits somewhere.
//
// Requeueing (events.go, verdicts.go). The scheduling queue only knows that
// PredictableDemands rejected a pod, and calls the plugin's queueing hints
// for every event the plugin registered, a held pod's included. The plugin
// records which of the four concerns rejected each pod, and each hint
// answers for that concern only: a held pod is queued by its missing object
// alone, an undeclared pod by its own update that declares its demands, a
// pod refused for room or a cap by an event that frees room or limit budget
// it needs. The four concerns stay one plugin so that configurations that
// enable PredictableDemands keep all of them; the price is that the queue
// still calls a hint (which skips) per held pod and pod or node event.
package predictabledemands

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/snug-sched/snug/pkg/apis/config"
	"github.com/snug-sched/snug/pkg/apis/config/validation"
)

// Name is the plugin's name in the registry and in KubeSchedulerConfiguration.
const Name = "PredictableDemands"

// Plugin implements PreEnqueue, PreFilter, Filter and EnqueueExtensions.
type Plugin struct {
	args   config.PredictableDemandsArgs
	handle fwk.Handle

	gate *gate // nil when the dependency gate is off

	nsSelector labels.Selector // nil: declared demands enforced nowhere
	namespaces corelisters.NamespaceLister

	caps   []capSpec
	limits *limitCache

	room roomCheck

	// verdicts says which concern rejected each pod, for the queueing hints.
	verdicts verdicts
}

var (
	_ fwk.PreEnqueuePlugin  = &Plugin{}
	_ fwk.PreFilterPlugin   = &Plugin{}
	_ fwk.FilterPlugin      = &Plugin{}
	_ fwk.EnqueueExtensions = &Plugin{}
)

// Name returns the plugin name.
func (pl *Plugin) Name() string { return Name }

// New builds the plugin from validated args.
func New(ctx context.Context, obj runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
	args, ok := obj.(*config.PredictableDemandsArgs)
	if !ok {
		return nil, fmt.Errorf("%s: want args of type PredictableDemandsArgs, got %T", Name, obj)
	}
	if err := validation.ValidatePredictableDemandsArgs(field.NewPath(Name+"Args"), args); err != nil {
		return nil, err
	}
	registerMetrics()
	pl := &Plugin{args: *args.DeepCopy(), handle: h, limits: newLimitCache()}
	if sel := args.DeclaredDemands.NamespaceSelector; sel != nil {
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			return nil, err
		}
		pl.nsSelector = s
		if h == nil {
			// No framework (tools, tests): an empty selector still enforces everywhere.
		} else if f := h.SharedInformerFactory(); f != nil {
			pl.namespaces = f.Core().V1().Namespaces().Lister()
		}
	}
	for _, c := range args.OvercommitCaps.Caps {
		pl.caps = append(pl.caps, capSpec{resource: c.Resource, ratio: newExactRatio(c.Ratio),
			reason:   fmt.Sprintf("node(s) would exceed the %s limit cap (%s x allocatable)", c.Resource, c.Ratio.String()),
			rejected: capRejections.WithLabelValues(string(c.Resource))})
	}
	if len(pl.caps) > maxCaps {
		return nil, fmt.Errorf("%s: at most %d overcommit caps", Name, maxCaps)
	}
	if args.DependencyGate.Enabled {
		g, err := newGate(ctx, h, args.DependencyGate)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", Name, err)
		}
		pl.gate = g
	}
	pl.forgetBoundAndDeleted(h)
	klog.FromContext(ctx).V(2).Info("PredictableDemands ready", "gate", pl.gate != nil,
		"declaredDemands", pl.nsSelector != nil, "caps", len(pl.caps))
	return pl, nil
}

// PreEnqueue holds the pod back while a dependency is missing.
func (pl *Plugin) PreEnqueue(ctx context.Context, pod *corev1.Pod) *fwk.Status {
	if pl.gate == nil {
		return nil
	}
	s := pl.gate.check(ctx, pod)
	if s.IsSuccess() {
		pl.verdicts.clear(pod.UID, byGate)
	} else {
		pl.verdicts.add(pod.UID, byGate)
	}
	return s
}
