package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	"github.com/snug-sched/snug/test/integration/framework"
)

const removeDuplicatesPolicy = `apiVersion: descheduler/v1alpha2
kind: DeschedulerPolicy
profiles:
- name: duplicates
  pluginConfig:
  - name: DefaultEvictor
  - name: RemoveDuplicates
  plugins:
    balance:
      enabled:
      - RemoveDuplicates
`

// The descheduler binary runs once (no --descheduling-interval) with an
// upstream policy, evicts the duplicate it should, and exits 0.
func TestDeschedulerRemoveDuplicatesRunOnce(t *testing.T) {
	ctx := t.Context()
	cp := framework.StartForTest(t, framework.Options{WithControllerManager: true})
	if err := cp.StartFakeKubelet(ctx); err != nil {
		t.Fatal(err)
	}
	c := cp.Client
	ns := mustNamespace(t, c, "duplicates")
	if err := framework.CreateNodes(ctx, c,
		framework.NewNode("node-a", resources("4", "8Gi"), nil),
		framework.NewNode("node-b", resources("4", "8Gi"), nil),
	); err != nil {
		t.Fatal(err)
	}
	// Two replicas pinned to node-a: a duplicate that RemoveDuplicates should
	// evict once, since node-b could take it.
	labels := map[string]string{"app": "dup"}
	tmpl := pod("dup", corev1.DefaultSchedulerName, "100m", "64Mi")
	tmpl.Labels = labels
	tmpl.Spec.NodeName = "node-a"
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "dup"},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec},
		},
	}
	if _, err := c.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := runningPods(ctx, t, cp, ns, 2)

	policy := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policy, []byte(removeDuplicatesPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	p := cp.StartProcessForTest(t, "snug-descheduler", binary("descheduler"),
		"--kubeconfig="+cp.KubeconfigPath, "--policy-config-file="+policy,
		"--secure-port=0", "--v=3")
	select {
	case <-p.Done():
	case <-time.After(90 * time.Second):
		t.Fatal("descheduler did not exit: run-once mode expected without --descheduling-interval")
	}
	if err := p.Wait(); err != nil {
		t.Fatalf("descheduler exit: %v\n%s", err, p.LogTail(40))
	}
	if log := p.LogTail(200); !strings.Contains(log, "Evicted pod") {
		t.Errorf("descheduler log does not report an eviction:\n%s", log)
	}

	// Exactly one of the original pods is gone; the ReplicaSet replaces it.
	var gone sets.Set[types.UID]
	err := waitFor(ctx, 30*time.Second, func(ctx context.Context) (bool, error) {
		pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		alive := sets.New[types.UID]()
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				alive.Insert(p.UID)
			}
		}
		gone = before.Difference(alive)
		return gone.Len() > 0, nil
	})
	if err != nil {
		t.Fatalf("no duplicate evicted: %v", err)
	}
	if gone.Len() != 1 {
		t.Errorf("descheduler evicted %d of the 2 duplicates, want 1", gone.Len())
	}
}

// runningPods waits until n pods run in ns and returns their UIDs.
func runningPods(ctx context.Context, t *testing.T, cp *framework.ControlPlane, ns string, n int) sets.Set[types.UID] {
	t.Helper()
	uids := sets.New[types.UID]()
	err := waitFor(ctx, 60*time.Second, func(ctx context.Context) (bool, error) {
		pods, err := cp.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		uids.Clear()
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				uids.Insert(p.UID)
			}
		}
		return uids.Len() == n, nil
	})
	if err != nil {
		t.Fatalf("waiting for %d running pods in %s: %v", n, ns, err)
	}
	return uids
}
