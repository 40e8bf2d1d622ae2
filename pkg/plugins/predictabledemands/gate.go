package predictabledemands

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	podutil "k8s.io/kubernetes/pkg/api/v1/pod"

	"github.com/snug-sched/snug/pkg/apis/config"
)

// Reasons the dependency gate writes on pods.
const (
	// ReasonMissingDependency is the PodScheduled condition reason and event
	// reason of a pod held back by the dependency gate.
	ReasonMissingDependency = "MissingDependency"
	// ReasonGateNotSynced is the PodScheduled condition reason and event
	// reason of a pod held while the gate's caches have not synced.
	ReasonGateNotSynced = "DependencyGateNotSynced"
	// ReasonGateBypassed is the event reason of a pod let through unchecked
	// because the gate's caches did not sync within SyncTimeout.
	ReasonGateBypassed = "DependencyGateBypassed"
)

// SyncTimeout bounds how long the gate holds pods while its caches have not
// synced. Listing the metadata of every ConfigMap (and Secret) takes well
// under a second on most clusters and a few seconds on very large ones; a
// cache that has not synced after SyncTimeout is almost always one the
// scheduler may not list or watch (RBAC). Holding pods for ever then would
// stop every pod with a service-account token (which mounts ConfigMap
// kube-root-ca.crt) without a word, so the gate lets pods through unchecked
// instead, as the default scheduler would, until the caches do sync.
const SyncTimeout = 30 * time.Second

// syncQuiet is how long the gate holds pods without saying so on them.
const syncQuiet = 2 * time.Second

// store answers whether an object exists; synced reports whether the answer
// can be trusted yet.
type store interface {
	exists(kind Kind, namespace, name string) bool
	synced() bool
}

type depKey struct {
	kind            Kind
	namespace, name string
}

// gate is the dependency gate. ConfigMaps and Secrets are watched through
// metadata-only informers of its own: the scheduler's event machinery would
// watch full objects (for Secrets, their data). The gate activates waiting
// pods itself when an object appears; PVCs additionally come through the
// scheduler's PVC events (queueing hint).
type gate struct {
	sel    Selection
	store  store
	handle fwk.Handle

	mu      sync.Mutex
	waiting map[depKey]map[string]*corev1.Pod // dependency -> pods (ns/name) waiting on it

	// held tracks the pods held now and since when (metrics.go).
	held holds

	// leader says whether this process may write (leader.go); nil: always.
	leader leadership

	// reports waits for reportLoop; never full, one report per pod.
	reports *reportQueue

	// unsynced holds pods that arrived before the caches synced; they are
	// activated once the caches are trustworthy (failing open would let them
	// through unchecked) or syncTimeout has passed. nil once either happened.
	unsynced map[string]*corev1.Pod
	// bypassed: syncTimeout passed before the caches synced; until they do,
	// pods pass unchecked.
	bypassed    bool
	syncTimeout time.Duration
	// slowSync: the caches have not synced within syncQuiet, so held pods
	// are told why (before that, a hold is the usual few milliseconds at
	// startup and not worth an event on every pending pod).
	slowSync  bool
	syncQuiet time.Duration
	// watchErrs holds the last list/watch error of each kind's informer; it
	// says on the pod and in the log why the caches do not sync (typically
	// "forbidden").
	watchErrs map[Kind]watchErr
}

type watchErr struct {
	inf cache.SharedIndexInformer
	msg string
}

type report struct {
	pod    *corev1.Pod
	reason string
	msg    string
	// eventOnly: record an event but leave the PodScheduled condition alone
	// (the pod is about to be scheduled).
	eventOnly bool
}

