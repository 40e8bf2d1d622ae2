package workload

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// GPUModels returns the GPU models a pod accepts through its required node
// affinity on LabelGPUModel (what an openb gpu_spec becomes), sorted and
// without duplicates, or nil when it accepts any node as far as GPU models
// go. Node selector terms are ORed: the pod is constrained only when every
// term has an In expression on LabelGPUModel, and then accepts the union of
// their models (several such expressions in one term intersect). A term
// without one accepts every model, so the pod is unconstrained. A pod
// whose terms admit no model gets an empty, non-nil slice.
func GPUModels(pod *corev1.Pod) []string {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil
	}
	terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) == 0 {
		return nil
	}
	var out []string
	for _, t := range terms {
		var term []string
		found := false
		for _, e := range t.MatchExpressions {
			if e.Key != LabelGPUModel || e.Operator != corev1.NodeSelectorOpIn {
				continue
			}
			vals := slices.Clone(e.Values)
			slices.Sort(vals)
			vals = slices.Compact(vals)
			if !found {
				term, found = vals, true
				continue
			}
			term = slices.DeleteFunc(term, func(m string) bool { return !slices.Contains(vals, m) })
		}
		if !found {
			return nil
		}
		out = append(out, term...)
	}
	if out == nil {
		return []string{} // constrained to no model at all
	}
	slices.Sort(out)
	return slices.Compact(out)
}
