package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/snug-sched/snug/manifests"
	"github.com/snug-sched/snug/test/integration/framework"
)

// Every object of `kubectl apply -k manifests/` (and of the examples and
// the optional components) passes the real apiserver's validation and
// admission: a server-side dry-run create.
func TestManifestsDryRun(t *testing.T) {
	ctx := t.Context()
	cp := framework.StartForTest(t, framework.Options{})
	dir, err := framework.ManifestsDir()
	if err != nil {
		t.Fatal(err)
	}
	base := kustomize(t, dir)
	kinds := map[string]int{}
	for _, o := range base {
		kinds[o.GetKind()]++
	}
	for kind, n := range map[string]int{"Namespace": 1, "ServiceAccount": 2, "ClusterRole": 2, "ClusterRoleBinding": 4,
		"RoleBinding": 1, "ConfigMap": 2, "Deployment": 1, "Service": 1, "CronJob": 1} {
		if kinds[kind] != n {
			t.Errorf("base has %d %s objects, want %d (all: %v)", kinds[kind], kind, n, kinds)
		}
	}
	// The scheduler's ConfigMap holds exactly the configuration the binary
	// embeds, and the image placeholder is resolved.
	configs := 0
	for _, o := range base {
		if data, ok, _ := unstructured.NestedString(o.Object, "data", "scheduler-config.yaml"); ok {
			configs++
			if data != string(manifests.SchedulerConfig) {
				t.Errorf("ConfigMap %s differs from manifests/scheduler-config.yaml", o.GetName())
			}
		}
		if o.GetKind() == "Deployment" {
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			if img := containers[0].(map[string]any)["image"]; img != "snug:latest" {
				t.Errorf("Deployment image %v, want snug:latest", img)
			}
		}
	}
	if configs != 1 {
		t.Errorf("%d ConfigMaps hold scheduler-config.yaml, want 1", configs)
	}
	// Objects in a namespace are admitted only once it exists: dry-run the
	// Namespaces first, then create them for real and dry-run the rest.
	dryRun := func(objs []*unstructured.Unstructured) {
		t.Helper()
		if err := cp.Create(ctx, objs, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Fatal(err)
		}
	}
	namespacesFirst := func(objs []*unstructured.Unstructured) {
		t.Helper()
		namespaces := slices.DeleteFunc(slices.Clone(objs), func(o *unstructured.Unstructured) bool { return o.GetKind() != "Namespace" })
		dryRun(namespaces)
		for _, ns := range namespaces {
			mustNamespace(t, cp.Client, ns.GetName())
		}
		dryRun(slices.DeleteFunc(slices.Clone(objs), func(o *unstructured.Unstructured) bool { return o.GetKind() == "Namespace" }))
	}
	namespacesFirst(base)
	namespacesFirst(kustomize(t, filepath.Join(dir, "examples")))

	// The optional components build on top of the base. The ServiceMonitor's
	// CRD is not in this apiserver (nor in every cluster: that is why it is a
	// component); the secrets-gate RBAC is dry-run.
	overlay := t.TempDir()
	rel, err := filepath.Rel(overlay, dir) // kustomize takes no absolute paths
	if err != nil {
		t.Fatal(err)
	}
	kustomization := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [%q]\ncomponents: [%q, %q]\n",
		rel, filepath.Join(rel, "components", "servicemonitor"), filepath.Join(rel, "components", "secrets-gate"))
	if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(kustomization), 0o644); err != nil {
		t.Fatal(err)
	}
	var extra []*unstructured.Unstructured
	monitors := 0
	for _, o := range kustomize(t, overlay) {
		switch {
		case o.GetKind() == "ServiceMonitor":
			monitors++
		case o.GetName() == "snug-scheduler-secrets-gate":
			extra = append(extra, o)
		}
	}
	if monitors != 1 || len(extra) != 2 {
		t.Fatalf("components built %d ServiceMonitors and %d secrets-gate RBAC objects, want 1 and 2", monitors, len(extra))
	}
	dryRun(extra)
	if _, err := cp.Client.RbacV1().ClusterRoles().Get(ctx, "snug-scheduler-secrets-gate", metav1.GetOptions{}); err == nil {
		t.Error("a dry-run create stored the object")
	}
	if _, err := cp.Client.CoreV1().ServiceAccounts(framework.SnugNamespace).Get(ctx, framework.SchedulerAccount, metav1.GetOptions{}); err == nil {
		t.Error("a dry-run create stored the scheduler's ServiceAccount")
	}
}

func kustomize(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := framework.Kustomize(dir)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}
