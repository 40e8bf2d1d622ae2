package workload

import (
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ExampleKubernetesPatternsTable22 is the name of the capacity-planning
// example of Kubernetes Patterns.
const ExampleKubernetesPatternsTable22 = "kubernetes-patterns-table-2-2"

type example struct {
	nodes func() []*corev1.Node
	pods  func() []*corev1.Pod
}

var examples = map[string]example{
	ExampleKubernetesPatternsTable22: {nodes: table22Nodes, pods: table22Pods},
}

// Examples lists the names of the built-in examples, sorted.
func Examples() []string {
	names := make([]string, 0, len(examples))
	for n := range examples {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Example returns the nodes and pods of a built-in example. Every call
// returns new objects.
func Example(name string) (nodes []*corev1.Node, pods []*corev1.Pod, err error) {
	e, ok := examples[name]
	if !ok {
		return nil, nil, fmt.Errorf("unknown example %q (known: %v)", name, Examples())
	}
	return e.nodes(), e.pods(), nil
}

// table22 is the capacity-planning example of Kubernetes Patterns, 2nd
// edition (Ibryam, Huß; O'Reilly 2023), chapter 2 "Predictable Demands",
// Table 2-2 "Capacity planning example": four services, each with a CPU and
// memory request and limit and a number of instances.
//
// Provenance: the table text could not be found in any source searchable
// from here, so the values below follow the book's table as remembered
// (they were given with the task that added this example) and have not been
// checked against the book. Totals computed from them, which the book's
// table also states:
//
//	requests: 4500m CPU, 6000Mi memory   (A 1500m/1500Mi, B 500m/500Mi, C 1500m/3000Mi, D 1000m/1000Mi)
//	limits:   6500m CPU, 10500Mi memory  (A 1500m/1500Mi, B 1000m/2000Mi, C 3000m/6000Mi, D 1000m/1000Mi)
//	instances: 10
//
// If the book's totals differ, the rows here are wrong, not the sums.
var table22 = []struct {
	name                           string
	reqCPU, reqMem, limCPU, limMem string
	instances                      int32
}{
	{"pod-a", "500m", "500Mi", "500m", "500Mi", 3},
	{"pod-b", "250m", "250Mi", "500m", "1000Mi", 2},
	{"pod-c", "500m", "1000Mi", "1000m", "2000Mi", 3},
	{"pod-d", "500m", "500Mi", "500m", "500Mi", 2},
}

// table22Nodes is a node pool for the example chosen here (not from the
// book): three nodes of 2 CPU and 4Gi, 6 CPU and 12Gi in all. The requests
// fit (4500m of 6000m CPU, 6000Mi of 12Gi); the CPU limits (6500m) overcommit
// the pool, as the book's discussion of limits anticipates.
func table22Nodes() []*corev1.Node {
	var nodes []*corev1.Node
	for i := 1; i <= 3; i++ {
		n := newNode(fmt.Sprintf("example-node-%d", i), corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("2"),
			corev1.ResourceMemory: resource.MustParse("4Gi"),
		}, nil)
		if fe := prepareNode(n); fe != nil {
			panic(fe)
		}
		nodes = append(nodes, n)
	}
	return nodes
}

// table22Pods expands each row as a Deployment (apps/v1) named after it,
// pods pod-a-0, pod-a-1, ... labeled app=<row name>.
func table22Pods() []*corev1.Pod {
	var pods []*corev1.Pod
	for _, row := range table22 {
		lbls := map[string]string{"app": row.name}
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: row.name, Namespace: DefaultNamespace},
			Spec: appsv1.DeploymentSpec{
				Replicas: &row.instances,
				Selector: &metav1.LabelSelector{MatchLabels: lbls},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: lbls},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{
						Name:  "main",
						Image: PlaceholderImage,
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{
								corev1.ResourceCPU:    resource.MustParse(row.reqCPU),
								corev1.ResourceMemory: resource.MustParse(row.reqMem),
							},
							Limits: corev1.ResourceList{
								corev1.ResourceCPU:    resource.MustParse(row.limCPU),
								corev1.ResourceMemory: resource.MustParse(row.limMem),
							},
						},
					}}},
				},
			},
		}
		ps, fe := expandDeployment(d)
		if fe != nil {
			panic(fe)
		}
		pods = append(pods, ps...)
	}
	return pods
}
