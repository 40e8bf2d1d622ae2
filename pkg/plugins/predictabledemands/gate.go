package predictabledemands

import (
	"context"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	podutil "k8s.io/kubernetes/pkg/api/v1/pod"
	schedutil "k8s.io/kubernetes/pkg/scheduler/util"

	"github.com/snug-sched/snug/pkg/apis/config"
)

// ReasonMissingDependency is the PodScheduled condition reason and event
// reason of a pod held back by the dependency gate.
const ReasonMissingDependency = "MissingDependency"

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

	reports chan report

	// unsynced holds pods that arrived before the caches synced; they are
	// activated once the caches are trustworthy (failing open would let them
	// through unchecked).
	unsynced map[string]*corev1.Pod
}

type report struct {
	pod *corev1.Pod
	msg string
}

func newGate(ctx context.Context, h fwk.Handle, args config.DependencyGate) (*gate, error) {
	g := &gate{
		sel:      Selection{ConfigMaps: args.ConfigMaps, Secrets: args.Secrets, ImagePullSecrets: args.ImagePullSecrets, PVCs: args.PVCs},
		handle:   h,
		waiting:  map[depKey]map[string]*corev1.Pod{},
		reports:  make(chan report, 1024),
		unsynced: map[string]*corev1.Pod{},
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
	mf := metadatainformer.NewSharedInformerFactory(mc, 0)
	watch := func(kind Kind, gvr schema.GroupVersionResource) cache.SharedIndexInformer {
		inf := mf.ForResource(gvr).Informer()
		g.onAdd(inf, kind)
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
		held := g.unsynced != nil // nil once activateWhenSynced has run
		if held {
			g.unsynced[podKey] = pod
		}
		g.mu.Unlock()
		if held {
			return fwk.NewStatus(fwk.UnschedulableAndUnresolvable, "waiting for the dependency caches to sync")
		}
	}
	var missing []string
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
	}
	if len(missing) == 0 {
		return nil
	}
	msg := fmt.Sprintf("waiting for %s to exist in namespace %q", strings.Join(missing, ", "), pod.Namespace)
	select {
	case g.reports <- report{pod: pod, msg: msg}:
	default: // the reporter is behind; the status still carries the message
	}
	return fwk.NewStatus(fwk.UnschedulableAndUnresolvable, msg)
}

func (g *gate) forget(k depKey, podKey string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.waiting[k], podKey)
	if len(g.waiting[k]) == 0 {
		delete(g.waiting, k)
	}
}

// activateWhenSynced re-runs PreEnqueue for the pods held while syncing.
func (g *gate) activateWhenSynced(ctx context.Context) {
	if !cache.WaitForCacheSync(ctx.Done(), g.store.synced) {
		return
	}
	g.mu.Lock()
	pods := g.unsynced
	g.unsynced = nil
	g.mu.Unlock()
	if len(pods) > 0 {
		g.handle.Activate(klog.FromContext(ctx), pods)
	}
}

// forgetPod drops the deleted pod uid. Entries under the same key but
// another UID belong to a newer pod of the same name (a StatefulSet's): the
// old pod's delete can reach this handler after the new pod's PreEnqueue.
func (g *gate) forgetPod(podKey string, uid types.UID) {
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

// reportLoop writes the reason into the pod's PodScheduled condition and an
// event, off the queue's path; the scheduler does not report PreEnqueue
// rejections itself.
func (g *gate) reportLoop(ctx context.Context) {
	logger := klog.FromContext(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-g.reports:
			if _, c := podutil.GetPodCondition(&r.pod.Status, corev1.PodScheduled); c != nil &&
				c.Reason == ReasonMissingDependency && c.Message == r.msg {
				continue
			}
			status := r.pod.Status.DeepCopy()
			podutil.UpdatePodCondition(status, &corev1.PodCondition{
				Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
				Reason: ReasonMissingDependency, Message: r.msg,
			})
			err := schedutil.PatchPodStatus(ctx, g.handle.ClientSet(), r.pod.Name, r.pod.Namespace, &r.pod.Status, status)
			if err != nil && !apierrors.IsNotFound(err) {
				logger.Error(err, "Recording missing dependency", "pod", klog.KObj(r.pod))
			}
			if rec := g.handle.EventRecorder(); rec != nil {
				rec.Eventf(r.pod, nil, corev1.EventTypeWarning, ReasonMissingDependency, "Scheduling", r.msg)
			}
		}
	}
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
