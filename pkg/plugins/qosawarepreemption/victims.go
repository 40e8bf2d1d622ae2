package qosawarepreemption

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	policy "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/apis/core/v1/helper/qos"
	"k8s.io/kubernetes/pkg/scheduler/util"

	"github.com/snug-sched/snug/pkg/apis/config"
	"github.com/snug-sched/snug/pkg/resourcemodel"
)

// eligibleVictim excludes pods whose eviction frees nothing: a DaemonSet pod
// comes straight back, a mirror pod is restarted by its kubelet, and a
// terminating pod is already leaving.
func eligibleVictim(_ fwk.NodeInfo, victim fwk.PodInfo, _ *corev1.Pod) bool {
	p := victim.GetPod()
	if p.DeletionTimestamp != nil {
		return false
	}
	if _, mirror := p.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return false
	}
	if c := metav1.GetControllerOf(p); c != nil && c.Kind == "DaemonSet" {
		return false
	}
	return true
}

// qosRank orders QoS classes by the protection the kubelet gives them.
func qosRank(p *corev1.Pod) int {
	switch qos.GetPodQOS(p) {
	case corev1.PodQOSGuaranteed:
		return 2
	case corev1.PodQOSBurstable:
		return 1
	}
	return 0
}

// size is a scalar for "bigger pod": cores plus GiB of memory requested.
func size(p *corev1.Pod) float64 {
	r := resourcemodel.Requests(p)
	return float64(resourcemodel.Value(corev1.ResourceCPU, r))/1000 +
		float64(resourcemodel.Value(corev1.ResourceMemory, r))/(1<<30)
}

// moreImportant orders pods from most to least protected: priority, QoS,
// smaller size (so bigger pods go first and fewer victims suffice), then
// earlier start. Victims are taken from the least important end.
func moreImportant(a, b *corev1.Pod) bool {
	return importanceOf(a).moreThan(importanceOf(b))
}

// importance is moreImportant's sort key, computed once per pod: QoS and
// size need the pod's resources, too costly to recompute per comparison.
type importance struct {
	priority int32
	qos      int
	size     float64
	start    int64
}

func importanceOf(p *corev1.Pod) importance {
	return importance{priority: corev1helpers.PodPriority(p), qos: qosRank(p), size: size(p),
		start: util.GetPodStartTime(p).UnixNano()}
}

func (a importance) moreThan(b importance) bool {
	if a.priority != b.priority {
		return a.priority > b.priority
	}
	if a.qos != b.qos {
		return a.qos > b.qos
	}
	if a.size != b.size {
		return a.size < b.size
	}
	return a.start < b.start
}

// sortByImportance sorts pods in place, most important first (or least
// important first when reverse), computing each key once.
func sortByImportance(pods []fwk.PodInfo, reverse bool) {
	keys := make(map[*corev1.Pod]importance, len(pods))
	for _, pi := range pods {
		keys[pi.GetPod()] = importanceOf(pi.GetPod())
	}
	sort.SliceStable(pods, func(i, j int) bool {
		a, b := keys[pods[i].GetPod()], keys[pods[j].GetPod()]
		if reverse {
			return b.moreThan(a)
		}
		return a.moreThan(b)
	})
}

