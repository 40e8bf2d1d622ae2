package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/snug-sched/snug/manifests"
	"github.com/snug-sched/snug/pkg/plugins/predictabledemands"
	"github.com/snug-sched/snug/test/integration/framework"
)

// podScheduledCondition waits until the pod's PodScheduled condition has
// the reason and returns its message.
func podScheduledCondition(t *testing.T, c kubernetes.Interface, ns, name, reason string) string {
	t.Helper()
	var msg string
	err := waitFor(t.Context(), 60*time.Second, func(ctx context.Context) (bool, error) {
		p, err := c.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if p.Spec.NodeName != "" {
			t.Fatalf("pod %s bound to %s, want it held back (%s)", name, p.Spec.NodeName, reason)
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Reason == reason {
				msg = cond.Message
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("pod %s: no PodScheduled condition with reason %s: %v", name, reason, err)
	}
	return msg
}

// A pod referencing a missing ConfigMap is not scheduled, says which object
// is missing, and is bound soon after the ConfigMap is created.
func TestDependencyGateMissingConfigMap(t *testing.T) {
	ctx := t.Context()
	cp := framework.StartForTest(t, framework.Options{})
	c := cp.Client
	ns := mustNamespace(t, c, "gate")
	if err := framework.CreateNodes(ctx, c, framework.NewNode("node-0", resources("4", "8Gi"), nil)); err != nil {
		t.Fatal(err)
	}
	startScheduler(t, cp, "")
	p := pod("app", manifests.SchedulerName, "100m", "64Mi")
	p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}}}}
	p.Spec.Volumes = []corev1.Volume{{Name: "settings", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "optional-settings"}, Optional: ptrTrue()}}}}
	if _, err := c.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	msg := podScheduledCondition(t, c, ns, "app", predictabledemands.ReasonMissingDependency)
	if !strings.Contains(msg, `ConfigMap "app-config"`) || !strings.Contains(msg, "envFrom") {
		t.Errorf("condition message %q does not name the missing ConfigMap and where it is referenced", msg)
	}
	if strings.Contains(msg, "optional-settings") {
		t.Errorf("optional ConfigMap reported as missing: %q", msg)
	}
	// Still held back once the scheduler has moved on to later pods.
	waitSchedulerCaughtUp(t, c, ns, "marker")
	if got, _ := c.CoreV1().Pods(ns).Get(ctx, "app", metav1.GetOptions{}); got.Spec.NodeName != "" {
		t.Fatalf("pod bound to %s while its ConfigMap is missing", got.Spec.NodeName)
	}

	created := time.Now()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app-config"}, Data: map[string]string{"k": "v"}}
	if _, err := c.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Well under the 5-minute flush of unschedulable pods: the gate activates it.
	if _, err := framework.WaitForPodScheduled(ctx, c, ns, "app", 20*time.Second); err != nil {
		t.Fatalf("pod not bound after its ConfigMap appeared: %v", err)
	}
	t.Logf("bound %v after the ConfigMap was created", time.Since(created).Round(10*time.Millisecond))
}

const enforcedLabel = "snug.io/declared-demands"

// A BestEffort pod is refused in a namespace that enforces declared demands
// and scheduled in one that does not.
func TestDeclaredDemandsPerNamespace(t *testing.T) {
	ctx := t.Context()
	cp := framework.StartForTest(t, framework.Options{})
	c := cp.Client
	if err := framework.CreateNodes(ctx, c, framework.NewNode("node-0", resources("4", "8Gi"), nil)); err != nil {
		t.Fatal(err)
	}
	enforced := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "prod", Labels: map[string]string{enforcedLabel: "enforced"}}}
	if _, err := framework.CreateNamespaceObject(ctx, c, enforced); err != nil {
		t.Fatal(err)
	}
	free := mustNamespace(t, c, "sandbox")
	startScheduler(t, cp, writePluginConfig(t, cp, "PredictableDemands", `      declaredDemands:
        namespaceSelector:
          matchLabels: {"`+enforcedLabel+`": enforced}`))
	bestEffort := func(ns string) {
		p := pod("best-effort", manifests.SchedulerName, "0", "0")
		p.Spec.Containers[0].Resources = corev1.ResourceRequirements{}
		if _, err := c.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	bestEffort("prod")
	bestEffort(free)
	if _, err := framework.WaitForPodScheduled(ctx, c, free, "best-effort", 60*time.Second); err != nil {
		t.Fatalf("BestEffort pod in a namespace without enforcement: %v", err)
	}
	msg := podScheduledCondition(t, c, "prod", "best-effort", corev1.PodReasonUnschedulable)
	if !strings.Contains(msg, `container "main" declares no cpu request`) {
		t.Errorf("condition message %q does not name the container and the missing request", msg)
	}
}

