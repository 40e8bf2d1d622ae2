package framework

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// NewNode returns a Ready, schedulable node with allocatable = capacity.
// Capacity "pods" defaults to 110. The kubernetes.io/hostname label is set
// to name unless labels override it.
func NewNode(name string, capacity corev1.ResourceList, labels map[string]string) *corev1.Node {
	capacity = capacity.DeepCopy()
	if capacity == nil {
		capacity = corev1.ResourceList{}
	}
	if _, ok := capacity[corev1.ResourcePods]; !ok {
		capacity[corev1.ResourcePods] = resource.MustParse("110")
	}
	l := map[string]string{corev1.LabelHostname: name, corev1.LabelOSStable: "linux"}
	maps.Copy(l, labels)
	now := metav1.Now()
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: capacity.DeepCopy(),
			Phase:       corev1.NodeRunning,
			Conditions: []corev1.NodeCondition{{
				Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
				LastHeartbeatTime: now, LastTransitionTime: now,
			}},
		},
	}
}

// CreateNodes creates the nodes and waits until they are schedulable. Node
// status is accepted on create, so they are Ready at once. The
// TaintNodesByCondition admission plugin taints every new node
// node.kubernetes.io/not-ready:NoSchedule; in a real cluster the node
// lifecycle controller removes the taint once the kubelet reports Ready.
// That controller is disabled here (without kubelets it would mark every
// node unreachable), so CreateNodes removes the taint itself, from nodes
// whose Ready condition is True.
func CreateNodes(ctx context.Context, client kubernetes.Interface, nodes ...*corev1.Node) error {
	for _, n := range nodes {
		created, err := client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create node %s: %w", n.Name, err)
		}
		if err := removeNotReadyTaint(ctx, client, created); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
	}
	return nil
}

func removeNotReadyTaint(ctx context.Context, client kubernetes.Interface, node *corev1.Node) error {
	if !nodeReady(node) {
		return nil
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		taints := slices.DeleteFunc(slices.Clone(node.Spec.Taints), func(t corev1.Taint) bool {
			return t.Key == corev1.TaintNodeNotReady
		})
		if len(taints) == len(node.Spec.Taints) {
			return nil
		}
		node = node.DeepCopy()
		node.Spec.Taints = taints
		_, err := client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			if n, getErr := client.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{}); getErr == nil {
				node = n
			}
		}
		return err
	})
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// WaitForPodScheduled polls until the pod has a spec.nodeName and returns it.
func WaitForPodScheduled(ctx context.Context, client kubernetes.Interface, ns, name string, timeout time.Duration) (*corev1.Pod, error) {
	var pod *corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil // tolerate NotFound / transient errors until timeout
		}
		pod = p
		return p.Spec.NodeName != "", nil
	})
	if err != nil {
		return pod, fmt.Errorf("pod %s/%s not scheduled within %v: %w", ns, name, timeout, err)
	}
	return pod, nil
}
