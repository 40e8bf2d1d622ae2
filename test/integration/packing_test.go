package integration

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	"github.com/snug-sched/snug/manifests"
	"github.com/snug-sched/snug/pkg/resourcemodel"
	"github.com/snug-sched/snug/pkg/stranding"
	"github.com/snug-sched/snug/test/integration/framework"
)

const gpu corev1.ResourceName = "nvidia.com/gpu"

type podSpecT struct {
	name   string
	cpu    string
	memory string
}

// placeInOrder creates the pods one at a time, waiting until each is bound
// or reported unschedulable, so both schedulers see the same arrival order.
// It returns pod name -> node ("" when unschedulable).
func placeInOrder(t *testing.T, cp *framework.ControlPlane, ns, schedulerName string, pods []podSpecT) map[string]string {
	t.Helper()
	ctx := t.Context()
	out := map[string]string{}
	for _, ps := range pods {
		p := pod(ps.name, schedulerName, ps.cpu, ps.memory)
		if _, err := cp.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		err := waitFor(ctx, 60*time.Second, func(ctx context.Context) (bool, error) {
			got, err := cp.Client.CoreV1().Pods(ns).Get(ctx, ps.name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if got.Spec.NodeName != "" {
				out[ps.name] = got.Spec.NodeName
				return true, nil
			}
			for _, c := range got.Status.Conditions {
				if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonUnschedulable {
					out[ps.name] = ""
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			t.Fatalf("pod %s neither bound nor unschedulable: %v", ps.name, err)
		}
	}
	return out
}

// strandedMemory sums, over the nodes, the free memory that none of the
// given shapes can use (pkg/stranding), in GiB.
func strandedMemory(t *testing.T, cp *framework.ControlPlane, ns string, shapes []corev1.ResourceList) float64 {
	t.Helper()
	ctx := t.Context()
	nodes, err := cp.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods, err := cp.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l := stranding.NewLayout()
	l.Add(corev1.ResourceCPU, 1, false)
	mem := l.Add(corev1.ResourceMemory, 1, false)
	vec := func(r corev1.ResourceList) stranding.Vec {
		var v stranding.Vec
		for i := 0; i < l.N; i++ {
			v[i] = float64(resourcemodel.Value(l.Names[i], r))
		}
		return v
	}
	var s stranding.Shapes
	for _, sh := range shapes {
		s.Add(&l, vec(sh))
	}
	total := 0.0
	for _, n := range nodes.Items {
		used := corev1.ResourceList{}
		for _, p := range pods.Items {
			if p.Spec.NodeName == n.Name {
				for k, q := range resourcemodel.Requests(&p) {
					cur := used[k]
					cur.Add(q)
					used[k] = cur
				}
			}
		}
		alloc, u, zero := vec(n.Status.Allocatable), vec(used), stranding.Vec{}
		free := stranding.Free(&l, &alloc, &u, &zero)
		st := stranding.Stranded(&l, &s, &free)
		total += st[mem] / (1 << 30)
	}
	return total
}

func nodesUsed(placement map[string]string) int {
	s := sets.New[string]()
	for _, n := range placement {
		if n != "" {
			s.Insert(n)
		}
	}
	return s.Len()
}

func failed(placement map[string]string) []string {
	var out []string
	for p, n := range placement {
		if n == "" {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// (a) A mixed workload on identical nodes: the default profile spreads it
// thin, so the large pod finds no node although the cluster has the memory
// for it (stranded); snug pairs complementary pods, fills whole nodes and
// places all of it on fewer nodes.
func TestPackingMixedWorkloadAgainstDefaultProfile(t *testing.T) {
	// Two cpu-heavy and two memory-heavy pods fill a node exactly, so the six
	// of each fit on three nodes and leave the fourth for the large pod.
	var workload []podSpecT
	for i := 0; i < 6; i++ {
		workload = append(workload, podSpecT{fmt.Sprintf("cpu-heavy-%d", i), "3", "4Gi"})
		workload = append(workload, podSpecT{fmt.Sprintf("mem-heavy-%d", i), "1", "12Gi"})
	}
	workload = append(workload, podSpecT{"large", "6", "24Gi"})
	// Memory is stranded when the pod that needs it cannot use it: judge the
	// free memory against the large pod's shape.
	shapes := []corev1.ResourceList{resources("6", "24Gi")}

	run := func(t *testing.T, snug bool) (map[string]string, float64) {
		cp := framework.StartForTest(t, framework.Options{})
		ns := mustNamespace(t, cp.Client, "mixed")
		var nodes []*corev1.Node
		for i := 0; i < 5; i++ {
			nodes = append(nodes, framework.NewNode(fmt.Sprintf("node-%d", i), resources("8", "32Gi"), nil))
		}
		if err := framework.CreateNodes(t.Context(), cp.Client, nodes...); err != nil {
			t.Fatal(err)
		}
		name := corev1.DefaultSchedulerName
		if snug {
			startScheduler(t, cp, "")
			name = manifests.SchedulerName
		} else {
			startKubeScheduler(t, cp)
		}
		placement := placeInOrder(t, cp, ns, name, workload)
		return placement, strandedMemory(t, cp, ns, shapes)
	}
	var defPlacement, snugPlacement map[string]string
	var defStranded, snugStranded float64
	t.Run("default", func(t *testing.T) { defPlacement, defStranded = run(t, false) })
	t.Run("snug", func(t *testing.T) { snugPlacement, snugStranded = run(t, true) })
	if defPlacement == nil || snugPlacement == nil {
		t.Fatal("a profile run failed")
	}
	t.Logf("default: %d nodes, failed %v, stranded memory %.1f GiB; snug: %d nodes, failed %v, stranded memory %.1f GiB",
		nodesUsed(defPlacement), failed(defPlacement), defStranded, nodesUsed(snugPlacement), failed(snugPlacement), snugStranded)
	t.Logf("default placement %v\nsnug placement %v", defPlacement, snugPlacement)
	if f := failed(snugPlacement); len(f) > 0 {
		t.Errorf("snug left pods unscheduled: %v (placement %v)", f, snugPlacement)
	}
	if len(failed(defPlacement)) == 0 || defStranded < 24 {
		t.Errorf("default profile placed everything or stranded only %.1f GiB: the workload no longer shows fragmentation", defStranded)
	}
	if nodesUsed(snugPlacement) >= nodesUsed(defPlacement) {
		t.Errorf("snug used %d nodes, default %d: want fewer", nodesUsed(snugPlacement), nodesUsed(defPlacement))
	}
	if defStranded <= snugStranded {
		t.Errorf("stranded memory: default %.1f GiB, snug %.1f GiB; want default to strand more", defStranded, snugStranded)
	}
}

// (b) A Deployment with a ScheduleAnyway zone constraint ends balanced across
// zones while the nodes inside each zone are packed.
func TestSpreadAcrossZonesPackWithin(t *testing.T) {
	ctx := t.Context()
	cp := framework.StartForTest(t, framework.Options{WithControllerManager: true})
	if err := cp.StartFakeKubelet(ctx); err != nil {
		t.Fatal(err)
	}
	ns := mustNamespace(t, cp.Client, "spread")
	var nodes []*corev1.Node
	for _, zone := range []string{"zone-a", "zone-b"} {
		for i := 0; i < 3; i++ {
			nodes = append(nodes, framework.NewNode(fmt.Sprintf("%s-%d", zone, i), resources("4", "16Gi"),
				map[string]string{corev1.LabelTopologyZone: zone}))
		}
	}
	if err := framework.CreateNodes(ctx, cp.Client, nodes...); err != nil {
		t.Fatal(err)
	}
	startScheduler(t, cp, "")
	labels := map[string]string{"app": "web"}
	tmpl := pod("web", manifests.SchedulerName, "1", "2Gi")
	tmpl.Labels = labels
	tmpl.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
		MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.ScheduleAnyway,
		LabelSelector: &metav1.LabelSelector{MatchLabels: labels},
	}}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](6),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec},
		},
	}
	if _, err := cp.Client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pods []corev1.Pod
	err := waitFor(ctx, 90*time.Second, func(ctx context.Context) (bool, error) {
		l, err := cp.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		pods = l.Items
		for _, p := range pods {
			if p.Spec.NodeName == "" {
				return false, nil
			}
		}
		return len(pods) == 6, nil
	})
	if err != nil {
		t.Fatalf("deployment not placed: %v", err)
	}
	perZone := map[string]int{}
	nodesPerZone := map[string]sets.Set[string]{}
	for _, p := range pods {
		zone := p.Spec.NodeName[:len("zone-a")]
		perZone[zone]++
		if nodesPerZone[zone] == nil {
			nodesPerZone[zone] = sets.New[string]()
		}
		nodesPerZone[zone].Insert(p.Spec.NodeName)
	}
	if perZone["zone-a"] != 3 || perZone["zone-b"] != 3 {
		t.Errorf("pods per zone = %v, want 3 and 3", perZone)
	}
	// 3 pods of 1 cpu fit on one 4-cpu node: packing within the zone uses one node.
	for zone, ns := range nodesPerZone {
		if ns.Len() != 1 {
			t.Errorf("zone %s: pods on nodes %v, want them packed on one node", zone, sets.List(ns))
		}
	}
}

// (c) CPU-only pods stay off GPU nodes while CPU nodes have room, even when
// packing alone would prefer the busier GPU node, and still schedule onto
// the GPU node when nothing else fits.
func TestCPUPodsAvoidGPUNodes(t *testing.T) {
	ctx := t.Context()
	cp := framework.StartForTest(t, framework.Options{})
	ns := mustNamespace(t, cp.Client, "scarce")
	gpuCap := resources("16", "64Gi")
	gpuCap[gpu] = resource.MustParse("4")
	if err := framework.CreateNodes(ctx, cp.Client,
		framework.NewNode("cpu-0", resources("4", "16Gi"), nil),
		framework.NewNode("cpu-1", resources("4", "16Gi"), nil),
		framework.NewNode("gpu-0", gpuCap, nil),
	); err != nil {
		t.Fatal(err)
	}
	startScheduler(t, cp, "")
	// A GPU pod makes gpu-0 the fullest node: packing alone would pull CPU pods there.
	trainer := pod("trainer", manifests.SchedulerName, "8", "32Gi")
	trainer.Spec.Containers[0].Resources.Requests[gpu] = resource.MustParse("1")
	trainer.Spec.Containers[0].Resources.Limits = corev1.ResourceList{gpu: resource.MustParse("1")}
	if _, err := cp.Client.CoreV1().Pods(ns).Create(ctx, trainer, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if p, err := framework.WaitForPodScheduled(ctx, cp.Client, ns, "trainer", 60*time.Second); err != nil || p.Spec.NodeName != "gpu-0" {
		t.Fatalf("trainer: %v on %v", err, p)
	}
	var workload []podSpecT
	for i := 0; i < 10; i++ {
		workload = append(workload, podSpecT{fmt.Sprintf("cpu-%d", i), "1", "2Gi"})
	}
	placement := placeInOrder(t, cp, ns, manifests.SchedulerName, workload)
	for i := 0; i < 8; i++ { // 8 x 1 cpu fill both CPU nodes exactly
		if n := placement[fmt.Sprintf("cpu-%d", i)]; n == "gpu-0" || n == "" {
			t.Errorf("cpu-%d placed on %q while CPU nodes had room", i, n)
		}
	}
	for i := 8; i < 10; i++ {
		if n := placement[fmt.Sprintf("cpu-%d", i)]; n != "gpu-0" {
			t.Errorf("cpu-%d placed on %q, want gpu-0 (the only node with room left)", i, n)
		}
	}
}
