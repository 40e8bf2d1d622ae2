// Package descheduler measures snug's descheduler (pkg/strategies behind the
// simulation gate) for issue 17's two numbers:
//
//   - Scale: planning time and peak memory of one --dry-run style run of all
//     six strategies over a synthetic cluster (Synthetic: 5,000 nodes and
//     50,000 pods in the benchmark), through the descheduler framework as
//     the command runs them (RunStrategies).
//   - Trace: stranded GPUs and nodes in use before and after one
//     HighNodeUtilization + LowNodeUtilization pass over the Alibaba openb
//     trace, left fragmented by a default-profile churn replay
//     (test/benchmark/quality protocol B, stopped early; RunTrace).
//
// make bench-descheduler runs both (cmd/bench-descheduler) and writes
// docs/descheduler-benchmarks.md; go test runs the scale benchmark at a
// small size and checks only functional facts.
package descheduler

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/snug-sched/snug/manifests"
)

// Namespace of the synthetic workloads.
const Namespace = "bench"

// GPU is the extended resource of GPU nodes.
const GPU corev1.ResourceName = "nvidia.com/gpu"

// Zones of the synthetic cluster.
var Zones = []string{"zone-a", "zone-b", "zone-c"}

// Cluster is a synthetic cluster: nodes, ReplicaSets and their bound pods.
type Cluster struct {
	Nodes       []*corev1.Node
	ReplicaSets []*appsv1.ReplicaSet
	Pods        []*corev1.Pod
	// Counts of the deliberately misplaced pods, by the strategy meant to
	// find them, and of the node classes.
	Planted                   map[string]int
	Over, Under, GPUNodes     int
	DefaultPods, SnugPods     int
	OverPods, UnderPods, Base int
}

// Objects returns everything to seed a fake clientset with.
func (c *Cluster) Objects() []runtime.Object {
	out := make([]runtime.Object, 0, len(c.Nodes)+len(c.ReplicaSets)+len(c.Pods))
	for _, n := range c.Nodes {
		out = append(out, n)
	}
	for _, r := range c.ReplicaSets {
		out = append(out, r)
	}
	for _, p := range c.Pods {
		out = append(out, p)
	}
	return out
}

// node classes of the synthetic cluster
const (
	classNormal = iota
	classOver   // above LowNodeUtilization's targetThresholds (50%)
	classUnder  // below every threshold of Low- and HighNodeUtilization (20%)
)

type shape struct {
	cpu, mem string
	gpu      int64
}

