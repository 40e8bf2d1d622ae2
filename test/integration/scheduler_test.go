package integration

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/snug-sched/snug/manifests"
	"github.com/snug-sched/snug/test/integration/framework"
)

// startScheduler runs bin/scheduler against cp as a cluster runs it: under
// its own ServiceAccount, bound by exactly the RBAC in manifests/, with
// leader election on. With config "" it relies on the shipped configuration
// (no --config), as an operator would.
func startScheduler(t *testing.T, cp *framework.ControlPlane, config string) *framework.Process {
	t.Helper()
	p, _ := startSchedulerOnPort(t, cp, config)
	return p
}

// startSchedulerOnPort is startScheduler that also returns its secure port.
func startSchedulerOnPort(t *testing.T, cp *framework.ControlPlane, config string) (*framework.Process, int) {
	t.Helper()
	return startSchedulerAs(t, cp, schedulerKubeconfig(t, cp), config)
}

// startSchedulerAs runs bin/scheduler with the credentials of kubeconfig.
func startSchedulerAs(t *testing.T, cp *framework.ControlPlane, kubeconfig, config string) (*framework.Process, int) {
	t.Helper()
	ports, err := framework.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", ports[0]),
		"--v=2",
	}
	if config != "" {
		args = append(args, "--config="+config)
	}
	return cp.StartProcessForTest(t, "snug-scheduler", binary("scheduler"), args...), ports[0]
}

// schedulerKubeconfig applies manifests/' RBAC and returns a kubeconfig of
// the scheduler's ServiceAccount.
func schedulerKubeconfig(t *testing.T, cp *framework.ControlPlane) string {
	t.Helper()
	if err := cp.ApplySnugRBAC(t.Context()); err != nil {
		t.Fatal(err)
	}
	path, err := cp.ServiceAccountKubeconfig(t.Context(), framework.SnugNamespace, framework.SchedulerAccount)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// writePluginConfig writes a KubeSchedulerConfiguration whose snug-scheduler
// profile enables plugin with the given args (YAML, indented 6), with the
// shipped leader election and the scheduler's ServiceAccount credentials.
func writePluginConfig(t *testing.T, cp *framework.ControlPlane, plugin, args string) string {
	t.Helper()
	cfg := fmt.Sprintf(`apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: %[1]s
leaderElection:
  leaderElect: true
  resourceName: snug-scheduler
  resourceNamespace: kube-system
profiles:
- schedulerName: snug-scheduler
  plugins:
    multiPoint:
      enabled:
      - name: %[2]s
  pluginConfig:
  - name: %[2]s
    args:
%[3]s
`, schedulerKubeconfig(t, cp), plugin, args)
	path := filepath.Join(t.TempDir(), "scheduler-config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pod(name, schedulerName string, cpu, memory string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			SchedulerName: schedulerName,
			Containers: []corev1.Container{{
				Name: "main", Image: "registry.k8s.io/pause:3.10",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory),
				}},
			}},
		},
	}
}

