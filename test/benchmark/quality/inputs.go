package quality

import (
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"

	"github.com/snug-sched/snug/pkg/workload"
)

// traceInfo fills the demand and the pod counts of the input.
func traceInfo(ti *TraceInfo, pods []*corev1.Pod) {
	models := map[string]bool{}
	for _, p := range pods {
		v := PodVec(p)
		for i := range v {
			ti.Demand[i] += v[i]
		}
		if v[GPU] > 0 {
			ti.GPUPods++
		}
		if v[GPU] > 1 {
			ti.MultiGPUPods++
		}
		if ms := workload.GPUModels(p); ms != nil {
			ti.Constrained++
			for _, m := range ms {
				models[m] = true
			}
		}
		if _, d, ok := workload.Times(p); !ok || d == workload.Never {
			ti.Untimed++
		}
	}
	ti.ConstrainedModels = slices.Sorted(maps.Keys(models))
}

// skipReason says why a protocol cannot run on this input ("" if it can):
// A and B need GPUs and GPU pods (offered load is GPUs requested over the
// cluster's), B needs every pod's creation and deletion time, and C needs
// every pod to accept a node of its one shape when no pod is bound to GPU
// models (otherwise C sizes a pool of the trace's GPU models, and Run says
// why when it cannot: PoolError).
func skipReason(proto string, tr *Trace, ti TraceInfo, shape NodeShape) string {
	if proto == "A" || proto == "B" {
		switch {
		case ti.Allocatable[GPU] == 0:
			return "the nodes have no GPUs, and the offered load is GPUs requested over the cluster's GPUs"
		case ti.Demand[GPU] == 0:
			return "no pod requests a GPU, and the offered load is GPUs requested over the cluster's GPUs"
		}
	}
	switch proto {
	case "B":
		if ti.Untimed > 0 {
			return fmt.Sprintf("%d of %d pods have no creation and deletion time to replay (the pod list lacks the creation_time and deletion_time columns, or leaves them empty)", ti.Untimed, ti.Pods)
		}
	case "C":
		if ti.Constrained > 0 {
			return "" // a pool (Run, NewPool)
		}
		n := shape.Node(0)
		var refused refusals
		for _, p := range tr.Pods {
			if !shape.Fits(PodVec(p)) {
				continue // left out as oversize
			}
			if ok, err := nodeaffinity.GetRequiredNodeAffinity(p).Match(n); err == nil && ok {
				continue
			}
			refused.add(p)
		}
		if refused.n > 0 {
			model := shape.Model
			if model == "" {
				model = "none"
			}
			return fmt.Sprintf("%d pods require nodes that protocol C's one node shape (GPU model %s) is not (%s), so no node count hosts them under any policy",
				refused.n, model, refused.accept())
		}
	}
	return ""
}
