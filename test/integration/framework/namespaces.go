package framework

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/controller/certificates/rootcacertpublisher"
	"k8s.io/kubernetes/pkg/controller/serviceaccount"
)

// RootCAConfigMap is the ConfigMap kube-controller-manager publishes in
// every namespace and every service-account token volume projects.
const RootCAConfigMap = "kube-root-ca.crt"

// startNamespaceControllers runs in this process the two
// kube-controller-manager controllers that every namespace of a real cluster
// relies on, for control planes started without kube-controller-manager:
// the serviceaccount controller (the "default" ServiceAccount, without which
// the ServiceAccount admission plugin rejects pods) and the root CA
// publisher (ConfigMap kube-root-ca.crt, which every pod's token volume
// projects). They are upstream's own controllers, configured as
// kube-controller-manager configures them.
func (cp *ControlPlane) startNamespaceControllers(ctx context.Context) error {
	rootCA, err := os.ReadFile(cp.CAFile)
	if err != nil {
		return err
	}
	// Their "starting"/"shutting down" lines would only clutter test output.
	ctx, cancel := context.WithCancel(klog.NewContext(context.WithoutCancel(ctx), logr.Discard()))
	factory := informers.NewSharedInformerFactory(cp.Client, 0)
	sa, err := serviceaccount.NewServiceAccountsController(logr.Discard(),
		factory.Core().V1().ServiceAccounts(), factory.Core().V1().Namespaces(), cp.Client,
		serviceaccount.DefaultServiceAccountsControllerOptions())
	if err != nil {
		cancel()
		return err
	}
	publisher, err := rootcacertpublisher.NewPublisher(factory.Core().V1().ConfigMaps(),
		factory.Core().V1().Namespaces(), cp.Client, rootCA)
	if err != nil {
		cancel()
		return err
	}
	factory.Start(ctx.Done())
	var wg sync.WaitGroup
	wg.Go(func() { sa.Run(ctx, 1) })
	wg.Go(func() { publisher.Run(ctx, 1) })
	cp.addStopHook(func() {
		cancel()
		wg.Wait()
		factory.Shutdown()
	})
	return nil
}

// CreateNamespace creates a namespace with the given name and waits until
// pods can be created in it; see WaitForNamespaceDefaults.
func CreateNamespace(ctx context.Context, client kubernetes.Interface, name string) (*corev1.Namespace, error) {
	return CreateNamespaceObject(ctx, client, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
}

// CreateNamespaceObject is CreateNamespace for a namespace with labels or
// annotations.
func CreateNamespaceObject(ctx context.Context, client kubernetes.Interface, ns *corev1.Namespace) (*corev1.Namespace, error) {
	created, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	return created, WaitForNamespaceDefaults(ctx, client, created.Name)
}

// WaitForNamespaceDefaults waits until the controllers have created the
// namespace's "default" ServiceAccount and ConfigMap kube-root-ca.crt, as
// clients of a real cluster must: until then the ServiceAccount admission
// plugin rejects pods, and a pod's token volume refers to a ConfigMap that
// does not exist (snug's dependency gate would hold the pod).
func WaitForNamespaceDefaults(ctx context.Context, client kubernetes.Interface, namespace string) error {
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		if _, err := client.CoreV1().ServiceAccounts(namespace).Get(ctx, "default", metav1.GetOptions{}); err != nil {
			return false, nil
		}
		_, err := client.CoreV1().ConfigMaps(namespace).Get(ctx, RootCAConfigMap, metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("namespace %s: no ServiceAccount default or ConfigMap %s (serviceaccount and root-ca-cert-publisher controllers): %w",
			namespace, RootCAConfigMap, err)
	}
	return nil
}
