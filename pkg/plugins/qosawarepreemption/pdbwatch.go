package qosawarepreemption

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	policy "k8s.io/api/policy/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
)

// pdbBlocked remembers preemptors that stayed pending because, in Respect
// mode, only PDB-protected pods could make room, and activates them when a
// PDB's budget grows or a PDB goes away.
type pdbBlocked struct {
	fh   fwk.Handle
	mu   sync.Mutex
	pods map[string]*corev1.Pod
}

func newPDBBlocked(fh fwk.Handle) *pdbBlocked {
	return &pdbBlocked{fh: fh, pods: map[string]*corev1.Pod{}}
}

func (b *pdbBlocked) add(pod *corev1.Pod) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pods[pod.Namespace+"/"+pod.Name] = pod
}

func (b *pdbBlocked) activateAll() {
	b.mu.Lock()
	pods := b.pods
	b.pods = map[string]*corev1.Pod{}
	b.mu.Unlock()
	if len(pods) > 0 {
		b.fh.Activate(klog.Background(), pods)
	}
}

func (b *pdbBlocked) watch(fh fwk.Handle) error {
	f := fh.SharedInformerFactory()
	if f == nil {
		return nil
	}
	_, err := f.Policy().V1().PodDisruptionBudgets().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(oldObj, newObj interface{}) {
			o, ok1 := oldObj.(*policy.PodDisruptionBudget)
			n, ok2 := newObj.(*policy.PodDisruptionBudget)
			if ok1 && ok2 && n.Status.DisruptionsAllowed > o.Status.DisruptionsAllowed {
				b.activateAll()
			}
		},
		DeleteFunc: func(interface{}) { b.activateAll() },
	})
	if err != nil {
		return err
	}
	_, err = f.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj interface{}) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				b.mu.Lock()
				delete(b.pods, p.Namespace+"/"+p.Name)
				b.mu.Unlock()
			}
		},
	})
	return err
}
