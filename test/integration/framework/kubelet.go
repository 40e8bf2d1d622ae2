package framework

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// StartFakeKubelet plays the kubelet for every node: pods bound to a node
// (spec.nodeName set) that are Pending become Running and Ready, so the
// disruption controller and the descheduler see healthy pods; pods being
// deleted (deletionTimestamp set) are force-deleted with grace period 0, as a
// kubelet does once the containers are gone. It returns once the pod informer
// has synced; the returned stop function cancels it and waits for its
// goroutines (it is also stopped when ctx ends).
func StartFakeKubelet(ctx context.Context, client kubernetes.Interface) (stop func(), err error) {
	ctx, cancel := context.WithCancel(ctx)
	factory := informers.NewSharedInformerFactory(client, 0)
	podInformer := factory.Core().V1().Pods()
	queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName]())
	enqueue := func(obj any) {
		if pod, ok := obj.(*corev1.Pod); ok && pod.Spec.NodeName != "" {
			queue.Add(types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name})
		}
	}
	if _, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	}); err != nil {
		cancel()
		return nil, err
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), podInformer.Informer().HasSynced) {
		cancel()
		factory.Shutdown()
		return nil, fmt.Errorf("fake kubelet: pod informer did not sync: %w", context.Cause(ctx))
	}

	k := &fakeKubelet{client: client, lister: podInformer.Lister(), queue: queue}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for k.processNext(ctx) {
			}
		})
	}
	go func() {
		<-ctx.Done()
		queue.ShutDown()
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			factory.Shutdown()
		})
	}, nil
}

// StartFakeKubelet starts StartFakeKubelet against this control plane; it is
// stopped by Stop before the apiserver goes away.
func (cp *ControlPlane) StartFakeKubelet(ctx context.Context) error {
	stop, err := StartFakeKubelet(context.WithoutCancel(ctx), cp.Client)
	if err != nil {
		return err
	}
	cp.addStopHook(stop)
	return nil
}

type fakeKubelet struct {
	client kubernetes.Interface
	lister listersv1.PodLister
	queue  workqueue.TypedRateLimitingInterface[types.NamespacedName]
}

func (k *fakeKubelet) processNext(ctx context.Context) bool {
	key, quit := k.queue.Get()
	if quit {
		return false
	}
	defer k.queue.Done(key)
	if err := k.sync(ctx, key); err != nil && ctx.Err() == nil {
		utilruntime.HandleErrorWithContext(ctx, err, "fake kubelet sync failed", "pod", key)
		k.queue.AddRateLimited(key)
		return true
	}
	k.queue.Forget(key)
	return true
}

func (k *fakeKubelet) sync(ctx context.Context, key types.NamespacedName) error {
	pod, err := k.lister.Pods(key.Namespace).Get(key.Name)
	if apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	switch {
	case pod.Spec.NodeName == "":
		return nil
	case pod.DeletionTimestamp != nil:
		// Preconditions keep us from deleting a same-named successor pod.
		err := k.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: new(int64),
			Preconditions:      &metav1.Preconditions{UID: &pod.UID},
		})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	case pod.Status.Phase == corev1.PodPending:
		_, err := k.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, runningPod(pod), metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err // a Conflict is retried; the informer will have the newer pod
	}
	return nil
}

// runningPod returns a copy of pod with the status a kubelet reports for a
// pod whose containers all started and passed readiness. Like a kubelet it
// keeps a start time already set (tests set it to order pods by age).
func runningPod(pod *corev1.Pod) *corev1.Pod {
	pod = pod.DeepCopy()
	now := metav1.NewTime(time.Now())
	pod.Status.Phase = corev1.PodRunning
	if pod.Status.StartTime == nil {
		pod.Status.StartTime = &now
	}
	pod.Status.Conditions = nil
	for _, t := range []corev1.PodConditionType{
		corev1.PodReadyToStartContainers, corev1.PodScheduled, corev1.PodInitialized,
		corev1.ContainersReady, corev1.PodReady,
	} {
		pod.Status.Conditions = append(pod.Status.Conditions,
			corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now})
	}
	started := true
	pod.Status.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name:        c.Name,
			Image:       c.Image,
			ImageID:     "fake://" + c.Image,
			ContainerID: "fake://" + string(pod.UID) + "/" + c.Name,
			Ready:       true,
			Started:     &started,
			State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	return pod
}
