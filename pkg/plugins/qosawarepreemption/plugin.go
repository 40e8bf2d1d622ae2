// Package qosawarepreemption is the QoSAwarePreemption PostFilter plugin. It
// replaces DefaultPreemption and reuses upstream's preemption machinery
// (preemption.Evaluator and Executor, DefaultPreemption's candidate
// sampling, nomination and async preemption), changing what upstream leaves
// to plugins:
//
//   - Eligible victims: lower priority than the preemptor and never a
//     DaemonSet pod, a mirror (static) pod or a pod already terminating:
//     evicting those frees nothing.
//   - Victim order on a node: lower priority first; within a priority
//     BestEffort, then Burstable, then Guaranteed (the kubelet's eviction
//     order); then bigger pods first, so fewer victims free the room; then
//     the most recently started.
//   - PodDisruptionBudgets: in Respect mode a victim that would violate a
//     PDB is never chosen (the preemptor stays pending, saying so); Prefer
//     is upstream's behaviour.
//   - Node choice: fewest PDB violations, lowest highest-victim priority,
//     lowest victim QoS, fewest victims, least stranded capacity left once
//     the preemptor runs there (pkg/stranding), latest start time.
//   - Async preemption: the preemptor is activated once its preemption
//     has finished and its victims are gone, so it cannot stay gated when
//     their deletion events came too early (kubernetes/kubernetes#141694).
package qosawarepreemption

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/defaultpreemption"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/feature"
	"k8s.io/kubernetes/pkg/scheduler/framework/preemption"
	schedmetrics "k8s.io/kubernetes/pkg/scheduler/metrics"

	"github.com/snug-sched/snug/pkg/apis/config"
	"github.com/snug-sched/snug/pkg/apis/config/validation"
	"github.com/snug-sched/snug/pkg/plugins/strandingawarepacking"
)

// Name is the plugin's name in the registry and in KubeSchedulerConfiguration.
const Name = "QoSAwarePreemption"

// Plugin implements PostFilter (and PreEnqueue for async preemption) and is
// the preemption.Interface of its own Evaluator.
type Plugin struct {
	// DefaultPreemption provides candidate sampling, victim maps and
	// nomination checks; its hooks are set to snug's eligibility and order.
	*defaultpreemption.DefaultPreemption

	fh        fwk.Handle
	args      config.QoSAwarePreemptionArgs
	evaluator *preemption.Evaluator
	shapes    *strandingawarepacking.ShapeLearner
	blocked   *pdbBlocked
	// async is the SchedulerAsyncPreemption gate; done ends the
	// activation watches (activateWhenPreempted) with the scheduler.
	async bool
	done  <-chan struct{}
	// pods is the informers' view of pods, where activation waits for
	// the victims to be gone.
	pods corelisters.PodLister
}

var (
	_ fwk.PostFilterPlugin  = &Plugin{}
	_ fwk.PreEnqueuePlugin  = &Plugin{}
	_ fwk.EnqueueExtensions = &Plugin{}
	_ preemption.Interface  = &Plugin{}
)

// Name returns the plugin name.
func (pl *Plugin) Name() string { return Name }

