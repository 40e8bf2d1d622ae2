package strandingawarepacking

import (
	"context"
	"fmt"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/helper"

	"github.com/snug-sched/snug/pkg/stranding"
)

// softConstraint is one ScheduleAnyway spread constraint with its pod counts
// per domain among the domains of feasible nodes.
type softConstraint struct {
	key      string
	maxSkew  int64
	selector labels.Selector
	honorAff bool
	counts   map[string]*int64 // filled in parallel by PreScore
	min      int64
}

type spreadState struct {
	constraints []softConstraint
}

// violation sums, over constraints, how far placing the pod on node exceeds
// maxSkew. A node without a constraint's key counts as one violation: the
// pod should prefer nodes that take part in the spreading.
func (s *spreadState) violation(node *corev1.Node) int64 {
	var v int64
	for i := range s.constraints {
		c := &s.constraints[i]
		val, ok := node.Labels[c.key]
		if !ok {
			v++
			continue
		}
		if n := c.counts[val]; n != nil {
			v += stranding.SpreadViolation(*n, c.min, c.maxSkew)
		} else {
			v++ // a domain with no feasible node: cannot happen for a feasible node
		}
	}
	return v
}

// buildSpread collects the pod's soft constraints (its own, or the default
// constraints with its owner's selector) and counts matching pods per domain.
func (pl *Plugin) buildSpread(ctx context.Context, s *spreadState, pod *corev1.Pod, feasible []fwk.NodeInfo) error {
	var err error
	if len(pod.Spec.TopologySpreadConstraints) > 0 {
		s.constraints, err = softConstraints(pod, pod.Spec.TopologySpreadConstraints)
	} else if len(pl.args.DefaultConstraints) > 0 && pl.services != nil {
		s.constraints, err = softConstraints(pod, pl.args.DefaultConstraints)
		sel := helper.DefaultSelector(pod, pl.services, pl.replCtrls, pl.replicaSets, pl.statefulSets)
		if sel.Empty() {
			s.constraints = nil
		}
		for i := range s.constraints {
			s.constraints[i].selector = sel
		}
	}
	if err != nil || len(s.constraints) == 0 {
		return err
	}
	kept := s.constraints[:0]
	for _, c := range s.constraints {
		c.counts = map[string]*int64{}
		for _, ni := range feasible {
			if v, ok := ni.Node().Labels[c.key]; ok && c.counts[v] == nil {
				c.counts[v] = new(int64)
			}
		}
		if len(c.counts) > 0 { // no feasible node takes part: nothing to spread over
			kept = append(kept, c)
		}
	}
	s.constraints = kept
	if len(kept) == 0 {
		return nil
	}
	all, err := pl.handle.SnapshotSharedLister().NodeInfos().List()
	if err != nil {
		return err
	}
	required := nodeaffinity.GetRequiredNodeAffinity(pod)
	// Counting walks every pod of every node: spread it over the
	// scheduler's workers, as upstream PodTopologySpread does.
	pl.handle.Parallelizer().Until(ctx, len(all), func(n int) {
		node := all[n].Node()
		for i := range s.constraints {
			c := &s.constraints[i]
			val, ok := node.Labels[c.key]
			if !ok {
				continue
			}
			cnt := c.counts[val]
			if cnt == nil {
				continue
			}
			if c.honorAff {
				if match, _ := required.Match(node); !match {
					continue
				}
			}
			if k := countMatching(all[n].GetPods(), c.selector, pod.Namespace); k > 0 {
				atomic.AddInt64(cnt, int64(k))
			}
		}
	}, Name)
	for i := range s.constraints {
		c := &s.constraints[i]
		first := true
		for _, n := range c.counts {
			if first || *n < c.min {
				c.min, first = *n, false
			}
		}
	}
	return nil
}

func softConstraints(pod *corev1.Pod, in []corev1.TopologySpreadConstraint) ([]softConstraint, error) {
	var out []softConstraint
	for _, c := range in {
		if c.WhenUnsatisfiable != corev1.ScheduleAnyway {
			continue // hard constraints stay with the in-tree PodTopologySpread filter
		}
		sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("spread constraint on %q: %w", c.TopologyKey, err)
		}
		if len(c.MatchLabelKeys) > 0 {
			set := labels.Set{}
			for _, k := range c.MatchLabelKeys {
				if v, ok := pod.Labels[k]; ok {
					set[k] = v
				}
			}
			reqs, _ := labels.SelectorFromSet(set).Requirements()
			sel = sel.Add(reqs...)
		}
		out = append(out, softConstraint{
			key:      c.TopologyKey,
			maxSkew:  int64(c.MaxSkew),
			selector: sel,
			honorAff: c.NodeAffinityPolicy == nil || *c.NodeAffinityPolicy == corev1.NodeInclusionPolicyHonor,
		})
	}
	return out, nil
}

func countMatching(pods []fwk.PodInfo, sel labels.Selector, ns string) int {
	n := 0
	for _, p := range pods {
		pod := p.GetPod()
		if pod.DeletionTimestamp != nil || pod.Namespace != ns {
			continue
		}
		if sel.Matches(labels.Set(pod.Labels)) {
			n++
		}
	}
	return n
}