// Synthetic builds a cluster of nodes nodes and exactly pods pods (pods
// must be at least 8 per node): nodes in three zones, one in five a GPU
// node (64 cores, 256 GiB, 8 GPUs; the rest 32 cores, 128 GiB), labelled
// pool=blue or pool=green in pairs. One CPU node in eight and one GPU node
// in six is overutilized (18 pods of 1 core / 4 GiB on a CPU node: 56%), as
// many are underutilized (2 pods: 6%), the rest hold the remaining pods
// evenly. ReplicaSets of 10
// replicas are spread one pod per node, alternately of default-scheduler
// and snug-scheduler; on GPU nodes pods ask for twice as much (2 cores,
// 8 GiB), the first 8 on each node also for one GPU.
//
// Planted for the violation strategies, per 5,000 nodes (scaled with the
// node count, at least one each): 50 ReplicaSets of 3 replicas stacked on
// one node (RemoveDuplicates), 20 ReplicaSets of 5 replicas requiring
// pool=blue running on green nodes (RemovePodsViolatingNodeAffinity), 100
// ReplicaSets of 2 replicas with required anti-affinity to each other per
// hostname running on one node (RemovePodsViolatingInterPodAntiAffinity),
// and 50 ReplicaSets of 6 replicas with a zone spread constraint (maxSkew
// 1, DoNotSchedule) all in zone-a (RemovePodsViolatingTopologySpreadConstraint).
// Planted pods ask for 500m / 1 GiB and sit on normal CPU nodes.
func Synthetic(nodes, pods int) (*Cluster, error) {
	if nodes < 30 || pods < 8*nodes {
		return nil, fmt.Errorf("synthetic cluster: want at least 30 nodes and 8 pods per node, got %d nodes, %d pods", nodes, pods)
	}
	c := &Cluster{Planted: map[string]int{}}
	scale := func(n int) int { return max(1, n*nodes/5000) }
	class := make([]int, nodes)
	isGPU := make([]bool, nodes)
	for i := 0; i < nodes; i++ {
		isGPU[i] = i%5 == 4
		switch {
		case i%10 == 1 || i%30 == 4:
			class[i] = classOver
			c.Over++
		case i%10 == 6 || i%30 == 14:
			class[i] = classUnder
			c.Under++
		}
		labels := map[string]string{
			corev1.LabelHostname:     nodeName(i),
			corev1.LabelTopologyZone: Zones[i%3],
			"pool":                   []string{"blue", "green"}[(i/2)%2],
		}
		alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("128Gi"),
			corev1.ResourcePods: resource.MustParse("110")}
		if isGPU[i] {
			c.GPUNodes++
			labels["node-type"] = "gpu"
			alloc[corev1.ResourceCPU] = resource.MustParse("64")
			alloc[corev1.ResourceMemory] = resource.MustParse("256Gi")
			alloc[GPU] = resource.MustParse("8")
		} else {
			labels["node-type"] = "cpu"
		}
		c.Nodes = append(c.Nodes, &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: nodeName(i), Labels: labels, UID: types.UID("node-" + nodeName(i))},
			Status: corev1.NodeStatus{Allocatable: alloc, Capacity: alloc.DeepCopy(),
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}},
		})
	}
	// Normal CPU nodes host the planted pods, round robin.
	var hosts []int
	for i := 0; i < nodes; i++ {
		if class[i] == classNormal && !isGPU[i] {
			hosts = append(hosts, i)
		}
	}
	perNode := make([]int, nodes) // pods placed so far
	next := 0
	host := func(pred func(int) bool) int {
		for {
			i := hosts[next%len(hosts)]
			next++
			if pred == nil || pred(i) {
				return i
			}
		}
	}
	rsIndex := 0
	newRS := func(prefix string, template corev1.PodSpec, extraLabels map[string]string) *appsv1.ReplicaSet {
		name := fmt.Sprintf("%s-%05d", prefix, rsIndex)
		rsIndex++
		template.SchedulerName = []string{corev1.DefaultSchedulerName, manifests.SchedulerName}[rsIndex%2]
		labels := map[string]string{"app": name}
		for k, v := range extraLabels {
			labels[k] = v
		}
		rs := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: Namespace, UID: types.UID("rs-" + name), Labels: labels},
			Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: template}},
		}
		c.ReplicaSets = append(c.ReplicaSets, rs)
		return rs
	}
	addPod := func(rs *appsv1.ReplicaSet, replica, node int) {
		addPodSpec(c, rs, replica, node, rs.Spec.Template.Spec, perNode)
	}
	small := spec(shape{"500m", "1Gi", 0})

	// RemoveDuplicates: three replicas on one node.
	for k := 0; k < scale(50); k++ {
		rs := newRS("dup", small, nil)
		n := host(nil)
		for r := 0; r < 3; r++ {
			addPod(rs, r, n)
		}
		c.Planted["RemoveDuplicates"] += 2
	}
	// Node affinity: requires pool=blue, runs on green.
	for k := 0; k < scale(20); k++ {
		s := small.DeepCopy()
		s.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "pool", Operator: corev1.NodeSelectorOpIn, Values: []string{"blue"}}}}}}}}
		rs := newRS("affinity", *s, nil)
		for r := 0; r < 5; r++ {
			addPod(rs, r, host(func(i int) bool { return c.Nodes[i].Labels["pool"] == "green" }))
		}
		c.Planted["RemovePodsViolatingNodeAffinity"] += 5
	}
	// Inter-pod anti-affinity: two replicas that refuse each other's node.
	for k := 0; k < scale(100); k++ {
		s := small.DeepCopy()
		name := fmt.Sprintf("anti-%05d", rsIndex)
		s.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}, TopologyKey: corev1.LabelHostname}}}}
		rs := newRS("anti", *s, nil)
		n := host(nil)
		addPod(rs, 0, n)
		addPod(rs, 1, n)
		c.Planted["RemovePodsViolatingInterPodAntiAffinity"] += 2
	}
	// Topology spread: six replicas, maxSkew 1 across zones, all in zone-a.
	for k := 0; k < scale(50); k++ {
		s := small.DeepCopy()
		name := fmt.Sprintf("spread-%05d", rsIndex)
		s.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone,
			WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}}}
		rs := newRS("spread", *s, nil)
		for r := 0; r < 6; r++ {
			addPod(rs, r, host(func(i int) bool { return i%3 == 0 }))
		}
		c.Planted["RemovePodsViolatingTopologySpreadConstraint"] += 4
	}

	// Per-node targets for the base workload.
	target := make([]int, nodes)
	left := pods - len(c.Pods)
	var normals []int
	for i := 0; i < nodes; i++ {
		switch class[i] {
		case classOver:
			target[i] = 18
		case classUnder:
			target[i] = 2
		default:
			normals = append(normals, i)
			continue
		}
		left -= target[i]
	}
	if left < 0 {
		return nil, fmt.Errorf("synthetic cluster: %d pods are too few", pods)
	}
	for k, i := range normals {
		target[i] = left / len(normals)
		if k < left%len(normals) {
			target[i]++
		}
		// Planted pods (500m each) count for half a base pod.
		target[i] = max(0, target[i]-perNode[i]/2)
	}
	// Planted pods on normal nodes took some slots: give the rest to the
	// normal nodes with the fewest pods so the total is exact.
	sum := len(c.Pods)
	for i := range target {
		sum += target[i]
	}
	for k := 0; sum < pods; k++ {
		target[normals[k%len(normals)]]++
		sum++
	}
	// Slot streams, one per node type: round r visits every node with a
	// target above r, so consecutive slots are on different nodes and a
	// ReplicaSet's replicas never share one.
	streams := []struct {
		gpu      bool
		from, to int // rounds
		prefix   string
		shape    shape
	}{
		{false, 0, 1 << 30, "web", shape{"1", "4Gi", 0}},
		{true, 0, 8, "train", shape{"2", "8Gi", 1}},
		{true, 8, 1 << 30, "gpu-side", shape{"2", "8Gi", 0}},
	}
	for _, st := range streams {
		var slots []int
		for r := st.from; r < st.to; r++ {
			any := false
			for i := 0; i < nodes; i++ {
				if isGPU[i] == st.gpu && target[i] > r {
					slots = append(slots, i)
					any = true
				}
			}
			if !any {
				break
			}
		}
		for len(slots) > 0 {
			n := min(10, len(slots))
			rs := newRS(st.prefix, spec(st.shape), nil)
			for r := 0; r < n; r++ {
				addPod(rs, r, slots[r])
			}
			slots = slots[n:]
		}
	}
	for i := range class {
		switch class[i] {
		case classOver:
			c.OverPods += perNode[i]
		case classUnder:
			c.UnderPods += perNode[i]
		}
	}
	c.Base = len(c.Pods) - c.Planted["RemoveDuplicates"]/2*3 - c.Planted["RemovePodsViolatingNodeAffinity"] -
		c.Planted["RemovePodsViolatingInterPodAntiAffinity"] - c.Planted["RemovePodsViolatingTopologySpreadConstraint"]/4*6
	if len(c.Pods) != pods {
		return nil, fmt.Errorf("synthetic cluster: built %d pods, want %d", len(c.Pods), pods)
	}
	return c, nil
}

