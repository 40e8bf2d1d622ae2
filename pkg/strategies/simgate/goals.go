package simgate

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/snug-sched/snug/pkg/resourcemodel"
	"github.com/snug-sched/snug/pkg/simulator"
)

// Usage returns a node's requested share of allocatable, in percent, for
// cpu, memory, pods and every extended resource it has (the descheduler's
// threshold units), with extra added to the requests.
func Usage(ni fwk.NodeInfo, extra corev1.ResourceList) map[corev1.ResourceName]float64 {
	alloc, req := ni.GetAllocatable(), ni.GetRequested()
	pct := func(used, total int64) float64 {
		if total <= 0 {
			if used > 0 {
				return 100
			}
			return 0
		}
		return 100 * float64(used) / float64(total)
	}
	out := map[corev1.ResourceName]float64{
		corev1.ResourceCPU:    pct(req.GetMilliCPU()+resourcemodel.Value(corev1.ResourceCPU, extra), alloc.GetMilliCPU()),
		corev1.ResourceMemory: pct(req.GetMemory()+resourcemodel.Value(corev1.ResourceMemory, extra), alloc.GetMemory()),
		corev1.ResourcePods:   pct(int64(len(ni.GetPods())+boolInt(extra != nil)), int64(alloc.GetAllowedPodNumber())),
	}
	for name, total := range alloc.GetScalarResources() {
		out[name] = pct(req.GetScalarResources()[name]+resourcemodel.Value(name, extra), total)
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// StaysBelow is LowNodeUtilization's goal: the destination stays at or below
// target percent of allocatable, for every resource target names, with the
// pod's requests added.
func StaysBelow(target map[corev1.ResourceName]float64) Goal {
	return func(sim *simulator.Simulator, pod *corev1.Pod, _, to string) (bool, string) {
		ni, ok := sim.NodeInfo(to)
		if !ok {
			return false, "unknown node"
		}
		usage := Usage(ni, resourcemodel.Requests(pod))
		for name, t := range target {
			if u, ok := usage[name]; ok && u > t {
				return false, "it would be over the target threshold for " + string(name)
			}
		}
		return true, ""
	}
}

// NotOnto refuses destinations that are keys of nodes (nodes being
// emptied); the map is read at each judgement, so later changes count.
func NotOnto[V any](nodes map[string]V) Goal {
	return func(_ *simulator.Simulator, _ *corev1.Pod, _, to string) (bool, string) {
		if _, ok := nodes[to]; ok {
			return false, "it is being emptied"
		}
		return true, ""
	}
}

// FewerSiblings is RemoveDuplicates' goal: after the move the destination
// holds no more pods of the pod's owner than the node it leaves.
func FewerSiblings(sim *simulator.Simulator, pod *corev1.Pod, from, to string) (bool, string) {
	owner := metav1.GetControllerOf(pod)
	if owner == nil {
		return false, "no owner"
	}
	count := func(node string) int {
		ni, ok := sim.NodeInfo(node)
		if !ok {
			return 0
		}
		n := 0
		for _, pi := range ni.GetPods() {
			p := pi.GetPod()
			if o := metav1.GetControllerOf(p); p.Namespace == pod.Namespace && o != nil && o.UID == owner.UID {
				n++
			}
		}
		return n
	}
	if count(to)+1 > count(from) {
		return false, "it would hold as many of the owner's pods as the node the pod leaves"
	}
	return true, ""
}

// BetterPreferredAffinity is the node-affinity goal: a pod whose node
// breaks its required affinity may go anywhere the filters allow; one that
// is evicted for its preferred affinity must reach a node it prefers more.
func BetterPreferredAffinity(sim *simulator.Simulator, pod *corev1.Pod, from, to string) (bool, string) {
	fromNI, ok1 := sim.NodeInfo(from)
	toNI, ok2 := sim.NodeInfo(to)
	if !ok1 || !ok2 {
		return false, "unknown node"
	}
	if match, _ := nodeaffinity.GetRequiredNodeAffinity(pod).Match(fromNI.Node()); !match {
		return true, ""
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || len(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		return true, ""
	}
	pref, err := nodeaffinity.NewPreferredSchedulingTerms(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
	if err != nil {
		return false, err.Error()
	}
	if pref.Score(toNI.Node()) <= pref.Score(fromNI.Node()) {
		return false, "it is not preferred more than the node the pod leaves"
	}
	return true, ""
}

// SpreadImproves is the topology-spread goal: for every constraint of the
// pod (whenUnsatisfiable DoNotSchedule, and ScheduleAnyway when soft is
// set), the destination's domain ends no fuller than the domain the pod
// leaves, and for at least one it ends strictly emptier; a move inside one
// domain changes nothing for that constraint. Counts are the pods matching
// the constraint's selector (and matchLabelKeys) in the pod's namespace.
func SpreadImproves(soft bool) Goal {
	// Every node tied at the best score is judged against the same state:
	// count each constraint's domains once per candidate, not per node.
	var memo struct {
		sim     *simulator.Simulator
		version uint64
		pod     *corev1.Pod
		counts  []map[string]int // by constraint index; nil: not counted yet
	}
	domainCounts := func(sim *simulator.Simulator, pod *corev1.Pod, i int, c corev1.TopologySpreadConstraint) (map[string]int, error) {
		if memo.sim != sim || memo.version != sim.Version() || memo.pod != pod {
			memo.sim, memo.version, memo.pod = sim, sim.Version(), pod
			memo.counts = make([]map[string]int, len(pod.Spec.TopologySpreadConstraints))
		}
		if memo.counts[i] != nil {
			return memo.counts[i], nil
		}
		sel, err := spreadSelector(pod, c)
		if err != nil {
			return nil, err
		}
		counts := map[string]int{}
		for _, ni := range sim.Nodes() {
			d, ok := ni.Node().Labels[c.TopologyKey]
			if !ok {
				continue
			}
			for _, pi := range ni.GetPods() {
				p := pi.GetPod()
				if p.Namespace == pod.Namespace && p.DeletionTimestamp == nil && sel.Matches(labels.Set(p.Labels)) {
					counts[d]++
				}
			}
		}
		memo.counts[i] = counts
		return counts, nil
	}
	return func(sim *simulator.Simulator, pod *corev1.Pod, from, to string) (bool, string) {
		fromNI, ok1 := sim.NodeInfo(from)
		toNI, ok2 := sim.NodeInfo(to)
		if !ok1 || !ok2 {
			return false, "unknown node"
		}
		improved := false
		for i, c := range pod.Spec.TopologySpreadConstraints {
			if c.WhenUnsatisfiable != corev1.DoNotSchedule && !soft {
				continue
			}
			fromDomain, ok1 := fromNI.Node().Labels[c.TopologyKey]
			toDomain, ok2 := toNI.Node().Labels[c.TopologyKey]
			if !ok1 || !ok2 || fromDomain == toDomain {
				continue
			}
			counts, err := domainCounts(sim, pod, i, c)
			if err != nil {
				return false, err.Error()
			}
			nFrom, nTo := counts[fromDomain], counts[toDomain]
			// The pod has left from; it would join to.
			switch {
			case nTo+1 > nFrom+1:
				return false, "it would make " + c.TopologyKey + "=" + toDomain + " the fuller domain"
			case nTo+1 <= nFrom:
				improved = true
			}
		}
		if !improved {
			return false, "no spread constraint of the pod gets better"
		}
		return true, ""
	}
}

func spreadSelector(pod *corev1.Pod, c corev1.TopologySpreadConstraint) (labels.Selector, error) {
	ls := c.LabelSelector
	if len(c.MatchLabelKeys) > 0 {
		ls = ls.DeepCopy()
		if ls == nil {
			ls = &metav1.LabelSelector{}
		}
		for _, k := range c.MatchLabelKeys {
			if v, ok := pod.Labels[k]; ok {
				ls.MatchExpressions = append(ls.MatchExpressions, metav1.LabelSelectorRequirement{Key: k, Operator: metav1.LabelSelectorOpIn, Values: []string{v}})
			}
		}
	}
	return metav1.LabelSelectorAsSelector(ls)
}

// All combines goals: every one must hold.
func All(goals ...Goal) Goal {
	return func(sim *simulator.Simulator, pod *corev1.Pod, from, to string) (bool, string) {
		for _, g := range goals {
			if g == nil {
				continue
			}
			if ok, why := g(sim, pod, from, to); !ok {
				return false, why
			}
		}
		return true, ""
	}
}
