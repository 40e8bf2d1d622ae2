// Package qosawarepreemption is the QoSAwarePreemption PostFilter plugin. It
// replaces DefaultPreemption and reuses upstream's preemption machinery
// (preemption.Evaluator and Executor, DefaultPreemption's candidate
// sampling, nomination and async preemption), changing what upstream leaves
// to plugins. Where it departs from upstream it says why below.
//
//   - Eligible victims: lower priority than the preemptor, never a
//     DaemonSet pod or a mirror (static) pod: evicting those frees nothing.
//     A pod already terminating is eligible, as upstream has it: it holds
//     its room until it is gone, so choosing it means waiting for it (the
//     Executor sends it no second deletion) instead of evicting a running pod.
//   - Victim order on a node (which pods are given back first): higher
//     priority; then a running pod before a terminating one (choosing the
//     terminating one costs no disruption; upstream has no such rule and
//     may evict a running pod of the same priority instead); then
//     Guaranteed, Burstable, BestEffort; then smaller pods (bigger ones go
//     first, so fewer victims free the room); then the earliest started.
//     Upstream: priority, then earliest started.
//   - Victims on a node: upstream's reprieve (take every candidate off,
//     check the preemptor fits, give candidates back most important first
//     while it still fits), kept within the PodDisruptionBudgets' budgets:
//     a candidate is given back only if a budget-respecting set of victims
//     can still make room (see dryRun.search), and a terminating pod spends
//     no budget (the disruption controller no longer counts it). In Respect
//     mode a node where no such set was found is rejected, the preemptor
//     stays pending saying so and is retried when a budget grows. In Prefer
//     mode that node falls back to upstream's reprieve, PDB-violating pods
//     given back first, and counts the victims that exceed a budget.
//   - Node choice, lexicographic: upstream's pickOneNodeForPreemption
//     criteria in upstream's order (fewest PDB violations, lowest
//     highest-victim priority, smallest sum of victim priorities, fewest
//     victims), then snug's where upstream would tie (the victims' QoS:
//     fewest Guaranteed, then fewest Burstable; least stranded capacity left
//     once the preemptor runs there, pkg/stranding, judged with the shapes
//     and resource weights of the profile's StrandingAwarePacking, or with
//     the learned shapes and weight 1 without it), then upstream's last
//     (latest start time of the highest-priority victims). QoS comes after
//     the victim count on purpose: each victim is a disruption, and the
//     QoS class says how a pod declared its resources, not that one
//     Burstable pod is worth more than a node full of BestEffort ones.
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
	// defaultJudge judges stranding in a profile without
	// StrandingAwarePacking (see strandingJudge).
	defaultJudge *strandingawarepacking.Judge
	blocked      *pdbBlocked
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
	// every terminating victim a preemptor already made on its nominated
	// node, as upstream sees them.
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
		shared, err := strandingawarepacking.SharedLearner(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("%s: watching pod shapes: %w", Name, err)
		}
		pl.shapes = shared
		pl.pods = f.Core().V1().Pods().Lister()
	}
	pl.defaultJudge = strandingawarepacking.DefaultJudge(pl.shapes)
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
