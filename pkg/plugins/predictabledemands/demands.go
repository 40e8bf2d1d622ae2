package predictabledemands

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	fwk "k8s.io/kube-scheduler/framework"
)

// undeclared returns why the pod does not declare its demands, or "" when
// it does: every init and app container must request each resource (unless
// pod-level requests cover it), and a bounded limit/request ratio needs a
// limit and must hold.
func undeclared(pod *corev1.Pod, resources []corev1.ResourceName, ratios []ratioSpec) string {
	check := func(kind string, c *corev1.Container) string {
		for _, r := range resources {
			if q, ok := c.Resources.Requests[r]; (!ok || q.IsZero()) && !podLevel(pod, r) {
				return fmt.Sprintf("%s %q declares no %s request", kind, c.Name, r)
			}
		}
		for _, rr := range ratios {
			lim, hasLim := c.Resources.Limits[rr.resource]
			if !hasLim {
				return fmt.Sprintf("%s %q sets no %s limit (maxLimitRequestRatio %s needs one)", kind, c.Name, rr.resource, rr.text)
			}
			req, hasReq := c.Resources.Requests[rr.resource]
			if !hasReq || req.IsZero() {
				if lim.IsZero() {
					continue
				}
				return fmt.Sprintf("%s %q sets a %s limit without a request (maxLimitRequestRatio %s)", kind, c.Name, rr.resource, rr.text)
			}
			if rr.ratio.exceeds(lim.MilliValue(), req.MilliValue()) {
				return fmt.Sprintf("%s %q %s limit/request %s/%s exceeds maxLimitRequestRatio %s",
					kind, c.Name, rr.resource, lim.String(), req.String(), rr.text)
			}
		}
		return ""
	}
	for i := range pod.Spec.InitContainers {
		if why := check("init container", &pod.Spec.InitContainers[i]); why != "" {
			return why
		}
	}
	for i := range pod.Spec.Containers {
		if why := check("container", &pod.Spec.Containers[i]); why != "" {
			return why
		}
	}
	return ""
}

func podLevel(pod *corev1.Pod, r corev1.ResourceName) bool {
	if pod.Spec.Resources == nil {
		return false
	}
	q, ok := pod.Spec.Resources.Requests[r]
	return ok && !q.IsZero()
}

type ratioSpec struct {
	resource corev1.ResourceName
	ratio    exactRatio
	text     string
}

func (pl *Plugin) ratios() []ratioSpec {
	var out []ratioSpec
	for _, r := range pl.args.DeclaredDemands.MaxLimitRequestRatio {
		out = append(out, ratioSpec{resource: r.Resource, ratio: newExactRatio(r.Ratio), text: r.Ratio.String()})
	}
	return out
}

// undeclared is undeclared with the plugin's args.
func (pl *Plugin) undeclared(pod *corev1.Pod) string {
	return undeclared(pod, pl.args.DeclaredDemands.Resources, pl.ratios())
}

// enforced reports whether the pod's namespace is selected.
func (pl *Plugin) enforced(pod *corev1.Pod) (bool, error) {
	if pl.nsSelector == nil {
		return false, nil
	}
	if pl.nsSelector.Empty() {
		return true, nil
	}
	if pl.namespaces == nil {
		return false, nil
	}
	ns, err := pl.namespaces.Get(pod.Namespace)
	if err != nil {
		return false, fmt.Errorf("namespace of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return pl.nsSelector.Matches(labels.Set(ns.Labels)), nil
}

// PreFilter enforces declared demands, rejects a pod no node has room for
// (room.go) and prepares the overcommit check.
func (pl *Plugin) PreFilter(ctx context.Context, cs fwk.CycleState, pod *corev1.Pod, nodes []fwk.NodeInfo) (*fwk.PreFilterResult, *fwk.Status) {
	pl.verdicts.clear(pod.UID, byDemands|byRoom|byCaps) // a new cycle
	enforce, err := pl.enforced(pod)
	if err != nil {
		return nil, fwk.AsStatus(err)
	}
	if enforce {
		if why := pl.undeclared(pod); why != "" {
			pl.verdicts.add(pod.UID, byDemands)
			return nil, fwk.NewStatus(fwk.UnschedulableAndUnresolvable,
				fmt.Sprintf("%s; namespace %q requires declared demands", why, pod.Namespace))
		}
	}
	s := &preFilterState{}
	if len(pl.caps) > 0 {
		pl.podLimits(pod, &s.pod)
	}
	if status := pl.noRoomStatus(pod, nodes); status != nil {
		pl.verdicts.add(pod.UID, byRoom)
		// Preemption's dry run runs Filter on this cycle's state.
		cs.Write(stateKey, s)
		return nil, status
	}
	if s.pod == ([maxCaps]int64{}) {
		// No caps, or a pod without limits or requests: it adds nothing to any cap.
		return nil, fwk.NewStatus(fwk.Skip)
	}
	cs.Write(stateKey, s)
	return nil, nil
}

// PreFilterExtensions returns nil: Filter recomputes a node's limits from
// its pods whenever the NodeInfo changes, preemption dry runs included
// (reusing each pod's limits, see limitCache).
func (pl *Plugin) PreFilterExtensions() fwk.PreFilterExtensions { return nil }