// SelectVictimsOnNode finds the victims on one node: remove every eligible
// lower-priority pod, check the pod fits, then reprieve pods from the most
// important down while it still fits. PDB budgets are judged on the victims
// actually chosen: in Respect mode a victim set that would exceed a budget
// is retried without the pods whose eviction spends more than the budgets
// allow, and a node is only reported as blocked by a PDB when evicting the
// protected pods too would have made room.
func (pl *Plugin) SelectVictimsOnNode(ctx context.Context, state fwk.CycleState, pod *corev1.Pod,
	nodeInfo fwk.NodeInfo, pdbs []*policy.PodDisruptionBudget) ([]*corev1.Pod, int, *fwk.Status) {
	logger := klog.FromContext(ctx)
	var potential []fwk.PodInfo
	for _, pi := range nodeInfo.GetPods() {
		if corev1helpers.PodPriority(pi.GetPod()) < corev1helpers.PodPriority(pod) && eligibleVictim(nodeInfo, pi, pod) {
			potential = append(potential, pi)
		}
	}
	if len(potential) == 0 {
		return nil, 0, fwk.NewStatus(fwk.UnschedulableAndUnresolvable, "No preemption victims found for incoming pod")
	}
	remove := func(pi fwk.PodInfo) error {
		if err := nodeInfo.RemovePod(logger, pi.GetPod()); err != nil {
			return err
		}
		return pl.fh.RunPreFilterExtensionRemovePod(ctx, state, pod, pi, nodeInfo).AsError()
	}
	add := func(pi fwk.PodInfo) error {
		nodeInfo.AddPodInfo(pi)
		return pl.fh.RunPreFilterExtensionAddPod(ctx, state, pod, pi, nodeInfo).AsError()
	}
	fits := func() *fwk.Status { return pl.fh.RunFilterPluginsWithNominatedPods(ctx, state, pod, nodeInfo) }

	// minimal removes candidates, checks the pod fits, and reprieves them
	// in reprieve order while it still fits; it returns the victims or the
	// filters' verdict. On success the node is left without the victims,
	// on failure without every candidate.
	minimal := func(candidates []fwk.PodInfo) ([]fwk.PodInfo, *fwk.Status) {
		for _, pi := range candidates {
			if err := remove(pi); err != nil {
				return nil, fwk.AsStatus(err)
			}
		}
		if status := fits(); !status.IsSuccess() {
			return nil, status
		}
		var victims []fwk.PodInfo
		for _, pi := range reprieveOrder(candidates, pdbs) {
			if err := add(pi); err != nil {
				return nil, fwk.AsStatus(err)
			}
			if fits().IsSuccess() {
				continue
			}
			if err := remove(pi); err != nil {
				return nil, fwk.AsStatus(err)
			}
			victims = append(victims, pi)
		}
		return victims, nil
	}
	restore := func(removed []fwk.PodInfo) error {
		for _, pi := range removed {
			if err := add(pi); err != nil {
				return err
			}
		}
		return nil
	}

	var victimInfos []fwk.PodInfo
	numViolating := 0
	switch pl.args.PDBMode {
	case config.PDBRespect:
		victims, status := minimal(potential)
		if !status.IsSuccess() {
			return nil, 0, status // not even evicting every candidate helps
		}
		if countViolations(victims, pdbs) == 0 {
			victimInfos = victims
			break
		}
		// Retry with only the pods whose eviction fits the budgets.
		if err := restore(victims); err != nil {
			return nil, 0, fwk.AsStatus(err)
		}
		sortByImportance(potential, true)
		_, allowed := filterPodsWithPDBViolation(potential, pdbs)
		if len(allowed) > 0 {
			if victims, status = minimal(allowed); status.IsSuccess() {
				victimInfos = victims
				break
			}
		}
		markPDBBlocked(ctx)
		return nil, 0, fwk.NewStatus(fwk.UnschedulableAndUnresolvable, pdbMessage)
	default: // Prefer: violate a budget if nothing else makes room, and say how often.
		victims, status := minimal(potential)
		if !status.IsSuccess() {
			return nil, 0, status
		}
		victimInfos = victims
		numViolating = countViolations(victims, pdbs)
	}
	sortByImportance(victimInfos, false)
	out := make([]*corev1.Pod, 0, len(victimInfos))
	for _, pi := range victimInfos {
		out = append(out, pi.GetPod())
	}
	if call, ok := ctx.Value(callKey{}).(*preemptionCall); ok {
		call.record(nodeInfo.Node().Name, out)
	}
	return out, numViolating, nil
}

