package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/snug-sched/snug/manifests"
	"github.com/snug-sched/snug/test/integration/framework"
)

// demo is one run.
type demo struct {
	p         progress
	cp        *framework.ControlPlane
	c         kubernetes.Interface
	bins      binaries
	manifests string // manifests/
	workload  *workload
	timeout   time.Duration
	// lastMeasure is placeWorkload's last report, the descheduler's before.
	lastMeasure []column
}

// pool is a node pool and the namespace whose copy of the workload one
// scheduler places on it.
type pool struct {
	name      string // value of the node label poolLabel and node name prefix
	scheduler string // spec.schedulerName of the workload
	namespace string
}

const poolLabel = "pool"

var pools = []pool{
	{name: "default", scheduler: corev1.DefaultSchedulerName, namespace: "demo-default"},
	{name: "snug", scheduler: manifests.SchedulerName, namespace: "demo-snug"},
}

// zones of every pool, in report order.
var zones = []string{"zone-a", "zone-b"}

const gpuResource corev1.ResourceName = "nvidia.com/gpu"

// nodeShape is one node of a pool; every pool has the same.
type nodeShape struct{ name, zone, gpus string }

// nodeShapes: per zone two CPU nodes and a GPU node with the same cpu and
// memory plus 4 GPUs.
var nodeShapes = []nodeShape{
	{"cpu-a1", "zone-a", ""}, {"cpu-a2", "zone-a", ""}, {"gpu-a", "zone-a", "4"},
	{"cpu-b1", "zone-b", ""}, {"cpu-b2", "zone-b", ""}, {"gpu-b", "zone-b", "4"},
}

func nodeName(p pool, s nodeShape) string { return p.name + "-" + s.name }

// startCluster starts the fake kubelet, upstream kube-scheduler and snug's
// scheduler, and creates the node pools and namespaces.
func (d *demo) startCluster(ctx context.Context) error {
	if err := d.cp.StartFakeKubelet(ctx); err != nil {
		return err
	}
	d.p.logf("fake kubelet running: pods bound to a node turn Running, evicted pods go away")

	ports, err := framework.FreePorts(2)
	if err != nil {
		return err
	}
	d.p.logf("starting upstream kube-scheduler (%s) as the default scheduler, leader election on",
		filepath.Join(d.bins.controlPlane, "kube-scheduler"))
	kubeScheduler, err := d.cp.StartProcess("kube-scheduler", filepath.Join(d.bins.controlPlane, "kube-scheduler"),
		"--kubeconfig="+d.cp.KubeconfigPath,
		"--authentication-kubeconfig="+d.cp.KubeconfigPath,
		"--authorization-kubeconfig="+d.cp.KubeconfigPath,
		"--leader-elect=true", "--leader-elect-resource-namespace=kube-system", "--leader-elect-resource-name=kube-scheduler",
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", ports[0]), "--v=2")
	if err != nil {
		return err
	}

	d.p.logf("applying the ServiceAccounts and RBAC of manifests/ (namespace %s)", framework.SnugNamespace)
	if err := d.cp.ApplySnugRBAC(ctx); err != nil {
		return err
	}
	kubeconfig, err := d.cp.ServiceAccountKubeconfig(ctx, framework.SnugNamespace, framework.SchedulerAccount)
	if err != nil {
		return err
	}
	config, err := d.schedulerConfig(kubeconfig)
	if err != nil {
		return err
	}
	d.p.logf("starting snug's scheduler (%s) as ServiceAccount %s/%s with manifests/scheduler-config.yaml",
		d.bins.scheduler, framework.SnugNamespace, framework.SchedulerAccount)
	snugScheduler, err := d.cp.StartProcess("snug-scheduler", d.bins.scheduler,
		"--config="+config,
		"--authentication-kubeconfig="+kubeconfig,
		"--authorization-kubeconfig="+kubeconfig,
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", ports[1]), "--v=2")
	if err != nil {
		return err
	}
	for _, l := range []struct {
		p     *framework.Process
		lease string
	}{{kubeScheduler, "kube-scheduler"}, {snugScheduler, "snug-scheduler"}} {
		holder, err := d.waitLeader(ctx, l.p, l.lease)
		if err != nil {
			return err
		}
		d.p.logf("%s is leader (lease kube-system/%s, holder %s)", l.p.Name, l.lease, holder)
	}

	var nodes []*corev1.Node
	for _, p := range pools {
		for _, s := range nodeShapes {
			capacity := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("16"), corev1.ResourceMemory: resource.MustParse("64Gi")}
			labels := map[string]string{corev1.LabelTopologyZone: s.zone, poolLabel: p.name}
			if s.gpus != "" {
				capacity[gpuResource] = resource.MustParse(s.gpus)
				labels["nvidia.com/gpu.product"] = "demo-gpu"
			}
			nodes = append(nodes, framework.NewNode(nodeName(p, s), capacity, labels))
		}
	}
	d.p.logf("creating two node pools of identical shape, %s=default and %s=snug: per zone (%s, %s) two CPU nodes (16 cpu, 64Gi) and a GPU node (16 cpu, 64Gi, 4 nvidia.com/gpu)",
		poolLabel, poolLabel, zones[0], zones[1])
	if err := framework.CreateNodes(ctx, d.c, nodes...); err != nil {
		return err
	}
	for _, p := range pools {
		ns := d.workload.namespace.DeepCopy()
		ns.Name = p.namespace
		if _, err := framework.CreateNamespaceObject(ctx, d.c, ns); err != nil {
			return fmt.Errorf("namespace %s: %w", p.namespace, err)
		}
	}
	return nil
}

// schedulerConfig writes manifests/scheduler-config.yaml as shipped plus the
// kubeconfig: in a cluster the scheduler finds its ServiceAccount token
// in-cluster, here clientConnection.kubeconfig names it (--kubeconfig is
// ignored beside --config).
func (d *demo) schedulerConfig(kubeconfig string) (string, error) {
	shipped, err := os.ReadFile(filepath.Join(d.manifests, "scheduler-config.yaml"))
	if err != nil {
		return "", err
	}
	cfg := fmt.Sprintf("%s\nclientConnection:\n  kubeconfig: %q\n", shipped, kubeconfig)
	path := filepath.Join(d.cp.Dir, "scheduler-config.yaml")
	return path, os.WriteFile(path, []byte(cfg), 0o600)
}

// waitLeader waits until the lease kube-system/<name> has a holder, failing
// early if the process exits.
func (d *demo) waitLeader(ctx context.Context, p *framework.Process, name string) (string, error) {
	var holder string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if p.Exited() {
			return false, &componentError{proc: p, err: fmt.Errorf("%s exited (%v) before becoming leader", p.Name, p.Wait())}
		}
		l, err := d.c.CoordinationV1().Leases("kube-system").Get(ctx, name, metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" {
			return false, nil
		}
		holder = *l.Spec.HolderIdentity
		return true, nil
	})
	if err != nil && ctx.Err() == nil {
		if _, ok := err.(*componentError); !ok {
			err = &componentError{proc: p, err: fmt.Errorf("%s did not take lease kube-system/%s: %w", p.Name, name, err)}
		}
	}
	return holder, err
}

// componentError is a failure of one process; the demo prints its log tail.
type componentError struct {
	proc *framework.Process
	err  error
}

func (e *componentError) Error() string { return e.err.Error() }
func (e *componentError) Unwrap() error { return e.err }