func newGate(ctx context.Context, h fwk.Handle, args config.DependencyGate) (*gate, error) {
	g := &gate{
		sel:      Selection{ConfigMaps: args.ConfigMaps, Secrets: args.Secrets, ImagePullSecrets: args.ImagePullSecrets, PVCs: args.PVCs},
		handle:   h,
		waiting:  map[depKey]map[string]*corev1.Pod{},
		reports:  newReportQueue(),
		unsynced: map[string]*corev1.Pod{},

		syncTimeout: SyncTimeout,
		syncQuiet:   syncQuiet,
		watchErrs:   map[Kind]watchErr{},
		leader:      newSchedulerLeadership(),
	}
	if h.KubeConfig() == nil || h.SharedInformerFactory() == nil {
		klog.FromContext(ctx).Info("PredictableDemands: no API server connection; dependency gate off")
		return nil, nil
	}
	mc, err := metadata.NewForConfig(h.KubeConfig())
	if err != nil {
		return nil, fmt.Errorf("metadata client for the dependency gate: %w", err)
	}
	s := &apiStore{}
	mf := metadatainformer.NewSharedInformerFactoryWithOptions(mc, 0, metadatainformer.WithTransform(namesOnly))
	watch := func(kind Kind, gvr schema.GroupVersionResource) cache.SharedIndexInformer {
		inf := mf.ForResource(gvr).Informer()
		g.onAdd(inf, kind)
		_ = inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, r *cache.Reflector, err error) {
			cache.DefaultWatchErrorHandler(ctx, r, err) // keeps upstream's log line
			g.watchError(kind, inf, err)
		})
		return inf
	}
	if g.sel.ConfigMaps {
		s.configMaps = watch(ConfigMap, corev1.SchemeGroupVersion.WithResource("configmaps"))
	}
	if g.sel.Secrets {
		s.secrets = watch(Secret, corev1.SchemeGroupVersion.WithResource("secrets"))
	}
	if g.sel.PVCs {
		s.pvcs = h.SharedInformerFactory().Core().V1().PersistentVolumeClaims().Informer()
		g.onAdd(s.pvcs, PVC)
	}
	g.held.lister = h.SharedInformerFactory().Core().V1().Pods().Lister()
	// Pods deleted while waiting must not pin memory in the index.
	_, _ = h.SharedInformerFactory().Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj interface{}) {
			if m, err := meta(obj); err == nil {
				g.forgetPod(m.GetNamespace()+"/"+m.GetName(), m.GetUID())
			}
		},
	})
	mf.Start(ctx.Done())
	g.store = s
	go g.reportLoop(ctx)
	go g.activateWhenSynced(ctx)
	return g, nil
}

func (g *gate) onAdd(inf cache.SharedIndexInformer, kind Kind) {
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj interface{}) {
		m, err := meta(obj)
		if err == nil {
			g.appeared(depKey{kind, m.GetNamespace(), m.GetName()})
		}
	}})
}

func meta(obj interface{}) (metav1.Object, error) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if m, ok := obj.(metav1.Object); ok {
		return m, nil
	}
	return nil, fmt.Errorf("unexpected object %T", obj)
}

// appeared activates the pods waiting on k.
func (g *gate) appeared(k depKey) {
	g.mu.Lock()
	pods := g.waiting[k]
	delete(g.waiting, k)
	g.mu.Unlock()
	if len(pods) > 0 {
		g.handle.Activate(klog.Background(), pods)
	}
}

// check is PreEnqueue: it registers the pod as waiting before it looks the
// objects up, so an object created in between still activates it.
func (g *gate) check(ctx context.Context, pod *corev1.Pod) *fwk.Status {
	deps := Dependencies(pod, g.sel)
	if len(deps) == 0 {
		return nil
	}
	podKey := pod.Namespace + "/" + pod.Name
	if !g.store.synced() {
		g.mu.Lock()
		held := g.unsynced != nil // nil once activateWhenSynced has stopped waiting
		if held {
			g.unsynced[podKey] = pod
		}
		bypassed, slow, why := g.bypassed, g.slowSync, parenthesized(g.watchErrorsLocked())
		g.mu.Unlock()
		switch {
		case held:
			g.held.hold(podKey, pod, kindsOf(notSyncedReason, deps))
			r := g.holdReport(pod, why)
			if slow {
				g.report(r)
			}
			return fwk.NewStatus(fwk.UnschedulableAndUnresolvable, r.msg)
		case bypassed:
			g.held.release(podKey, pod.UID)
			g.report(report{pod: pod, reason: ReasonGateBypassed, eventOnly: true, msg: fmt.Sprintf(
				"the dependency gate's caches did not sync within %v%s; scheduling without checking that %s exist",
				g.syncTimeout, why, strings.Join(kindNames(deps), ", "))})
			return nil
		}
		// Neither: the caches synced since the first look.
	}
	var missing []string
	var missingKinds holdBits
	g.mu.Lock()
	for _, d := range deps {
		k := depKey{d.Kind, pod.Namespace, d.Name}
		if g.waiting[k] == nil {
			g.waiting[k] = map[string]*corev1.Pod{}
		}
		g.waiting[k][podKey] = pod
	}
	g.mu.Unlock()
	for _, d := range deps {
		k := depKey{d.Kind, pod.Namespace, d.Name}
		if g.store.exists(d.Kind, pod.Namespace, d.Name) {
			g.forget(k, podKey)
			continue
		}
		missing = append(missing, d.String())
		missingKinds |= 1 << holdBitOf(missingReason, d.Kind)
	}
	if len(missing) == 0 {
		g.held.release(podKey, pod.UID)
		return nil
	}
	g.held.hold(podKey, pod, missingKinds)
	msg := fmt.Sprintf("waiting for %s to exist in namespace %q", strings.Join(missing, ", "), pod.Namespace)
	g.report(report{pod: pod, reason: ReasonMissingDependency, msg: msg})
	return fwk.NewStatus(fwk.UnschedulableAndUnresolvable, msg)
}