// reprieveOrder is the order in which victims are given back: pods whose
// eviction would exceed a budget first (spending budgets least important
// first, as upstream does), then the others, each most important first.
func reprieveOrder(candidates []fwk.PodInfo, pdbs []*policy.PodDisruptionBudget) []fwk.PodInfo {
	ordered := append([]fwk.PodInfo(nil), candidates...)
	sortByImportance(ordered, true)
	violating, nonViolating := filterPodsWithPDBViolation(ordered, pdbs)
	sortByImportance(violating, false)
	sortByImportance(nonViolating, false)
	return append(violating, nonViolating...)
}

// countViolations is how many of the victims, evicted least important
// first, exceed a PDB's budget.
func countViolations(victims []fwk.PodInfo, pdbs []*policy.PodDisruptionBudget) int {
	ordered := append([]fwk.PodInfo(nil), victims...)
	sortByImportance(ordered, true)
	violating, _ := filterPodsWithPDBViolation(ordered, pdbs)
	return len(violating)
}

// pdbMessage explains a node rejected in Respect mode.
const pdbMessage = "preempting enough pods here would violate a PodDisruptionBudget (pdbMode Respect)"

// filterPodsWithPDBViolation splits pods, in the given order, into those
// whose eviction would exceed a PDB's DisruptionsAllowed and the rest
// (upstream's accounting: pods already in DisruptedPods are not counted).
func filterPodsWithPDBViolation(pods []fwk.PodInfo, pdbs []*policy.PodDisruptionBudget) (violating, nonViolating []fwk.PodInfo) {
	allowed := make([]int32, len(pdbs))
	for i, pdb := range pdbs {
		allowed[i] = pdb.Status.DisruptionsAllowed
	}
	for _, pi := range pods {
		p := pi.GetPod()
		violates := false
		if len(p.Labels) != 0 {
			for i, pdb := range pdbs {
				if pdb.Namespace != p.Namespace {
					continue
				}
				sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
				if err != nil || sel.Empty() || !sel.Matches(labels.Set(p.Labels)) {
					continue
				}
				if _, done := pdb.Status.DisruptedPods[p.Name]; done {
					continue
				}
				allowed[i]--
				if allowed[i] < 0 {
					violates = true
				}
			}
		}
		if violates {
			violating = append(violating, pi)
		} else {
			nonViolating = append(nonViolating, pi)
		}
	}
	return violating, nonViolating
}

// preemptionCall carries the preemptor and the victims chosen per node
// through one Preempt call (the Evaluator's hooks do not receive them).
type preemptionCall struct {
	preemptor  *corev1.Pod
	pdbBlocked atomic.Bool // some node was rejected only because of a PDB
	mu         sync.Mutex
	victims    map[string][]*corev1.Pod
}

type callKey struct{}

func markPDBBlocked(ctx context.Context) {
	if call, ok := ctx.Value(callKey{}).(*preemptionCall); ok {
		call.pdbBlocked.Store(true)
	}
}

func (c *preemptionCall) record(node string, victims []*corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.victims[node] = victims
}

func (c *preemptionCall) victimsOn(node string) []*corev1.Pod {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.victims[node]
}

func (c *preemptionCall) String() string {
	return fmt.Sprintf("preemption of %s", klog.KObj(c.preemptor))
}

// ContextWithPreemptor lets callers outside PostFilter (the simulator)
// run SelectVictimsOnNode and OrderedScoreFuncs with the preemptor known,
// so the stranding term of the node order applies.
func ContextWithPreemptor(ctx context.Context, pod *corev1.Pod) context.Context {
	return context.WithValue(ctx, callKey{}, &preemptionCall{preemptor: pod, victims: map[string][]*corev1.Pod{}})
}

// ObservePod feeds the shape learner (simulator without informers).
func (pl *Plugin) ObservePod(pod *corev1.Pod, delta int) { pl.shapes.Observe(pod, delta) }

// ObserverKey is the shape learner, shared by the plugins of a profile.
func (pl *Plugin) ObserverKey() any { return pl.shapes }
