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
// comes straight back and a mirror pod is restarted by its kubelet. A
// terminating pod is eligible, as upstream has it: it holds its room in the
// scheduler's cache until it is gone, so choosing it means waiting for it
// (the Executor sends no API call for it) rather than evicting a running pod.
func eligibleVictim(_ fwk.NodeInfo, victim fwk.PodInfo, _ *corev1.Pod) bool {
	p := victim.GetPod()
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

// importance orders pods from most to least protected: priority; a running
// pod before a terminating one (it is leaving anyway: choosing it costs no
// disruption); QoS; smaller size (so bigger pods go first and fewer victims
// suffice); then earlier start. Victims are taken from the least important
// end.
type importance struct {
	priority    int32
	terminating bool
	qos         int
	size        float64
	start       int64
}

func importanceOf(pi fwk.PodInfo) importance {
	p := pi.GetPod()
	return importance{priority: corev1helpers.PodPriority(p), terminating: p.DeletionTimestamp != nil,
		qos: qosRank(p), size: size(pi), start: util.GetPodStartTime(p).UnixNano()}
}

func (a importance) moreThan(b importance) bool {
	if a.priority != b.priority {
		return a.priority > b.priority
	}
	if a.terminating != b.terminating {
		return !a.terminating
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

// SelectVictimsOnNode finds the victims on one node: upstream's reprieve
// (remove every eligible lower-priority pod, check the pod fits, then give
// pods back from the most important down while it still fits), extended to
// keep within the PDBs' budgets (search). In Respect mode a node where no
// victim set within the budgets was found is reported as blocked by a PDB,
// unless evicting every candidate would not make room either (then the
// filters' verdict). In Prefer mode such a node falls back to upstream's
// reprieve, PDB-violating pods given back first, and reports the victims
// that really exceed a budget.
func (pl *Plugin) SelectVictimsOnNode(ctx context.Context, state fwk.CycleState, pod *corev1.Pod,
	nodeInfo fwk.NodeInfo, pdbs []*policy.PodDisruptionBudget) ([]*corev1.Pod, int, *fwk.Status) {
	var potential candidates
	for _, pi := range nodeInfo.GetPods() {
		if corev1helpers.PodPriority(pi.GetPod()) < corev1helpers.PodPriority(pod) && eligibleVictim(nodeInfo, pi, pod) {
			potential = append(potential, candidate{pi: pi, imp: importanceOf(pi)})
		}
	}
	if len(potential) == 0 {
		return nil, 0, fwk.NewStatus(fwk.UnschedulableAndUnresolvable, "No preemption victims found for incoming pod")
	}
	potential.sort(false)
	budgets := compileBudgets(pdbs)
	d := &dryRun{pl: pl, ctx: ctx, logger: klog.FromContext(ctx), state: state, pod: pod, nodeInfo: nodeInfo,
		cs: potential, present: make([]bool, len(potential))}
	for i := range d.present {
		d.present[i] = true
	}
	for i := range potential {
		if err := d.set(i, false); err != nil {
			return nil, 0, fwk.AsStatus(err)
		}
	}
	if status := d.fits(); !status.IsSuccess() {
		return nil, 0, status // not even evicting every candidate helps
	}

	victims, found, err := d.search(budgets)
	if err != nil {
		return nil, 0, fwk.AsStatus(err)
	}
	numViolating := 0
	if !found {
		if pl.args.PDBMode == config.PDBRespect {
			markPDBBlocked(ctx)
			return nil, 0, fwk.NewStatus(fwk.UnschedulableAndUnresolvable, pdbMessage)
		}
		// Prefer: violate a budget since nothing else makes room, and say how often.
		if victims, err = d.reprieve(budgets.reprieveOrder(potential)); err != nil {
			return nil, 0, fwk.AsStatus(err)
		}
		numViolating = budgets.countViolations(victims)
	}
	victims.sort(false)
	out := make([]*corev1.Pod, len(victims))
	for i, c := range victims {
		out[i] = c.pi.GetPod()
	}
	if call, ok := ctx.Value(callKey{}).(*preemptionCall); ok {
		call.record(nodeInfo, out) // every path above leaves nodeInfo without exactly the victims
	}
	return out, numViolating, nil
}

// dryRun is one SelectVictimsOnNode call's node: the candidates (most
// important first) and which of them are on nodeInfo.
type dryRun struct {
	pl       *Plugin
	ctx      context.Context
	logger   klog.Logger
	state    fwk.CycleState
	pod      *corev1.Pod
	nodeInfo fwk.NodeInfo
	cs       candidates
	present  []bool
}

// set puts candidate i on the node or takes it off, running the PreFilter
// extensions as upstream does.
func (d *dryRun) set(i int, present bool) error {
	if d.present[i] == present {
		return nil
	}
	d.present[i] = present
	pi := d.cs[i].pi
	if present {
		d.nodeInfo.AddPodInfo(pi)
		return d.pl.fh.RunPreFilterExtensionAddPod(d.ctx, d.state, d.pod, pi, d.nodeInfo).AsError()
	}
	if err := d.nodeInfo.RemovePod(d.logger, pi.GetPod()); err != nil {
		return err
	}
	return d.pl.fh.RunPreFilterExtensionRemovePod(d.ctx, d.state, d.pod, pi, d.nodeInfo).AsError()
}

func (d *dryRun) fits() *fwk.Status {
	return d.pl.fh.RunFilterPluginsWithNominatedPods(d.ctx, d.state, d.pod, d.nodeInfo)
}

// reprieve is upstream's reprieve from a node without any candidate (where
// the pod fits): give the candidates back in order, keeping off those
// without which the pod no longer fits. It returns those, the victims.
func (d *dryRun) reprieve(order []int) (candidates, error) {
	for i := range d.cs {
		if err := d.set(i, false); err != nil {
			return nil, err
		}
	}
	var victims candidates
	for _, i := range order {
		if err := d.set(i, true); err != nil {
			return nil, err
		}
		if d.fits().IsSuccess() {
			continue
		}
		if err := d.set(i, false); err != nil {
			return nil, err
		}
		victims = append(victims, d.cs[i])
	}
	return victims, nil
}

// Decisions of search.
const (
	undecided = iota
	spared
	evicted
)

// search is upstream's reprieve within the budgets. Candidates are decided
// most important first: a candidate is spared if the pod still fits with it
// on the node, every candidate decided so far as decided, and of the
// undecided ones every pod the budgets let go off the node (unprotected
// pods all, protected ones biggest first while the budgets they count
// against last); otherwise it is evicted, spending its budgets. A protected
// pod whose budget is spent is spared without a check. Without binding
// budgets this is exactly upstream's reprieve. With them the feasibility
// test is a heuristic (the budget goes to the biggest undecided pods, by
// size), so the result is checked once all are decided, and victims that
// the final node no longer needs are given back, most important first. The
// test is exact, so no budget-respecting set is missed, when the room the
// preemptor lacks is one resource that size orders the same way and the
// PDBs do not overlap (TestBudgetSearchAgainstBruteForce); otherwise a set
// that needs a smaller protected pod can be missed, and the node is
// reported as blocked by a PDB, never given a violation.
// found is false when the pod does not fit without the victims (a victim
// set within the budgets was not found); the node is then left in any state.
// Cost: at most 2n+2 filter runs (n+1, as upstream, when no budget binds;
// Prefer's fallback adds n) and O(n·(n+m)) bookkeeping and pod moves,
// for n candidates of which m count against a budget (n ≤ ~110 pods a
// node): no search over subsets.
func (d *dryRun) search(bs budgets) (victims candidates, found bool, err error) {
	n := len(d.cs)
	spends := make([][]int, n)
	var bySize []int // candidates that spend a budget, biggest first (least important first among equals)
	for i := n - 1; i >= 0; i-- {
		if spends[i] = bs.spends(d.cs[i].pi.GetPod()); len(spends[i]) > 0 {
			bySize = append(bySize, i)
		}
	}
	sort.SliceStable(bySize, func(a, b int) bool { return d.cs[bySize[a]].imp.size > d.cs[bySize[b]].imp.size })
	left := bs.allowed()
	canSpend := func(left []int32, i int) bool {
		for _, j := range spends[i] {
			if left[j] <= 0 {
				return false
			}
		}
		return true
	}
	decision := make([]int, n)
	exact := true // every check so far had all undecided pods off the node: upstream's reprieve
	scratch := make([]int32, len(left))
	// arrange puts the node in the state decision describes: spared and
	// undecided-but-kept pods on it, evicted and undecided-let-go pods off.
	arrange := func() error {
		want := make([]bool, n)
		for i, dec := range decision {
			want[i] = dec == spared || (dec == undecided && len(spends[i]) > 0)
		}
		copy(scratch, left)
		for _, i := range bySize {
			if decision[i] == undecided && canSpend(scratch, i) {
				want[i] = false
				for _, j := range spends[i] {
					scratch[j]--
				}
			}
		}
		for i := range want {
			if want[i] && decision[i] == undecided {
				exact = false
			}
			if err := d.set(i, want[i]); err != nil {
				return err
			}
		}
		return nil
	}
	for i := range d.cs {
		if !canSpend(left, i) {
			decision[i] = spared // its budget is spent: it stays
			exact = false
			continue
		}
		decision[i] = spared
		if err := arrange(); err != nil {
			return nil, false, err
		}
		if d.fits().IsSuccess() {
			continue
		}
		decision[i] = evicted
		for _, j := range spends[i] {
			left[j]--
		}
	}
	if err := arrange(); err != nil {
		return nil, false, err
	}
	if !exact {
		if !d.fits().IsSuccess() {
			return nil, false, nil
		}
		for i, dec := range decision {
			if dec != evicted {
				continue
			}
			if err := d.set(i, true); err != nil {
				return nil, false, err
			}
			if d.fits().IsSuccess() {
				decision[i] = spared
			} else if err := d.set(i, false); err != nil {
				return nil, false, err
			}
		}
	}
	for i, dec := range decision {
		if dec == evicted {
			victims = append(victims, d.cs[i])
		}
	}
	return victims, true, nil
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

// reprieveOrder is the order in which Prefer mode's fallback gives victims
// back: pods whose eviction would exceed a budget first (spending budgets
// least important first), then the others, each most important first. cs
// is sorted most important first; the order holds indices into cs.
func (bs budgets) reprieveOrder(cs candidates) []int {
	idx := make(map[fwk.PodInfo]int, len(cs))
	for i, c := range cs {
		idx[c.pi] = i
	}
	ordered := cs.clone()
	ordered.sort(true)
	violating, nonViolating := bs.split(ordered)
	violating.sort(false)
	nonViolating.sort(false)
	order := make([]int, 0, len(cs))
	for _, c := range append(violating, nonViolating...) {
		order = append(order, idx[c.pi])
	}
	return order
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

// allowed is each PDB's DisruptionsAllowed.
func (bs budgets) allowed() []int32 {
	out := make([]int32, len(bs))
	for i, b := range bs {
		out[i] = b.pdb.Status.DisruptionsAllowed
	}
	return out
}

// spends lists the PDBs whose budget evicting p spends, as upstream
// counts them: those of p's namespace whose selector matches p, except
// where p is already in DisruptedPods. A terminating pod spends none: the
// disruption controller no longer counts it as healthy, and the Executor
// sends no eviction for it.
func (bs budgets) spends(p *corev1.Pod) []int {
	if len(bs) == 0 || len(p.Labels) == 0 || p.DeletionTimestamp != nil {
		return nil
	}
	var out []int
	for i, b := range bs {
		if b.sel == nil || b.pdb.Namespace != p.Namespace || !b.sel.Matches(labels.Set(p.Labels)) {
			continue
		}
		if _, done := b.pdb.Status.DisruptedPods[p.Name]; done {
			continue
		}
		out = append(out, i)
	}
	return out
}

// split divides pods, in the given order, into those whose eviction would
// exceed a PDB's DisruptionsAllowed and the rest.
func (bs budgets) split(cs candidates) (violating, nonViolating candidates) {
	if len(bs) == 0 {
		return nil, cs
	}
	allowed := bs.allowed()
	for _, c := range cs {
		violates := false
		for _, i := range bs.spends(c.pi.GetPod()) {
			allowed[i]--
			if allowed[i] < 0 {
				violates = true
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

// ObserveBind tells the shape learner a pod is no longer pending.
func (pl *Plugin) ObserveBind(pod *corev1.Pod, delta int) { pl.shapes.Bind(pod, delta) }

// ObserverKey is the shape learner, shared by the plugins of a profile.
func (pl *Plugin) ObserverKey() any { return pl.shapes }
