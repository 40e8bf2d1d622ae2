package workload

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOpenbTrace reads the published Alibaba openb trace when it is present:
// $SNUG_OPENB_DIR, else ../../../shared/data/alibaba-openb/ from this
// package (/work/shared/data/alibaba-openb). The trace is not part of the
// repository.
func TestOpenbTrace(t *testing.T) {
	dir := os.Getenv("SNUG_OPENB_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data", "alibaba-openb")
	}
	nodeFile := filepath.Join(dir, "openb_node_list_all_node.csv")
	podFile := filepath.Join(dir, "openb_pod_list_default.csv")
	for _, f := range []string{nodeFile, podFile} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("openb trace not available: %v", err)
		}
	}

	nodes, err := LoadNodes(nodeFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1523 {
		t.Errorf("%d nodes, want 1523", len(nodes))
	}
	var nodeGPUs, cpuMilli int64
	for _, n := range nodes {
		q := n.Status.Allocatable[GPUResource]
		nodeGPUs += q.Value()
		cpuMilli += n.Status.Allocatable.Cpu().MilliValue()
		if (q.Value() > 0) != (n.Labels[LabelGPUModel] != "") {
			t.Errorf("%s: %d GPUs, model %q", n.Name, q.Value(), n.Labels[LabelGPUModel])
		}
	}
	if nodeGPUs != 6212 {
		t.Errorf("%d node GPUs, want 6212", nodeGPUs)
	}
	if cpuMilli != 125514*1000 {
		t.Errorf("%d node millicores, want 125514000", cpuMilli)
	}

	pods, err := LoadPods(podFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 8152 {
		t.Errorf("%d pods, want 8152", len(pods))
	}
	var podGPUs, shared, unscheduled, withAffinity int
	for _, p := range pods {
		q := p.Spec.Containers[0].Resources.Requests[GPUResource]
		podGPUs += int(q.Value())
		if _, ok := GPUMilli(p); ok {
			shared++
		}
		if _, ok := p.Annotations[AnnotationScheduledTime]; !ok {
			unscheduled++
		}
		if p.Spec.Affinity != nil {
			withAffinity++
		}
		if c, d, ok := Times(p); !ok || d == Never || d < c {
			t.Errorf("%s: times %d %d %v", p.Name, c, d, ok)
		}
		if p.Spec.Containers[0].Resources.Requests.Cpu().IsZero() {
			t.Errorf("%s: no CPU request", p.Name)
		}
	}
	// Facts of the published trace (see the package documentation).
	if shared != 3078 || podGPUs != 7433 || unscheduled != 897 || withAffinity != 0 {
		t.Errorf("shared %d (want 3078), GPUs requested %d (want 7433), unscheduled %d (want 897), with gpu_spec %d (want 0)",
			shared, podGPUs, unscheduled, withAffinity)
	}
}
