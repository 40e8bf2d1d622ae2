package workload

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func sumResources(pods []*corev1.Pod, limits bool) corev1.ResourceList {
	total := corev1.ResourceList{}
	for _, p := range pods {
		for _, c := range p.Spec.Containers {
			rl := c.Resources.Requests
			if limits {
				rl = c.Resources.Limits
			}
			for r, q := range rl {
				t := total[r]
				t.Add(q)
				total[r] = t
			}
		}
	}
	return total
}

func TestExampleKubernetesPatternsTable22(t *testing.T) {
	if got := Examples(); !reflect.DeepEqual(got, []string{"kubernetes-patterns-table-2-2"}) {
		t.Fatalf("Examples() = %v", got)
	}
	nodes, pods, err := Example("kubernetes-patterns-table-2-2")
	if err != nil {
		t.Fatal(err)
	}
	wantPods := []string{
		"default/pod-a-0", "default/pod-a-1", "default/pod-a-2",
		"default/pod-b-0", "default/pod-b-1",
		"default/pod-c-0", "default/pod-c-1", "default/pod-c-2",
		"default/pod-d-0", "default/pod-d-1",
	}
	if got := podNames(pods); !reflect.DeepEqual(got, wantPods) {
		t.Fatalf("pods %v", got)
	}
	// The table's totals.
	for _, tc := range []struct {
		limits   bool
		cpu, mem string
	}{
		{false, "4500m", "6000Mi"},
		{true, "6500m", "10500Mi"},
	} {
		total := sumResources(pods, tc.limits)
		if total.Cpu().Cmp(resource.MustParse(tc.cpu)) != 0 || total.Memory().Cmp(resource.MustParse(tc.mem)) != 0 {
			t.Errorf("limits=%v: total cpu %s memory %s, want %s %s", tc.limits, total.Cpu(), total.Memory(), tc.cpu, tc.mem)
		}
	}
	b := pods[3]
	if r := b.Spec.Containers[0].Resources; r.Requests.Cpu().String() != "250m" || r.Limits.Memory().String() != "1000Mi" ||
		b.Labels["app"] != "pod-b" || b.OwnerReferences[0].Kind != "Deployment" || b.OwnerReferences[0].Name != "pod-b" {
		t.Errorf("pod B: %+v %+v", b.ObjectMeta, r)
	}

	if len(nodes) != 3 {
		t.Fatalf("%d nodes", len(nodes))
	}
	alloc := corev1.ResourceList{}
	for i, n := range nodes {
		if want := []string{"example-node-1", "example-node-2", "example-node-3"}[i]; n.Name != want {
			t.Errorf("node %d is %s, want %s", i, n.Name, want)
		}
		if n.Status.Allocatable.Cpu().String() != "2" || n.Status.Allocatable.Memory().String() != "4Gi" || n.Status.Allocatable.Pods().Value() != 110 {
			t.Errorf("%s: %v", n.Name, n.Status.Allocatable)
		}
		for r, q := range n.Status.Allocatable {
			a := alloc[r]
			a.Add(q)
			alloc[r] = a
		}
	}
	// The requests fit the pool; the CPU limits overcommit it.
	req, lim := sumResources(pods, false), sumResources(pods, true)
	if req.Cpu().Cmp(*alloc.Cpu()) > 0 || req.Memory().Cmp(*alloc.Memory()) > 0 || lim.Cpu().Cmp(*alloc.Cpu()) <= 0 {
		t.Errorf("requests %v limits %v pool %v", req, lim, alloc)
	}

	// Each call returns new objects.
	_, again, _ := Example("kubernetes-patterns-table-2-2")
	again[0].Labels["app"] = "changed"
	if pods[0].Labels["app"] != "pod-a" || !reflect.DeepEqual(podNames(again), wantPods) {
		t.Error("examples share objects")
	}

	if _, _, err := Example("nope"); err == nil || !strings.Contains(err.Error(), "kubernetes-patterns-table-2-2") {
		t.Errorf("unknown example: %v", err)
	}
}