// holdReport says why the pod is held while the caches have not synced.
func (g *gate) holdReport(pod *corev1.Pod, why string) report {
	return report{pod: pod, reason: ReasonGateNotSynced, msg: fmt.Sprintf(
		"waiting for the dependency gate's caches to sync%s; scheduled without the check after %v", why, g.syncTimeout)}
}

func (g *gate) report(r report) { g.reports.put(r) }

// reportQueue holds the latest report of each pod until reportLoop takes
// it. A bounded channel would drop reports while the writer (an API call
// per pod) is behind, and with narrow queueing hints nothing re-runs a held
// pod to report it again: thousands of pods held at once would never be
// told why. One entry per pod bounds it by the pods held.
type reportQueue struct {
	mu   sync.Mutex
	m    map[string]report // by namespace/name; the latest report wins
	wake chan struct{}     // capacity 1: reports are waiting
}

func newReportQueue() *reportQueue {
	return &reportQueue{m: map[string]report{}, wake: make(chan struct{}, 1)}
}

func (q *reportQueue) put(r report) {
	q.mu.Lock()
	q.m[r.pod.Namespace+"/"+r.pod.Name] = r
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// takeInto moves every waiting report into pending, newer ones winning.
func (q *reportQueue) takeInto(pending map[string]report) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for k, r := range q.m {
		pending[k] = r
	}
	clear(q.m)
}

// kindNames lists the kinds of deps once each, e.g. "ConfigMaps, PVCs".
func kindNames(deps []Dependency) []string {
	seen := map[Kind]bool{}
	var out []string
	for _, d := range deps {
		if !seen[d.Kind] {
			seen[d.Kind] = true
			out = append(out, string(d.Kind)+"s")
		}
	}
	return out
}

// watchError records the informer's last list/watch error.
func (g *gate) watchError(kind Kind, inf cache.SharedIndexInformer, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.watchErrs[kind] = watchErr{inf: inf, msg: err.Error()}
}

// watchErrorsLocked returns the last errors of the informers that have not
// synced, e.g. ["ConfigMap: configmaps is forbidden: ..."]. g.mu must be held.
func (g *gate) watchErrorsLocked() []string {
	var out []string
	for k, e := range g.watchErrs {
		if e.inf == nil || !e.inf.HasSynced() {
			out = append(out, string(k)+": "+e.msg)
		}
	}
	sort.Strings(out)
	return out
}

// parenthesized returns " (a; b)", or "" for no errors.
func parenthesized(errs []string) string {
	if len(errs) == 0 {
		return ""
	}
	return " (" + strings.Join(errs, "; ") + ")"
}

func (g *gate) forget(k depKey, podKey string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.waiting[k], podKey)
	if len(g.waiting[k]) == 0 {
		delete(g.waiting, k)
	}
}

// activateWhenSynced re-runs PreEnqueue for the pods held while syncing,
// once the caches synced or syncTimeout passed. In the second case it logs
// why, and the gate lets pods through unchecked until the caches sync.
func (g *gate) activateWhenSynced(ctx context.Context) {
	logger := klog.FromContext(ctx)
	waitCtx, cancel := context.WithTimeout(ctx, g.syncTimeout)
	defer cancel()
	quietCtx, cancelQuiet := context.WithTimeout(waitCtx, g.syncQuiet)
	synced := cache.WaitForCacheSync(quietCtx.Done(), g.store.synced)
	cancelQuiet()
	if !synced && waitCtx.Err() == nil {
		g.mu.Lock()
		g.slowSync = true
		held := maps.Clone(g.unsynced)
		why := parenthesized(g.watchErrorsLocked())
		g.mu.Unlock()
		for _, p := range held {
			g.report(g.holdReport(p, why))
		}
		synced = cache.WaitForCacheSync(waitCtx.Done(), g.store.synced)
	}
	if ctx.Err() != nil {
		return
	}
	g.mu.Lock()
	pods := g.unsynced
	g.unsynced = nil
	g.bypassed = !synced
	errs := g.watchErrorsLocked()
	g.mu.Unlock()
	if !synced {
		logger.Error(nil, "PredictableDemands: the dependency gate's caches did not sync; pods pass the gate unchecked until they do. "+
			"Does the scheduler's service account lack list/watch on them (RBAC)?",
			"timeout", g.syncTimeout, "errors", errs, "heldPods", len(pods))
	}
	if len(pods) > 0 {
		g.handle.Activate(logger, pods)
	}
	if !synced && cache.WaitForCacheSync(ctx.Done(), g.store.synced) {
		logger.Info("PredictableDemands: the dependency gate's caches synced; the gate checks pods again")
	}
}