func TestSchedulerBindsOnlyItsOwnPods(t *testing.T) {
	ctx := t.Context()
	cp := framework.StartForTest(t, framework.Options{})
	c := cp.Client
	ns := mustNamespace(t, c, "binding")
	nodes := []*corev1.Node{
		framework.NewNode("small", resources("1", "2Gi"), nil),
		framework.NewNode("big", resources("8", "32Gi"), nil),
	}
	if err := framework.CreateNodes(ctx, c, nodes...); err != nil {
		t.Fatal(err)
	}
	_, port := startSchedulerOnPort(t, cp, "")

	mine := pod("mine", manifests.SchedulerName, "2", "1Gi")
	theirs := pod("theirs", corev1.DefaultSchedulerName, "100m", "64Mi")
	for _, p := range []*corev1.Pod{mine, theirs} {
		if _, err := c.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := framework.WaitForPodScheduled(ctx, c, ns, "mine", 60*time.Second)
	if err != nil {
		t.Fatalf("snug-scheduler pod not bound: %v", err)
	}
	if got.Spec.NodeName != "big" {
		t.Errorf("pod requesting 2 cpu bound to %q, want the only feasible node %q", got.Spec.NodeName, "big")
	}
	// It scheduled as the leader on the shipped lease, which the shipped RBAC
	// lets its ServiceAccount hold.
	lease, err := c.CoordinationV1().Leases("kube-system").Get(ctx, "snug-scheduler", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("leader-election lease: %v", err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
		t.Errorf("lease kube-system/snug-scheduler has no holder: %+v", lease.Spec)
	}
	// The Deployment's probes: the kubelet calls them without credentials.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // self-signed serving cert
	defer hc.CloseIdleConnections()
	for _, path := range []string{"/livez", "/readyz"} {
		resp, err := hc.Get(fmt.Sprintf("https://127.0.0.1:%d%s", port, path))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("anonymous GET %s: %s %s", path, resp.Status, body)
		}
	}
	// Once snug has decided on a pod queued after "theirs", it would also have
	// bound (or rejected) "theirs" had it taken it; it must leave
	// default-scheduler pods alone.
	waitSchedulerCaughtUp(t, c, ns, "marker")
	other, err := c.CoreV1().Pods(ns).Get(ctx, "theirs", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if other.Spec.NodeName != "" {
		t.Errorf("pod with schedulerName %q was bound to %q by snug", corev1.DefaultSchedulerName, other.Spec.NodeName)
	}
	for _, cond := range other.Status.Conditions {
		if cond.Type == corev1.PodScheduled {
			t.Errorf("snug touched the default scheduler's pod: condition %+v", cond)
		}
	}
}

func TestSchedulerRejectsInvalidPluginArgs(t *testing.T) {
	cp := framework.StartForTest(t, framework.Options{})
	for _, tc := range []struct {
		name, args string
		want       []string
		plugin     string
	}{
		{name: "negative cap ratio", plugin: "PredictableDemands",
			args: "      overcommitCaps:\n        caps:\n        - {resource: memory, ratio: -1}",
			want: []string{"overcommitCaps.caps[0].ratio", "must be greater than 0"}},
		{name: "unknown cap resource", plugin: "PredictableDemands",
			args: "      overcommitCaps:\n        caps:\n        - {resource: memroy, ratio: 1}",
			want: []string{"overcommitCaps.caps[0].resource", "memroy"}},
		{name: "malformed namespace selector", plugin: "PredictableDemands",
			args: "      declaredDemands:\n        namespaceSelector:\n          matchExpressions:\n          - {key: team, operator: Equals, values: [a]}",
			want: []string{"declaredDemands.namespaceSelector", "Equals"}},
		{"out of range", "      packingWeight: -1", []string{"packingWeight", "must be in the range [0, 100]"}, ""},
		{"misspelled field", "      strandingWieght: 2", []string{"unknown field", "strandingWieght", "StrandingAwarePacking"}, ""},
		{"unknown resource", "      resources:\n      - name: cpus\n        weight: 1", []string{"resources[0].name", "cpus"}, ""},
		{"bad shape mode", "      shapes:\n        mode: Guess", []string{"shapes.mode", "Guess"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plugin := tc.plugin
			if plugin == "" {
				plugin = "StrandingAwarePacking"
			}
			p := startScheduler(t, cp, writePluginConfig(t, cp, plugin, tc.args))
			select {
			case <-p.Done():
			case <-time.After(60 * time.Second):
				t.Fatal("scheduler still running with an invalid config")
			}
			if err := p.Wait(); err == nil {
				t.Fatal("scheduler exited 0 with an invalid config")
			}
			log := p.LogTail(40)
			for _, w := range tc.want {
				if !strings.Contains(log, w) {
					t.Errorf("scheduler output does not contain %q:\n%s", w, log)
				}
			}
		})
	}
}

// waitSchedulerCaughtUp waits until snug-scheduler has worked through the
// pods queued so far, to be called before asserting that something did not
// happen. It creates a marker pod for snug that no node can take (its node
// selector matches no node) and waits for the scheduler to report it
// unschedulable. The scheduler takes one pod at a time, higher priority
// first and, within a priority, in the order they were queued; so by then it
// has made its decision on every pod of priority 0 or higher that was queued
// before the marker. The marker stays pending; it is on no node, so it is no
// preemption victim and takes no capacity.
func waitSchedulerCaughtUp(t *testing.T, c kubernetes.Interface, ns, name string) {
	t.Helper()
	p := pod(name, manifests.SchedulerName, "10m", "16Mi")
	p.Spec.NodeSelector = map[string]string{"snug.io/test-no-such-node": name}
	if _, err := c.CoreV1().Pods(ns).Create(t.Context(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	podScheduledCondition(t, c, ns, name, corev1.PodReasonUnschedulable)
}

func resources(cpu, memory string) corev1.ResourceList {
	return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory)}
}

func mustNamespace(t *testing.T, c kubernetes.Interface, name string) string {
	t.Helper()
	if _, err := framework.CreateNamespace(t.Context(), c, name); err != nil {
		t.Fatal(err)
	}
	return name
}

// waitFor polls cond every 200ms until it holds or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, cond func(context.Context) (bool, error)) error {
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, cond)
}