func addPodSpec(c *Cluster, rs *appsv1.ReplicaSet, replica, node int, s corev1.PodSpec, perNode []int) {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", rs.Name, replica), Namespace: Namespace,
			UID: types.UID(fmt.Sprintf("pod-%s-%d", rs.Name, replica)), Labels: rs.Spec.Template.Labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name,
				UID: rs.UID, Controller: ptr(true), BlockOwnerDeletion: ptr(true)}}},
		Spec:   *s.DeepCopy(),
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	p.Spec.SchedulerName = rs.Spec.Template.Spec.SchedulerName
	p.Spec.NodeName = nodeName(node)
	perNode[node]++
	if p.Spec.SchedulerName == corev1.DefaultSchedulerName {
		c.DefaultPods++
	} else {
		c.SnugPods++
	}
	c.Pods = append(c.Pods, p)
}

func spec(s shape) corev1.PodSpec {
	req := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(s.cpu), corev1.ResourceMemory: resource.MustParse(s.mem)}
	var lim corev1.ResourceList
	if s.gpu > 0 {
		req[GPU] = *resource.NewQuantity(s.gpu, resource.DecimalSI)
		lim = corev1.ResourceList{GPU: *resource.NewQuantity(s.gpu, resource.DecimalSI)}
	}
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "registry.k8s.io/pause:3.10",
		Resources: corev1.ResourceRequirements{Requests: req, Limits: lim}}}}
}

func nodeName(i int) string { return fmt.Sprintf("node-%05d", i) }

func ptr[T any](v T) *T { return &v }