// forgetPod drops the deleted pod uid. Entries under the same key but
// another UID belong to a newer pod of the same name (a StatefulSet's): the
// old pod's delete can reach this handler after the new pod's PreEnqueue.
func (g *gate) forgetPod(podKey string, uid types.UID) {
	g.held.deleted(podKey, uid)
	g.mu.Lock()
	defer g.mu.Unlock()
	if p, ok := g.unsynced[podKey]; ok && p.UID == uid {
		delete(g.unsynced, podKey)
	}
	for k, pods := range g.waiting {
		if p, ok := pods[podKey]; ok && p.UID == uid {
			delete(pods, podKey)
		}
		if len(pods) == 0 {
			delete(g.waiting, k)
		}
	}
}

// namesOnly keeps what the gate needs of a watched object: its identity.
// A metadata-only watch still carries annotations and managedFields, and
// kubectl's last-applied-configuration annotation holds a Secret's data.
func namesOnly(obj any) (any, error) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil // cache.DeletedFinalStateUnknown: its object was transformed when stored
	}
	return &metav1.PartialObjectMetadata{TypeMeta: m.TypeMeta, ObjectMeta: metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		DeletionTimestamp: m.DeletionTimestamp,
	}}, nil
}

// reportLoop writes the reason into the pod's PodScheduled condition and an
// event, off the queue's path; the scheduler does not report PreEnqueue
// rejections itself. It writes only while this process leads (leader.go):
// until then it keeps the latest report of each pod, dropping those of pods
// that are gone, were replaced or were bound meanwhile, and writes the rest
// once it leads.
func (g *gate) reportLoop(ctx context.Context) {
	logger := klog.FromContext(ctx)
	pending := map[string]report{} // by namespace/name; the latest report wins
	var retry <-chan time.Time
	standby := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.reports.wake:
		case <-retry:
		}
		g.reports.takeInto(pending)
		retry = nil
		if !g.leading() {
			g.dropStale(pending)
			if len(pending) > 0 {
				if !standby {
					logger.V(2).Info("PredictableDemands: this scheduler does not lead; the dependency gate holds pods but leaves their status and events to the leader",
						"pods", len(pending))
				}
				standby = true
				retry = time.After(leaderPoll)
			}
			continue
		}
		if standby {
			logger.Info("PredictableDemands: this scheduler leads; the dependency gate reports on the pods it held as standby", "pods", len(pending))
			standby = false
		}
		for k, r := range pending {
			delete(pending, k)
			g.write(ctx, r)
			if ctx.Err() != nil {
				return
			}
		}
	}
}

// dropStale deletes the reports that no longer apply (current).
func (g *gate) dropStale(pending map[string]report) {
	for k, r := range pending {
		if _, ok := g.current(r); !ok {
			delete(pending, k)
		}
	}
}

// leaderPoll is how often a standby with reports to make asks whether it
// leads now.
const leaderPoll = time.Second

func (g *gate) leading() bool {
	return g.leader == nil || g.leader.leading()
}

// current returns the pod r is about as the scheduler's pod informer has
// it now, and false if r no longer applies: the pod is gone or is another
// pod of the same name (another UID); or, for a condition, the pod is bound
// or the gate no longer holds it. Without an informer (tests) it returns
// r.pod.
func (g *gate) current(r report) (*corev1.Pod, bool) {
	pod := r.pod
	if g.held.lister != nil {
		live, err := g.held.lister.Pods(pod.Namespace).Get(pod.Name)
		if err != nil || live.UID != pod.UID {
			return nil, false
		}
		pod = live
	}
	if r.eventOnly {
		// An event about a pod let through stays true once it is bound.
		return pod, true
	}
	if pod.Spec.NodeName != "" || !g.held.holding(pod.Namespace+"/"+pod.Name, pod.UID) {
		return nil, false
	}
	return pod, true
}

