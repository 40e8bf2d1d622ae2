package framework

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Where manifests/ puts snug's components.
const (
	SnugNamespace       = "snug-system"
	SchedulerAccount    = "snug-scheduler"
	DeschedulerAccount  = "snug-descheduler"
	schedulerLeaseName  = "snug-scheduler"
	schedulerLeaseSpace = "kube-system"
)

// ManifestsDir is <repo root>/manifests, the kustomize base.
func ManifestsDir() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "manifests"), nil
}

// Kustomize builds the kustomization in dir as `kubectl apply -k` would
// (kustomize's krusty, default options) and returns its objects in order.
func Kustomize(dir string) ([]*unstructured.Unstructured, error) {
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var objs []*unstructured.Unstructured
	for _, r := range resources.Resources() {
		// Through JSON, so numbers are int64/float64 as the API machinery expects.
		data, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %s: %w", dir, r.CurId(), err)
		}
		o := &unstructured.Unstructured{}
		if err := o.UnmarshalJSON(data); err != nil {
			return nil, fmt.Errorf("kustomize build %s: %s: %w", dir, r.CurId(), err)
		}
		objs = append(objs, o)
	}
	return objs, nil
}

// rbacKinds are the kinds ApplySnugRBAC applies: identities and their
// permissions, not the workloads (no Deployment or CronJob runs in tests;
// the tests start the binaries themselves).
var rbacKinds = map[string]bool{
	"Namespace": true, "ServiceAccount": true,
	"ClusterRole": true, "ClusterRoleBinding": true, "Role": true, "RoleBinding": true,
}

// ApplySnugRBAC applies the namespace, ServiceAccounts and RBAC of the
// kustomize build of manifests/, exactly as shipped, with server-side apply
// (so calling it again is harmless), and waits until the apiserver's
// authorizer grants what they say.
func (cp *ControlPlane) ApplySnugRBAC(ctx context.Context) error {
	dir, err := ManifestsDir()
	if err != nil {
		return err
	}
	objs, err := Kustomize(dir)
	if err != nil {
		return err
	}
	var rbac []*unstructured.Unstructured
	for _, o := range objs {
		if rbacKinds[o.GetKind()] {
			rbac = append(rbac, o)
		}
	}
	if err := cp.Apply(ctx, rbac); err != nil {
		return err
	}
	// The RBAC authorizer reads bindings through informers: wait until it
	// has seen them, so a component started next is not refused at first.
	return cp.waitAllowed(ctx, SnugNamespace, SchedulerAccount, authorizationv1.ResourceAttributes{
		Namespace: schedulerLeaseSpace, Verb: "update", Group: "coordination.k8s.io", Resource: "leases", Name: schedulerLeaseName})
}

// Apply creates or updates the objects with server-side apply, in order.
func (cp *ControlPlane) Apply(ctx context.Context, objs []*unstructured.Unstructured) error {
	return cp.eachObject(objs, func(ri dynamic.ResourceInterface, o *unstructured.Unstructured) error {
		data, err := o.MarshalJSON()
		if err != nil {
			return err
		}
		_, err = ri.Patch(ctx, o.GetName(), types.ApplyPatchType, data,
			metav1.PatchOptions{FieldManager: "snug-integration", Force: ptr.To(true)})
		return err
	})
}

// Create creates the objects, in order, with opts (e.g. DryRun: All, which
// runs validation and admission and stores nothing).
func (cp *ControlPlane) Create(ctx context.Context, objs []*unstructured.Unstructured, opts metav1.CreateOptions) error {
	return cp.eachObject(objs, func(ri dynamic.ResourceInterface, o *unstructured.Unstructured) error {
		_, err := ri.Create(ctx, o, opts)
		return err
	})
}

// eachObject calls f with each object and the client of its resource,
// found through discovery.
func (cp *ControlPlane) eachObject(objs []*unstructured.Unstructured, f func(dynamic.ResourceInterface, *unstructured.Unstructured) error) error {
	dyn, err := dynamic.NewForConfig(cp.RestConfig)
	if err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cp.Client.Discovery()))
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("%s %s: %w", gvk.Kind, o.GetName(), err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if o.GetNamespace() != "" {
			ri = dyn.Resource(m.Resource).Namespace(o.GetNamespace())
		}
		if err := f(ri, o); err != nil {
			return fmt.Errorf("%s %s/%s: %w", gvk.Kind, o.GetNamespace(), o.GetName(), err)
		}
	}
	return nil
}

// waitAllowed waits until the ServiceAccount may do attrs.
func (cp *ControlPlane) waitAllowed(ctx context.Context, namespace, name string, attrs authorizationv1.ResourceAttributes) error {
	user := "system:serviceaccount:" + namespace + ":" + name
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		sar, err := cp.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: user, ResourceAttributes: &attrs,
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"}},
		}, metav1.CreateOptions{})
		return err == nil && sar.Status.Allowed, nil
	})
	if err != nil {
		return fmt.Errorf("%s never allowed to %s %s %s: %w", user, attrs.Verb, attrs.Resource, attrs.Name, err)
	}
	return nil
}

// ServiceAccountKubeconfig writes a kubeconfig that authenticates as the
// ServiceAccount with a token from the TokenRequest API, as a pod's
// projected token would, and returns its path. The ServiceAccount must
// exist (ApplySnugRBAC creates snug's).
func (cp *ControlPlane) ServiceAccountKubeconfig(ctx context.Context, namespace, name string) (string, error) {
	tr, err := cp.Client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](24 * 3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for ServiceAccount %s/%s: %w", namespace, name, err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["snug"] = &clientcmdapi.Cluster{Server: cp.RestConfig.Host, CertificateAuthorityData: cp.RestConfig.CAData}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts["snug"] = &clientcmdapi.Context{Cluster: "snug", AuthInfo: name, Namespace: namespace}
	cfg.CurrentContext = "snug"
	path := filepath.Join(cp.Dir, namespace+"-"+name+".kubeconfig")
	return path, clientcmd.WriteToFile(*cfg, path)
}