// New builds the plugin from validated args.
func New(ctx context.Context, obj runtime.Object, fh fwk.Handle) (fwk.Plugin, error) {
	args, ok := obj.(*config.QoSAwarePreemptionArgs)
	if !ok {
		return nil, fmt.Errorf("%s: want args of type QoSAwarePreemptionArgs, got %T", Name, obj)
	}
	if err := validation.ValidateQoSAwarePreemptionArgs(field.NewPath(Name+"Args"), args); err != nil {
		return nil, err
	}
	fts := feature.NewSchedulerFeaturesFromGates(utilfeature.DefaultFeatureGate)
	dp, err := defaultpreemption.New(ctx, &schedconfig.DefaultPreemptionArgs{
		MinCandidateNodesPercentage: args.MinCandidateNodesPercentage,
		MinCandidateNodesAbsolute:   args.MinCandidateNodesAbsolute,
	}, fh, fts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	// DefaultPreemption's IsEligiblePod and MoreImportantPod hooks are left
	// as upstream sets them: only its own SelectVictimsOnNode (replaced by
	// ours, which applies eligibleVictim and its own importance order) and
	// PodEligibleToPreemptOthers read them, and the latter must still see
	// the terminating victims a preemptor already made, which eligibleVictim
	// would hide.
	pl := &Plugin{
		DefaultPreemption: dp,
		fh:                fh,
		args:              *args.DeepCopy(),
		shapes:            strandingawarepacking.NewShapeLearner(strandingawarepacking.DefaultShapeSource),
		async:             fts.EnableAsyncPreemption,
		done:              ctx.Done(),
	}
	// The same Executor as DefaultPreemption, so its PreEnqueue (async
	// preemption in flight) sees the preemptions this Evaluator starts.
	pl.evaluator = preemption.NewEvaluator(Name, fh, pl, dp.Executor)
	if f := fh.SharedInformerFactory(); f != nil {
		shared, err := strandingawarepacking.SharedLearner(f)
		if err != nil {
			return nil, fmt.Errorf("%s: watching pod shapes: %w", Name, err)
		}
		pl.shapes = shared
		pl.pods = f.Core().V1().Pods().Lister()
	}
	pl.blocked = newPDBBlocked(fh)
	if err := pl.blocked.watch(fh); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	registerMetrics()
	return pl, nil
}

// PostFilter preempts lower-priority pods so that pod fits.
func (pl *Plugin) PostFilter(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, m fwk.NodeToStatusReader) (*fwk.PostFilterResult, *fwk.Status) {
	call := newPreemptionCall(pod)
	ctx = context.WithValue(ctx, callKey{}, call)
	attempts.Inc()
	// Upstream's scheduler_preemption_attempts_total is counted by
	// DefaultPreemption.PostFilter, which this method replaces; count it
	// here as upstream does (every PostFilter call). Its
	// scheduler_preemption_victims is recorded by the shared Executor.
	defer schedmetrics.PreemptionAttempts.Inc()
	result, status := pl.evaluator.Preempt(ctx, state, pod, m)
	if status.IsSuccess() && result != nil && result.NominatingInfo != nil {
		victims := call.victimsOn(result.NominatingInfo.NominatedNodeName)
		recordVictims(victims)
		if pl.async {
			if pl.extenderMayChangeVictims(pod) {
				// A victim the extender spared is never deleted: wait
				// for the Executor only, as before.
				victims = nil
			}
			pl.activateWhenPreempted(ctx, pod, victims)
		}
		return result, status
	}
	failures.Inc()
	if call.pdbBlocked.Load() {
		// Retry as soon as a PDB's budget grows: no scheduler event
		// covers PDB status, and waiting for the periodic flush takes minutes.
		pl.blocked.add(pod)
	}
	if msg := status.Message(); msg != "" {
		return result, fwk.NewStatus(status.Code(), "preemption: "+msg)
	}
	return result, status
}

// Activation watch timing: preemption API calls take milliseconds to
// seconds; past the limit the queue's periodic flush is the fallback.
const (
	activatePollInterval = 50 * time.Millisecond
	activatePollLimit    = 5 * time.Minute
)

// activateWhenPreempted moves the preemptor back to the active queue once
// its async preemption has finished and its victims are gone. Upstream
// leaves that to the victims' deletion events, which can come too early:
// when they arrive while the preemption goroutine still runs (or when a
// stale snapshot made it pick a victim already deleted, so no event
// follows), PreEnqueue keeps the pod gated and nothing un-gates it
// (kubernetes/kubernetes#141694; seen here in scheduler_perf's
// PreemptionBasic, one preemptor stuck for minutes). Upstream's proposed fix
// (#142294) activates the preemptor when the goroutine completes; the
// Executor has no hook, so this watches it.
//
// Finishing is not enough: the goroutine ends once the delete calls return,
// when the victims are still in the scheduler's cache, terminating. A
// preemptor activated then fails its nominated node, filters every node in
// vain and is refused a second preemption ("a terminating pod on the
// nominated node"): in scheduler_perf's PreemptionAsync that was one
// wasted all-node cycle for every sixth preemptor. So activation also waits
// for the victims to leave the informers' pod store, and one interval more,
// because the store drops a pod just before the cache's handler removes it.
// Activate is a no-op for a pod already queued and, for a pod in flight,
// requeues it when it returns.
func (pl *Plugin) activateWhenPreempted(ctx context.Context, pod *corev1.Pod, victims []*corev1.Pod) {
	logger := klog.FromContext(ctx)
	uid := pod.UID
	ready := func() bool {
		return !pl.Executor.IsPodRunningPreemption(uid) && victimsGone(pl.pods, victims)
	}
	activate := func() { pl.fh.Activate(logger, map[string]*corev1.Pod{pod.Name: pod}) }
	go func() {
		tick := time.NewTicker(activatePollInterval)
		defer tick.Stop()
		deadline := time.NewTimer(activatePollLimit)
		defer deadline.Stop()
		waitThenActivate(pl.done, tick.C, deadline.C, ready, activate)
	}()
}

// extenderMayChangeVictims reports whether a preemption-capable extender
// takes part in pod's preemption: it may replace the dry run's victims
// before the Executor deletes them.
func (pl *Plugin) extenderMayChangeVictims(pod *corev1.Pod) bool {
	for _, e := range pl.fh.Extenders() {
		if e.SupportsPreemption() && e.IsInterested(pod) {
			return true
		}
	}
	return false
}

// victimsGone reports whether no victim still holds its node in the pod
// store: deleted, replaced by a pod of the same name, or no longer bound
// (a victim waiting at Permit is rejected in memory, not deleted). A nil
// store (callers without informers) has nothing to wait for.
func victimsGone(pods corelisters.PodLister, victims []*corev1.Pod) bool {
	if pods == nil {
		return true
	}
	for _, v := range victims {
		p, err := pods.Pods(v.Namespace).Get(v.Name)
		if err == nil && p.UID == v.UID && p.Spec.NodeName != "" {
			return false
		}
	}
	return true
}

// waitThenActivate calls activate on the tick after the one on which ready
// first reports true, unless done closes or deadline fires first.
func waitThenActivate(done <-chan struct{}, tick, deadline <-chan time.Time, ready func() bool, activate func()) {
	isReady := false
	for {
		select {
		case <-done:
			return
		case <-deadline:
			return
		case <-tick:
			if isReady {
				activate()
				return
			}
			isReady = ready()
		}
	}
}