// write records r on its pod: the PodScheduled condition (unless r is
// eventOnly) and an event. The pod is read from the informer first; the
// status patch is conditional on the pod's UID and resourceVersion, so it
// never lands on a pod that was bound or replaced since (patchPodScheduled).
// A pod that already carries the condition gets neither patch nor event.
func (g *gate) write(ctx context.Context, r report) {
	logger := klog.FromContext(ctx)
	pod, ok := g.current(r)
	if !ok {
		return
	}
	if !r.eventOnly {
		cond := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: r.reason, Message: r.msg}
		written, err := patchPodScheduled(ctx, g.handle.ClientSet(), pod, cond)
		if err != nil {
			logger.Error(err, "Recording why the dependency gate holds the pod", "pod", klog.KObj(pod), "reason", r.reason)
		} else if !written {
			return // already said, or the pod changed: nothing to add
		}
	}
	if rec := g.handle.EventRecorder(); rec != nil {
		rec.Eventf(pod, nil, corev1.EventTypeWarning, r.reason, "Scheduling", r.msg)
	}
}

// maxPatchAttempts bounds patchPodScheduled's conflict retries.
const maxPatchAttempts = 3

// patchPodScheduled sets pod's PodScheduled condition to cond with a
// strategic merge patch of its status that carries pod's UID and
// resourceVersion: the API server applies it only to that pod, unchanged
// since it was read (a changed resourceVersion is a conflict; a UID cannot
// change, so another pod of the same name is refused too). On a conflict it
// reads the pod back and tries again unless the pod is now another pod,
// bound, or already carries cond. It returns whether it wrote; false with a
// nil error means there was nothing to write.
func patchPodScheduled(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod, cond corev1.PodCondition) (bool, error) {
	uid := pod.UID
	for attempt := 1; ; attempt++ {
		if _, c := podutil.GetPodCondition(&pod.Status, cond.Type); c != nil &&
			c.Status == cond.Status && c.Reason == cond.Reason && c.Message == cond.Message {
			return false, nil
		}
		status := pod.Status.DeepCopy()
		podutil.UpdatePodCondition(status, &cond)
		patch, err := conditionalStatusPatch(pod, status)
		if err != nil {
			return false, err
		}
		_, err = cs.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
		switch {
		case err == nil:
			return true, nil
		case apierrors.IsNotFound(err):
			return false, nil
		case !apierrors.IsConflict(err) && !apierrors.IsInvalid(err), attempt == maxPatchAttempts:
			return false, err
		}
		// Changed since it was read (conflict), or another pod (a UID
		// mismatch is an invalid update): decide again on the pod as it is.
		pod, err = cs.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if pod.UID != uid || pod.Spec.NodeName != "" {
			return false, nil
		}
	}
}

// conditionalStatusPatch is the strategic merge patch from pod's status to
// status, with pod's UID and resourceVersion as preconditions.
func conditionalStatusPatch(pod *corev1.Pod, status *corev1.PodStatus) ([]byte, error) {
	oldData, err := json.Marshal(corev1.Pod{Status: pod.Status})
	if err != nil {
		return nil, err
	}
	newData, err := json.Marshal(corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{UID: pod.UID, ResourceVersion: pod.ResourceVersion},
		Status:     *status,
	})
	if err != nil {
		return nil, err
	}
	return strategicpatch.CreateTwoWayMergePatch(oldData, newData, corev1.Pod{})
}

// apiStore looks objects up in informer caches.
type apiStore struct {
	configMaps, secrets, pvcs cache.SharedIndexInformer
}

func (s *apiStore) informer(kind Kind) cache.SharedIndexInformer {
	switch kind {
	case ConfigMap:
		return s.configMaps
	case Secret:
		return s.secrets
	default:
		return s.pvcs
	}
}

func (s *apiStore) exists(kind Kind, namespace, name string) bool {
	inf := s.informer(kind)
	if inf == nil {
		return true
	}
	_, ok, err := inf.GetStore().GetByKey(namespace + "/" + name)
	return ok || err != nil
}

func (s *apiStore) synced() bool {
	for _, inf := range []cache.SharedIndexInformer{s.configMaps, s.secrets, s.pvcs} {
		if inf != nil && !inf.HasSynced() {
			return false
		}
	}
	return true
}
