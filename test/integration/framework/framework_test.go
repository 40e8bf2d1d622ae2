package framework

import (
	"context"
	"errors"
	"os/exec"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

func TestControlPlaneReplicaSet(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts etcd, kube-apiserver and kube-controller-manager")
	}
	began := time.Now()
	cp := StartForTest(t, Options{WithControllerManager: true})
	t.Logf("control plane started in %v", time.Since(began).Round(time.Millisecond))
	ctx := t.Context()
	if err := cp.StartFakeKubelet(ctx); err != nil {
		t.Fatal(err)
	}

	const ns = "fw-test"
	if _, err := CreateNamespace(ctx, cp.Client, ns); err != nil {
		t.Fatal(err)
	}
	capacity := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi")}
	if err := CreateNodes(ctx, cp.Client, NewNode("node-a", capacity, nil), NewNode("node-b", capacity, nil)); err != nil {
		t.Fatal(err)
	}

	labels := map[string]string{"app": "fw"}
	replicas := int32(2)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "fw", Namespace: ns},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeName:   "node-a", // no scheduler runs here
					Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}},
				},
			},
		},
	}
	if _, err := cp.Client.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		pods, err := cp.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=fw"})
		if err != nil {
			return false, err
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && p.Spec.NodeName == "node-a" {
				running++
			}
		}
		return len(pods.Items) == 2 && running == 2, nil
	})
	if err != nil {
		t.Fatalf("waiting for 2 running pods: %v", err)
	}
	t.Logf("2 pods running %v after start", time.Since(began).Round(time.Millisecond))

	// Deleting a bound pod must complete via the fake kubelet; the ReplicaSet
	// controller then replaces it.
	pods, err := cp.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=fw"})
	if err != nil {
		t.Fatal(err)
	}
	victim := pods.Items[0]
	if err := cp.Client.CoreV1().Pods(ns).Delete(ctx, victim.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := cp.Client.CoreV1().Pods(ns).Get(ctx, victim.Name, metav1.GetOptions{})
		return err != nil, nil
	})
	if err != nil {
		t.Fatalf("pod %s was not removed after deletion: %v", victim.Name, err)
	}

	procs := cp.Processes()
	if len(procs) != 3 {
		t.Fatalf("expected etcd, kube-apiserver, kube-controller-manager; got %d processes", len(procs))
	}
	cp.Stop()
	cp.Stop() // idempotent
	for _, p := range procs {
		if !p.Exited() {
			t.Errorf("%s not reaped after Stop", p.Name)
		}
		// Signal 0 to the (former) process group: ESRCH means no member is left.
		if err := syscall.Kill(-p.Pid(), 0); err != syscall.ESRCH {
			t.Errorf("%s (pgid %d) still alive after Stop: kill 0 returned %v", p.Name, p.Pid(), err)
		}
	}
}

// Kill ends a process at once with SIGKILL (Stop would send SIGTERM first
// and wait); a later Stop is a no-op.
func TestProcessKill(t *testing.T) {
	p, err := StartProcess("sleep", "/bin/sh", []string{"-c", "trap '' TERM; exec sleep 60"}, t.TempDir()+"/sleep.log")
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	p.Kill()
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("Kill took %v", took)
	}
	var exitErr *exec.ExitError
	if err := p.Wait(); !errors.As(err, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("Wait() = %v, want death by SIGKILL", err)
	}
	if err := syscall.Kill(-p.Pid(), 0); err != syscall.ESRCH {
		t.Errorf("process group %d still alive after Kill: %v", p.Pid(), err)
	}
	p.Stop()
	p.Kill()
}
