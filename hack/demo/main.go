// Command demo is `make demo`: it starts the integration harness's local
// control plane (etcd, kube-apiserver, kube-controller-manager, a fake
// kubelet), runs snug's scheduler against it, creates a small mixed node pool
// and a few workloads with schedulerName snug-scheduler, prints where each pod
// landed and how full each node is, and stops every process it started on
// exit or Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"
	"text/tabwriter"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/snug-sched/snug/manifests"
	"github.com/snug-sched/snug/pkg/resourcemodel"
	"github.com/snug-sched/snug/test/integration/framework"
)

const namespace = "demo"

func main() {
	binDir := flag.String("bin", "bin", "directory holding snug's scheduler binary")
	timeout := flag.Duration("timeout", 3*time.Minute, "how long to wait for the workloads to be placed")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *binDir, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, binDir string, timeout time.Duration) error {
	logf := func(format string, args ...any) { fmt.Printf("· "+format+"\n", args...) }
	logDir, err := os.MkdirTemp("", "snug-demo-logs-")
	if err != nil {
		return err
	}
	logf("starting etcd, kube-apiserver and kube-controller-manager (logs in %s)", logDir)
	cp, err := framework.Start(ctx, framework.Options{WithControllerManager: true, Logf: logf, LogDir: logDir})
	if err != nil {
		return err
	}
	defer func() {
		logf("stopping every process the demo started")
		cp.Stop()
	}()
	if err := cp.StartFakeKubelet(ctx); err != nil {
		return err
	}
	scheduler, err := filepath.Abs(filepath.Join(binDir, "scheduler"))
	if err != nil {
		return err
	}
	ports, err := framework.FreePorts(1)
	if err != nil {
		return err
	}
	logf("starting snug's scheduler (shipped profile %q)", manifests.SchedulerName)
	if _, err := cp.StartProcess("snug-scheduler", scheduler,
		"--kubeconfig="+cp.KubeconfigPath,
		"--authentication-kubeconfig="+cp.KubeconfigPath,
		"--authorization-kubeconfig="+cp.KubeconfigPath,
		"--leader-elect=false", "--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", ports[0])); err != nil {
		return err
	}
	c := cp.Client
	if _, err := framework.CreateNamespace(ctx, c, namespace); err != nil {
		return err
	}
	logf("creating a mixed node pool: 4 CPU nodes in two zones, 1 GPU node")
	if err := framework.CreateNodes(ctx, c, nodePool()...); err != nil {
		return err
	}
	logf("creating workloads with schedulerName %s", manifests.SchedulerName)
	if err := createWorkloads(ctx, c); err != nil {
		return err
	}
	pods, err := waitPlaced(ctx, c, timeout)
	if err != nil {
		return err
	}
	return report(ctx, c, pods)
}

func nodePool() []*corev1.Node {
	cpuNode := func(name, zone string) *corev1.Node {
		return framework.NewNode(name, list("8", "32Gi", ""), map[string]string{corev1.LabelTopologyZone: zone})
	}
	gpu := framework.NewNode("gpu-a", list("16", "64Gi", "4"), map[string]string{
		corev1.LabelTopologyZone: "zone-a", "nvidia.com/gpu.product": "demo-gpu"})
	return []*corev1.Node{cpuNode("cpu-a1", "zone-a"), cpuNode("cpu-a2", "zone-a"),
		cpuNode("cpu-b1", "zone-b"), cpuNode("cpu-b2", "zone-b"), gpu}
}

func list(cpu, memory, gpu string) corev1.ResourceList {
	l := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory)}
	if gpu != "" {
		l["nvidia.com/gpu"] = resource.MustParse(gpu)
	}
	return l
}

func podSpec(requests corev1.ResourceList) corev1.PodSpec {
	return corev1.PodSpec{
		SchedulerName: manifests.SchedulerName,
		Containers: []corev1.Container{{
			Name: "main", Image: "registry.k8s.io/pause:3.10",
			Resources: corev1.ResourceRequirements{Requests: requests, Limits: requests},
		}},
	}
}

func deployment(name string, replicas int32, requests corev1.ResourceList, spread bool) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	spec := podSpec(requests)
	if spread {
		spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
			MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.ScheduleAnyway,
			LabelSelector: &metav1.LabelSelector{MatchLabels: labels},
		}}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
}

// createWorkloads: a zone-spread web tier, CPU-heavy batch and memory-heavy
// cache pods (complementary shapes), and a GPU trainer.
func createWorkloads(ctx context.Context, c kubernetes.Interface) error {
	for _, d := range []*appsv1.Deployment{
		deployment("web", 4, list("1", "2Gi", ""), true),
		deployment("batch", 3, list("3", "2Gi", ""), false),
		deployment("cache", 3, list("500m", "12Gi", ""), false),
		deployment("trainer", 1, list("4", "16Gi", "2"), false),
	} {
		if _, err := c.AppsV1().Deployments(namespace).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

func waitPlaced(ctx context.Context, c kubernetes.Interface, timeout time.Duration) ([]corev1.Pod, error) {
	const want = 11
	var pods []corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		l, err := c.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		pods = l.Items
		bound := 0
		for _, p := range pods {
			if p.Spec.NodeName != "" {
				bound++
			}
		}
		return bound == want && len(pods) == want, nil
	})
	if err != nil {
		return pods, fmt.Errorf("waiting for %d pods to be placed: %w", want, err)
	}
	return pods, nil
}

func report(ctx context.Context, c kubernetes.Interface, pods []corev1.Pod) error {
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "\nPOD\tCPU\tMEMORY\tGPU\tNODE")
	used := map[string]corev1.ResourceList{}
	for _, p := range pods {
		r := resourcemodel.Requests(&p)
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", p.Name, qty(r, corev1.ResourceCPU), qty(r, corev1.ResourceMemory), qty(r, "nvidia.com/gpu"), p.Spec.NodeName)
		if used[p.Spec.NodeName] == nil {
			used[p.Spec.NodeName] = corev1.ResourceList{}
		}
		for n, q := range r {
			cur := used[p.Spec.NodeName][n]
			cur.Add(q)
			used[p.Spec.NodeName][n] = cur
		}
	}
	nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "\nNODE\tZONE\tCPU USED\tMEMORY USED\tGPU USED")
	for _, n := range nodes.Items {
		a := n.Status.Allocatable
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", n.Name, n.Labels[corev1.LabelTopologyZone],
			frac(used[n.Name], a, corev1.ResourceCPU), frac(used[n.Name], a, corev1.ResourceMemory), frac(used[n.Name], a, "nvidia.com/gpu"))
	}
	return w.Flush()
}

func qty(l corev1.ResourceList, n corev1.ResourceName) string {
	if q, ok := l[n]; ok {
		return q.String()
	}
	return "-"
}

func frac(used, alloc corev1.ResourceList, n corev1.ResourceName) string {
	a := resourcemodel.Value(n, alloc)
	if a == 0 {
		return "-"
	}
	return fmt.Sprintf("%3.0f%%", 100*float64(resourcemodel.Value(n, used))/float64(a))
}
