package qosawarepreemption

import (
	"context"
	"fmt"
	"slices"
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
// It reads the requests the scheduler cached on the PodInfo, which it
// computed with component-helpers' PodRequests like pkg/resourcemodel and
// charged to the node; recomputing them per candidate node made victim
// selection four times slower than upstream's.
func size(pi fwk.PodInfo) float64 {
	r := pi.CalculateResource().Resource
	return float64(r.GetMilliCPU())/1000 + float64(r.GetMemory())/(1<<30)
}

// importance orders pods from most to least protected: priority, QoS,
// smaller size (so bigger pods go first and fewer victims suffice), then
// earlier start. Victims are taken from the least important end.
type importance struct {
	priority int32
	qos      int
	size     float64
	start    int64
}

func importanceOf(pi fwk.PodInfo) importance {
	p := pi.GetPod()
	return importance{priority: corev1helpers.PodPriority(p), qos: qosRank(p), size: size(pi),
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

// candidate is a potential victim with its importance, computed once per
// SelectVictimsOnNode call (QoS and size are too costly per comparison).
type candidate struct {
	pi  fwk.PodInfo
	imp importance
}

type candidates []candidate

// sort orders cs in place, most important first (least important first
// when reverse), keeping the order of ties.
func (cs candidates) sort(reverse bool) {
	sort.SliceStable(cs, func(i, j int) bool {
		if reverse {
			return cs[j].imp.moreThan(cs[i].imp)
		}
		return cs[i].imp.moreThan(cs[j].imp)
	})
}

func (cs candidates) clone() candidates { return append(candidates(nil), cs...) }

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
	var potential candidates
	for _, pi := range nodeInfo.GetPods() {
		if corev1helpers.PodPriority(pi.GetPod()) < corev1helpers.PodPriority(pod) && eligibleVictim(nodeInfo, pi, pod) {
			potential = append(potential, candidate{pi: pi, imp: importanceOf(pi)})
		}
	}
	if len(potential) == 0 {
		return nil, 0, fwk.NewStatus(fwk.UnschedulableAndUnresolvable, "No preemption victims found for incoming pod")
	}
	budgets := compileBudgets(pdbs)
	remove := func(c candidate) error {
		if err := nodeInfo.RemovePod(logger, c.pi.GetPod()); err != nil {
			return err
		}
		return pl.fh.RunPreFilterExtensionRemovePod(ctx, state, pod, c.pi, nodeInfo).AsError()
	}
	add := func(c candidate) error {
		nodeInfo.AddPodInfo(c.pi)
		return pl.fh.RunPreFilterExtensionAddPod(ctx, state, pod, c.pi, nodeInfo).AsError()
	}
	fits := func() *fwk.Status { return pl.fh.RunFilterPluginsWithNominatedPods(ctx, state, pod, nodeInfo) }

	// minimal removes cs, checks the pod fits, and reprieves them in
	// reprieve order while it still fits; it returns the victims or the
	// filters' verdict. On success the node is left without the victims,
	// on failure without every candidate.
	minimal := func(cs candidates) (candidates, *fwk.Status) {
		for _, c := range cs {
			if err := remove(c); err != nil {
				return nil, fwk.AsStatus(err)
			}
		}
		if status := fits(); !status.IsSuccess() {
			return nil, status
		}
		var victims candidates
		for _, c := range budgets.reprieveOrder(cs) {
			if err := add(c); err != nil {
				return nil, fwk.AsStatus(err)
			}
			if fits().IsSuccess() {
				continue
			}
			if err := remove(c); err != nil {
				return nil, fwk.AsStatus(err)
			}
			victims = append(victims, c)
		}
		return victims, nil
	}
	restore := func(removed candidates) error {
		for _, c := range removed {
			if err := add(c); err != nil {
				return err
			}
		}
		return nil
	}

	var chosen candidates
	numViolating := 0
	switch pl.args.PDBMode {
	case config.PDBRespect:
		victims, status := minimal(potential)
		if !status.IsSuccess() {
			return nil, 0, status // not even evicting every candidate helps
		}
		if budgets.countViolations(victims) == 0 {
			chosen = victims
			break
		}
		// Retry with only the pods whose eviction fits the budgets.
		if err := restore(victims); err != nil {
			return nil, 0, fwk.AsStatus(err)
		}
		potential.sort(true)
		_, allowed := budgets.split(potential)
		if len(allowed) > 0 {
			if victims, status = minimal(allowed); status.IsSuccess() {
				chosen = victims
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
		chosen = victims
		numViolating = budgets.countViolations(victims)
	}
	chosen.sort(false)
	out := make([]*corev1.Pod, len(chosen))
	for i, c := range chosen {
		out[i] = c.pi.GetPod()
	}
	if call, ok := ctx.Value(callKey{}).(*preemptionCall); ok {
		call.record(nodeInfo, out) // every path above leaves nodeInfo without exactly the victims
	}
	return out, numViolating, nil
}

// pdbMessage explains a node rejected in Respect mode.
const pdbMessage = "preempting enough pods here would violate a PodDisruptionBudget (pdbMode Respect)"

// budgets are the PDBs of one SelectVictimsOnNode call with their
// selectors parsed once.
type budgets []budget

type budget struct {
	pdb *policy.PodDisruptionBudget
	sel labels.Selector // nil: matches nothing (invalid or empty selector)
}

func compileBudgets(pdbs []*policy.PodDisruptionBudget) budgets {
	if len(pdbs) == 0 {
		return nil
	}
	bs := make(budgets, len(pdbs))
	for i, pdb := range pdbs {
		bs[i].pdb = pdb
		if sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); err == nil && !sel.Empty() {
			bs[i].sel = sel
		}
	}
	return bs
}

// reprieveOrder is the order in which victims are given back: pods whose
// eviction would exceed a budget first (spending budgets least important
// first, as upstream does), then the others, each most important first.
func (bs budgets) reprieveOrder(cs candidates) candidates {
	ordered := cs.clone()
	ordered.sort(true)
	violating, nonViolating := bs.split(ordered)
	violating.sort(false)
	nonViolating.sort(false)
	return append(violating, nonViolating...)
}

// countViolations is how many of the victims, evicted least important
// first, exceed a PDB's budget.
func (bs budgets) countViolations(victims candidates) int {
	if len(bs) == 0 {
		return 0
	}
	ordered := victims.clone()
	ordered.sort(true)
	violating, _ := bs.split(ordered)
	return len(violating)
}

// split divides pods, in the given order, into those whose eviction would
// exceed a PDB's DisruptionsAllowed and the rest (upstream's accounting:
// pods already in DisruptedPods are not counted).
func (bs budgets) split(cs candidates) (violating, nonViolating candidates) {
	if len(bs) == 0 {
		return nil, cs
	}
	allowed := make([]int32, len(bs))
	for i, b := range bs {
		allowed[i] = b.pdb.Status.DisruptionsAllowed
	}
	for _, c := range cs {
		p := c.pi.GetPod()
		violates := false
		if len(p.Labels) != 0 {
			for i, b := range bs {
				if b.sel == nil || b.pdb.Namespace != p.Namespace || !b.sel.Matches(labels.Set(p.Labels)) {
					continue
				}
				if _, done := b.pdb.Status.DisruptedPods[p.Name]; done {
					continue
				}
				allowed[i]--
				if allowed[i] < 0 {
					violates = true
				}
			}
		}
		if violates {
			violating = append(violating, c)
		} else {
			nonViolating = append(nonViolating, c)
		}
	}
	return violating, nonViolating
}

// preemptionCall carries the preemptor and what the dry run found per node
// through one Preempt call (the Evaluator's hooks do not receive them).
type preemptionCall struct {
	preemptor  *corev1.Pod
	pdbBlocked atomic.Bool // some node was rejected only because of a PDB
	mu         sync.Mutex
	nodes      map[string]dryRunNode
}

// dryRunNode is one candidate node of the dry run: its victims and the
// dry run's copy of the node without them. The copy lets node choice judge
// the node after preemption without looking it up in the snapshot and
// subtracting the victims again, serially, for each of hundreds of tied
// candidates; DryRunPreemption drops it unchanged once SelectVictimsOnNode
// returns, so keeping it costs nothing.
type dryRunNode struct {
	victims []*corev1.Pod
	after   fwk.NodeInfo
}

type callKey struct{}

func markPDBBlocked(ctx context.Context) {
	if call, ok := ctx.Value(callKey{}).(*preemptionCall); ok {
		call.pdbBlocked.Store(true)
	}
}

// record keeps the victims chosen on a node and the node without them.
func (c *preemptionCall) record(after fwk.NodeInfo, victims []*corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nodes[after.Node().Name] = dryRunNode{victims: victims, after: after}
}

func (c *preemptionCall) victimsOn(node string) []*corev1.Pod {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[node].victims
}

// afterOn is the dry run's node without victims, nil unless the dry run
// chose exactly these victims there in this call (an extender may have
// changed them since).
func (c *preemptionCall) afterOn(node string, victims []*corev1.Pod) fwk.NodeInfo {
	c.mu.Lock()
	n, ok := c.nodes[node]
	c.mu.Unlock()
	if !ok || !slices.Equal(n.victims, victims) {
		return nil
	}
	return n.after
}

func newPreemptionCall(pod *corev1.Pod) *preemptionCall {
	return &preemptionCall{preemptor: pod, nodes: map[string]dryRunNode{}}
}

func (c *preemptionCall) String() string {
	return fmt.Sprintf("preemption of %s", klog.KObj(c.preemptor))
}

// ContextWithPreemptor lets callers outside PostFilter (the simulator)
// run SelectVictimsOnNode and OrderedScoreFuncs with the preemptor known,
// so the stranding term of the node order applies.
func ContextWithPreemptor(ctx context.Context, pod *corev1.Pod) context.Context {
	return context.WithValue(ctx, callKey{}, newPreemptionCall(pod))
}

// ObservePod feeds the shape learner (simulator without informers).
func (pl *Plugin) ObservePod(pod *corev1.Pod, delta int) { pl.shapes.Observe(pod, delta) }

// ObserverKey is the shape learner, shared by the plugins of a profile.
func (pl *Plugin) ObserverKey() any { return pl.shapes }
