package integration

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/snug-sched/snug/manifests"
	"github.com/snug-sched/snug/pkg/plugins/predictabledemands"
	"github.com/snug-sched/snug/test/integration/framework"
)

// The real-cluster case the dependency gate once missed: the
// ServiceAccount admission plugin gives every pod a token volume that
// projects ConfigMap kube-root-ca.crt. Under manifests/' RBAC the gate can
// watch ConfigMaps, sees it exists and lets the pod through at once, without
// waiting out its sync timeout or waving the pod through unchecked.
func TestPodWithTokenVolumeIsScheduled(t *testing.T) {
	ctx := t.Context()
	cp := framework.StartForTest(t, framework.Options{})
	c := cp.Client
	ns := mustNamespace(t, c, "token")
	if err := framework.CreateNodes(ctx, c, framework.NewNode("node-0", resources("4", "8Gi"), nil)); err != nil {
		t.Fatal(err)
	}
	startScheduler(t, cp, "")
	created, err := c.CoreV1().Pods(ns).Create(ctx, pod("app", manifests.SchedulerName, "100m", "64Mi"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !projectsRootCA(created) {
		t.Fatalf("admission gave the pod no token volume projecting ConfigMap %s: %+v", framework.RootCAConfigMap, created.Spec.Volumes)
	}
	// Well below the gate's SyncTimeout: a gate that cannot list ConfigMaps
	// would hold the pod that long.
	if _, err := framework.WaitForPodScheduled(ctx, c, ns, "app", predictabledemands.SyncTimeout/2); err != nil {
		t.Fatal(err)
	}
	// (A DependencyGateNotSynced event would only say the cache took over 2s
	// to sync on a loaded machine; the bound above is what catches RBAC.)
	for _, reason := range []string{predictabledemands.ReasonGateBypassed, predictabledemands.ReasonMissingDependency} {
		if ev := podEvents(t, c, ns, "app", reason); len(ev) > 0 {
			t.Errorf("pod has %s events: %q", reason, ev)
		}
	}
}

// Without the shipped ConfigMap rule the gate's cache cannot sync: the pod
// is held saying so, the scheduler logs why, and after SyncTimeout the pod
// is scheduled unchecked with an event saying that.
func TestDependencyGateWithoutConfigMapRBAC(t *testing.T) {
	ctx := t.Context()
	cp := framework.StartForTest(t, framework.Options{})
	c := cp.Client
	ns := mustNamespace(t, c, "no-rbac")
	if err := framework.CreateNodes(ctx, c, framework.NewNode("node-0", resources("4", "8Gi"), nil)); err != nil {
		t.Fatal(err)
	}
	kubeconfig := schedulerKubeconfig(t, cp)
	dropConfigMapRule(t, c)
	sched, _ := startSchedulerAs(t, cp, kubeconfig, "")

	began := time.Now()
	if _, err := c.CoreV1().Pods(ns).Create(ctx, pod("app", manifests.SchedulerName, "100m", "64Mi"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	msg := podScheduledCondition(t, c, ns, "app", predictabledemands.ReasonGateNotSynced)
	if !strings.Contains(msg, "caches to sync") || !strings.Contains(msg, predictabledemands.SyncTimeout.String()) {
		t.Errorf("held pod's condition message %q does not say it waits for the caches and how long", msg)
	}
	if _, err := framework.WaitForPodScheduled(ctx, c, ns, "app", predictabledemands.SyncTimeout+30*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("scheduled %v after creation", time.Since(began).Round(100*time.Millisecond))
	if err := waitFor(ctx, 10*time.Second, func(context.Context) (bool, error) {
		return len(podEvents(t, c, ns, "app", predictabledemands.ReasonGateBypassed)) > 0, nil
	}); err != nil {
		t.Errorf("no %s event on the pod let through", predictabledemands.ReasonGateBypassed)
	}
	log := sched.LogTail(400)
	for _, want := range []string{"caches did not sync", `cannot list resource \"configmaps\"`} {
		if !strings.Contains(log, want) {
			t.Errorf("scheduler log lacks %q", want)
		}
	}
}

// dropConfigMapRule removes the configmaps rule from the shipped
// snug-scheduler ClusterRole and waits until the authorizer has seen it.
func dropConfigMapRule(t *testing.T, c kubernetes.Interface) {
	t.Helper()
	ctx := t.Context()
	role, err := c.RbacV1().ClusterRoles().Get(ctx, framework.SchedulerAccount, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rules := slices.DeleteFunc(role.Rules, func(r rbacv1.PolicyRule) bool { return slices.Contains(r.Resources, "configmaps") })
	if len(rules) == len(role.Rules) {
		t.Fatalf("shipped ClusterRole %s has no configmaps rule: %+v", role.Name, role.Rules)
	}
	role.Rules = rules
	if _, err := c.RbacV1().ClusterRoles().Update(ctx, role, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = waitFor(ctx, 30*time.Second, func(ctx context.Context) (bool, error) {
		sar, err := c.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{
				User:               "system:serviceaccount:" + framework.SnugNamespace + ":" + framework.SchedulerAccount,
				ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "list", Resource: "configmaps"},
			}}, metav1.CreateOptions{})
		return err == nil && !sar.Status.Allowed, err
	})
	if err != nil {
		t.Fatalf("ConfigMap list still allowed: %v", err)
	}
}

func projectsRootCA(p *corev1.Pod) bool {
	for _, v := range p.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, s := range v.Projected.Sources {
			if s.ConfigMap != nil && s.ConfigMap.Name == framework.RootCAConfigMap {
				return true
			}
		}
	}
	return false
}

// podEvents returns the messages of the pod's events with the reason.
func podEvents(t *testing.T, c kubernetes.Interface, ns, name, reason string) []string {
	t.Helper()
	l, err := c.CoreV1().Events(ns).List(t.Context(), metav1.ListOptions{FieldSelector: fields.AndSelectors(
		fields.OneTermEqualSelector("involvedObject.name", name), fields.OneTermEqualSelector("reason", reason)).String()})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range l.Items {
		out = append(out, e.Message)
	}
	return out
}