// shippedConfigWithDemands writes the shipped scheduler configuration with
// PredictableDemands args added to its profile (args YAML indented by 6),
// connected to the control plane as the scheduler's ServiceAccount.
func shippedConfigWithDemands(t *testing.T, cp *framework.ControlPlane, args string) string {
	t.Helper()
	cfg := fmt.Sprintf("clientConnection:\n  kubeconfig: %s\n%s  pluginConfig:\n  - name: PredictableDemands\n    args:\n%s",
		schedulerKubeconfig(t, cp), manifests.SchedulerConfig, args)
	path := filepath.Join(t.TempDir(), "scheduler-config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A cluster snug is adopted into: the default scheduler's pods already hold
// memory limits of 1.5 x allocatable on every node (a container without a
// limit counting its request). The shipped configuration schedules snug's
// pods there: caps are opt-in.
func TestShippedConfigSchedulesOntoOvercommittedNodes(t *testing.T) {
	ctx := t.Context()
	cp := framework.StartForTest(t, framework.Options{})
	c := cp.Client
	ns := mustNamespace(t, c, "brownfield")
	if err := framework.CreateNodes(ctx, c,
		framework.NewNode("node-a", resources("8", "8Gi"), nil),
		framework.NewNode("node-b", resources("8", "8Gi"), nil),
	); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"node-a", "node-b"} {
		limited := pod("limited-"+n, corev1.DefaultSchedulerName, "500m", "2Gi")
		limited.Spec.NodeName = n
		limited.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("8Gi")}
		unlimited := pod("unlimited-"+n, corev1.DefaultSchedulerName, "500m", "4Gi") // counts its 4Gi request
		unlimited.Spec.NodeName = n
		for _, p := range []*corev1.Pod{limited, unlimited} {
			if _, err := c.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	startScheduler(t, cp, "")
	p := pod("small", manifests.SchedulerName, "100m", "128Mi")
	p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")}
	if _, err := c.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := framework.WaitForPodScheduled(ctx, c, ns, "small", 60*time.Second); err != nil {
		t.Fatalf("a small snug pod on nodes whose memory limits are 1.5 x allocatable: %v", err)
	}
}

// With a memory cap turned on, a node at its cap is skipped; the pending pod
// is scheduled onto it once a pod there is deleted.
func TestOvercommitCapRequeuesOnPodDelete(t *testing.T) {
	ctx := t.Context()
	cp := framework.StartForTest(t, framework.Options{})
	if err := cp.StartFakeKubelet(ctx); err != nil {
		t.Fatal(err)
	}
	c := cp.Client
	ns := mustNamespace(t, c, "caps")
	if err := framework.CreateNodes(ctx, c,
		framework.NewNode("node-a", resources("8", "8Gi"), nil),
		framework.NewNode("node-b", resources("8", "8Gi"), nil),
	); err != nil {
		t.Fatal(err)
	}
	// Burstable fillers: small requests, limits at the node's whole memory,
	// bound directly so only the cap (not requests) keeps the nodes full.
	filler := func(name, node string) {
		p := pod(name, corev1.DefaultSchedulerName, "100m", "512Mi")
		p.Spec.NodeName = node
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("7Gi")}
		if _, err := c.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	filler("filler-a", "node-a")
	startScheduler(t, cp, shippedConfigWithDemands(t, cp, "      overcommitCaps:\n        caps: [{resource: memory, ratio: 1}]\n"))
	incoming := func(name string) {
		p := pod(name, manifests.SchedulerName, "100m", "512Mi")
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")}
		if _, err := c.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// node-a holds 7Gi of limits: 7+2 > 8, so the pod must skip it although
	// its requests fit and packing would prefer the busier node.
	incoming("first")
	if p, err := framework.WaitForPodScheduled(ctx, c, ns, "first", 60*time.Second); err != nil || p.Spec.NodeName != "node-b" {
		t.Fatalf("first: want node-b (node-a is at its memory-limit cap), got %v, %v", p, err)
	}
	filler("filler-b", "node-b") // node-b: 2+7 = 9Gi > cap, now both nodes are capped
	incoming("second")
	msg := podScheduledCondition(t, c, ns, "second", corev1.PodReasonUnschedulable)
	if !strings.Contains(msg, "memory limit cap") {
		t.Errorf("unschedulable message %q does not mention the memory limit cap", msg)
	}
	deleted := time.Now()
	if err := c.CoreV1().Pods(ns).Delete(ctx, "filler-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := framework.WaitForPodScheduled(ctx, c, ns, "second", 30*time.Second)
	if err != nil {
		t.Fatalf("pending pod not scheduled after a pod on the capped node was deleted: %v", err)
	}
	if p.Spec.NodeName != "node-a" {
		t.Errorf("second bound to %s, want node-a", p.Spec.NodeName)
	}
	t.Logf("bound %v after the filler pod was deleted", time.Since(deleted).Round(10*time.Millisecond))
}

func ptrTrue() *bool { b := true; return &b }
