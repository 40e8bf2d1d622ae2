// Package simgate is the simulation gate every snug descheduler strategy
// evicts through: a pod is evicted only if pkg/simulator, running the
// scheduler profile its spec.schedulerName selects, places its replacement
// on a different node that serves the strategy's goal.
//
// A run (one descheduling cycle) snapshots the cluster once from the
// descheduler's informers. Every planned move is applied to the snapshot
// (the pod removed from its node and placed on its predicted destination)
// before the next candidate is judged, in every profile's simulator, so
// capacity is never promised twice, across strategies and profiles alike.
// A move whose eviction then fails (a PodDisruptionBudget, an eviction
// limit) is undone.
//
// The scheduler breaks score ties at random, so the gate requires the goal
// of every node tied at the best score, and refuses a move when the pod's
// own node is among them.
//
// Hard rules, whatever the evictor's args say: mirror, DaemonSet, ownerless
// and terminating pods are never evicted, nor pods whose owner's template
// pins spec.nodeName (their replacement would return to the same node).
package simgate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/klog/v2"

	"github.com/snug-sched/snug/pkg/simulator"
)

// Goal reports whether node to serves a strategy when pod leaves node from.
// It runs on the simulator of the pod's profile with the pod removed from
// from and not yet placed; why explains a refusal.
type Goal func(sim *simulator.Simulator, pod *corev1.Pod, from, to string) (ok bool, why string)

// Rejected is the error Plan returns when the simulation refuses a move.
type Rejected struct {
	Pod, Strategy, Reason string
}

func (e *Rejected) Error() string {
	return fmt.Sprintf("simulation gate: not evicting %s (%s): %s", e.Pod, e.Strategy, e.Reason)
}

// IsRejected reports whether err is a simulation refusal.
func IsRejected(err error) bool {
	var r *Rejected
	return errors.As(err, &r)
}

// Options configure a Gate.
type Options struct {
	Profiles Profiles
	// DryRun: nothing is written to the cluster; the plan is printed at
	// the end of each run.
	DryRun bool
	// Out receives the plan in dry-run mode; Format is "table" or "json".
	Out    io.Writer
	Format string
	// Finish is called after each run's report (metrics push).
	Finish func()
}

// Gate is shared by every strategy of a descheduler process.
type Gate struct {
	opts Options

	mu sync.Mutex
	// aux is the first informer factory a strategy registered with: the
	// real client's. In dry-run mode strategies are built again on a
	// sandbox factory that mirrors only pods, nodes and a few kinds, so
	// volume and workload objects are read from aux.
	aux informers.SharedInformerFactory
	cur *run
	ran map[string]bool // strategy instances that ran in cur
	// last is the previous run's plan (tests, the command's exit).
	last []Move
	// cycles counts the simulated scheduling cycles of every run.
	cycles int
}

// New returns a gate.
func New(opts Options) *Gate {
	if opts.Format == "" {
		opts.Format = "table"
	}
	return &Gate{opts: opts, ran: map[string]bool{}}
}

// DryRun reports whether the gate plans without writing.
func (g *Gate) DryRun() bool { return g.opts.DryRun }

// RegisterInformers registers with f every informer a run reads, before the
// descheduler starts f.
func (g *Gate) RegisterInformers(f informers.SharedInformerFactory) {
	g.mu.Lock()
	if g.aux == nil {
		g.aux = f
	}
	g.mu.Unlock()
	f.Core().V1().Nodes().Informer()
	f.Core().V1().Pods().Informer()
	f.Core().V1().PersistentVolumeClaims().Informer()
	f.Core().V1().PersistentVolumes().Informer()
	f.Core().V1().Services().Informer()
	f.Core().V1().ReplicationControllers().Informer()
	f.Apps().V1().ReplicaSets().Informer()
	f.Apps().V1().StatefulSets().Informer()
	f.Storage().V1().StorageClasses().Informer()
	f.Storage().V1().CSINodes().Informer()
	f.Storage().V1().CSIDrivers().Informer()
}

// Move is one planned eviction and where its replacement lands.
type Move struct {
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	From      string   `json:"from"`
	To        string   `json:"to"`
	Tied      []string `json:"tied,omitempty"`
	Strategy  string   `json:"strategy"`
	Reason    string   `json:"reason"`
	// Status is planned (dry run), evicted, or failed (Error says why; the
	// move was undone).
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`

	index int
	marks map[string]simulator.Mark
}

// run is one descheduling cycle's snapshot and plan.
type run struct {
	nodes   []*corev1.Node
	pods    []*corev1.Pod // bound, not terminal
	pending []*corev1.Pod
	objects []runtime.Object
	rs      map[string]*appsv1.ReplicaSet  // namespace/name
	sts     map[string]*appsv1.StatefulSet // namespace/name
	sims    map[string]*simulator.Simulator
	moves   []*Move
	report  []Move

	stranding *strandingModel // built on first use
}

// Begin marks the start of a strategy instance's extension point. A second
// call for the same instance means the descheduler started a new cycle: the
// previous run is finished (reported) and a new snapshot is taken from f.
func (g *Gate) Begin(ctx context.Context, instance string, f informers.SharedInformerFactory) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cur != nil && g.ran[instance] {
		g.finishLocked(ctx)
	}
	g.ran[instance] = true
	if g.cur != nil {
		return nil
	}
	r, err := g.snapshot(f)
	if err != nil {
		return err
	}
	g.cur = r
	return nil
}

// Finish reports the current run and drops its snapshot.
func (g *Gate) Finish(ctx context.Context) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cur != nil {
		g.finishLocked(ctx)
	}
}

// Cycles returns how many scheduling cycles the gate has simulated since it
// was built: planning time is about this many of the scheduler's own cycles.
func (g *Gate) Cycles() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cycles
}

// LastPlan returns the moves of the last finished run.
func (g *Gate) LastPlan() []Move {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Move(nil), g.last...)
}

func (g *Gate) finishLocked(ctx context.Context) {
	r := g.cur
	for _, s := range r.sims {
		s.Close()
	}
	g.last = r.report
	g.cur, g.ran = nil, map[string]bool{}
	logger := klog.FromContext(ctx)
	for _, m := range r.report {
		logger.V(1).Info("Simulation gate", "pod", m.Namespace+"/"+m.Name, "from", m.From, "to", m.To,
			"strategy", m.Strategy, "status", m.Status, "error", m.Error)
	}
	if g.opts.DryRun && g.opts.Out != nil {
		if err := WritePlan(g.opts.Out, g.opts.Format, r.report); err != nil {
			logger.Error(err, "Writing the plan")
		}
	}
	if g.opts.Finish != nil {
		g.opts.Finish()
	}
}

func (g *Gate) snapshot(f informers.SharedInformerFactory) (*run, error) {
	aux := g.aux
	if aux == nil {
		aux = f
	}
	r := &run{sims: map[string]*simulator.Simulator{}, rs: map[string]*appsv1.ReplicaSet{}, sts: map[string]*appsv1.StatefulSet{}}
	var err error
	if r.nodes, err = f.Core().V1().Nodes().Lister().List(labels.Everything()); err != nil {
		return nil, err
	}
	sort.Slice(r.nodes, func(i, j int) bool { return r.nodes[i].Name < r.nodes[j].Name })
	pods, err := f.Core().V1().Pods().Lister().List(labels.Everything())
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, n := range r.nodes {
		known[n.Name] = true
	}
	for _, p := range pods {
		switch {
		case p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed:
		case p.Spec.NodeName == "":
			r.pending = append(r.pending, p)
		case known[p.Spec.NodeName]:
			r.pods = append(r.pods, p)
		}
	}
	sort.Slice(r.pods, func(i, j int) bool { return podKey(r.pods[i]) < podKey(r.pods[j]) })
	add := func(list []runtime.Object) { r.objects = append(r.objects, list...) }
	if err := listInto(add, aux); err != nil {
		return nil, err
	}
	rss, err := aux.Apps().V1().ReplicaSets().Lister().List(labels.Everything())
	if err != nil {
		return nil, err
	}
	for _, x := range rss {
		r.rs[x.Namespace+"/"+x.Name] = x
	}
	stss, err := aux.Apps().V1().StatefulSets().Lister().List(labels.Everything())
	if err != nil {
		return nil, err
	}
	for _, x := range stss {
		r.sts[x.Namespace+"/"+x.Name] = x
	}
	return r, nil
}

// listInto copies the objects the scheduler's filters and default spreading
// read into the simulator's client.
func listInto(add func([]runtime.Object), f informers.SharedInformerFactory) error {
	for _, inf := range []interface {
		List(labels.Selector) ([]runtime.Object, error)
	}{
		lister{f.Core().V1().PersistentVolumeClaims().Informer().GetIndexer().List},
		lister{f.Core().V1().PersistentVolumes().Informer().GetIndexer().List},
		lister{f.Core().V1().Services().Informer().GetIndexer().List},
		lister{f.Core().V1().ReplicationControllers().Informer().GetIndexer().List},
		lister{f.Apps().V1().ReplicaSets().Informer().GetIndexer().List},
		lister{f.Apps().V1().StatefulSets().Informer().GetIndexer().List},
		lister{f.Storage().V1().StorageClasses().Informer().GetIndexer().List},
		lister{f.Storage().V1().CSINodes().Informer().GetIndexer().List},
		lister{f.Storage().V1().CSIDrivers().Informer().GetIndexer().List},
	} {
		objs, err := inf.List(labels.Everything())
		if err != nil {
			return err
		}
		add(objs)
	}
	return nil
}

type lister struct{ list func() []interface{} }

func (l lister) List(labels.Selector) ([]runtime.Object, error) {
	var out []runtime.Object
	for _, o := range l.list() {
		if ro, ok := o.(runtime.Object); ok {
			out = append(out, ro)
		}
	}
	return out, nil
}

// sim returns the run's simulator of a scheduler profile, building it on
// first use from the snapshot and the moves planned so far.
func (g *Gate) sim(ctx context.Context, r *run, name string) (*simulator.Simulator, error) {
	if s, ok := r.sims[name]; ok {
		return s, nil
	}
	profile, ok := g.opts.Profiles[name]
	if !ok {
		return nil, nil
	}
	s, err := simulator.New(ctx, profile, simulator.Options{Objects: r.objects})
	if err != nil {
		return nil, err
	}
	for _, n := range r.nodes {
		if err := s.AddNode(n); err != nil {
			s.Close()
			return nil, err
		}
	}
	for _, p := range r.pods {
		if err := s.AddPod(p); err != nil {
			s.Close()
			return nil, err
		}
	}
	s.Observe(r.pending)
	for _, m := range r.moves {
		if m.marks == nil {
			continue // node updates
		}
		m.marks[name] = s.Fork()
		if err := moveIn(s, m); err != nil {
			s.Close()
			return nil, err
		}
	}
	r.sims[name] = s
	return s, nil
}

// moveIn applies a planned move to a simulator that did not plan it.
func moveIn(s *simulator.Simulator, m *Move) error {
	cur, ok := s.Pod(m.Namespace, m.Name)
	if !ok {
		return fmt.Errorf("pod %s/%s not in snapshot", m.Namespace, m.Name)
	}
	if err := s.RemovePod(cur); err != nil {
		return err
	}
	placed := cur.DeepCopy()
	placed.Spec.NodeName = m.To
	return s.AddPod(placed)
}

// Plan judges evicting pod for strategy: it simulates the replacement with
// the pod's scheduler profile and, if every node the scheduler may choose
// serves goal, applies the move to the run's snapshot and returns it. A
// refusal is a *Rejected error.
func (g *Gate) Plan(ctx context.Context, pod *corev1.Pod, strategy, reason string, goal Goal) (*Move, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m, err := g.plan(ctx, pod, strategy, reason, goal)
	if err != nil {
		if IsRejected(err) {
			recordSkipped(strategy)
		}
		return nil, err
	}
	recordPlanned(strategy)
	return m, nil
}

func (g *Gate) plan(ctx context.Context, pod *corev1.Pod, strategy, reason string, goal Goal) (*Move, error) {
	r := g.cur
	if r == nil {
		return nil, fmt.Errorf("simulation gate: Plan outside a run (Begin not called)")
	}
	reject := func(format string, args ...any) error {
		return &Rejected{Pod: podKey(pod), Strategy: strategy, Reason: fmt.Sprintf(format, args...)}
	}
	if why := unsafe(pod, r); why != "" {
		return nil, reject("%s", why)
	}
	s, err := g.sim(ctx, r, pod.Spec.SchedulerName)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, reject("no scheduler profile %q to predict its replacement (--scheduler-config)", pod.Spec.SchedulerName)
	}
	cur, ok := s.Pod(pod.Namespace, pod.Name)
	if !ok {
		return nil, reject("not in this run's snapshot (already moved, or bound after the snapshot)")
	}
	from := cur.Spec.NodeName
	marks := map[string]simulator.Mark{}
	for name, other := range r.sims {
		marks[name] = other.Fork()
	}
	undo := func() {
		for name, other := range r.sims {
			if err := other.Revert(marks[name]); err != nil {
				klog.FromContext(ctx).Error(err, "Reverting a simulated move")
			}
		}
	}
	if err := s.RemovePod(cur); err != nil {
		undo()
		return nil, err
	}
	g.cycles++
	// The origin is always in the sample: the scheduler's own sample may
	// hold it, and a move the origin would win is futile.
	res, err := s.Schedule(ctx, Replacement(cur), simulator.AlwaysSample(from))
	if err != nil {
		undo()
		return nil, err
	}
	if res.Node == "" {
		undo()
		return nil, reject("its replacement would stay Pending: %s", res.Reason)
	}
	placed, _ := s.Pod(pod.Namespace, pod.Name)
	if err := s.RemovePod(placed); err != nil {
		undo()
		return nil, err
	}
	for _, t := range res.Tied {
		if t == from {
			undo()
			return nil, reject("its replacement may land back on %s (best score, tied with %v)", from, res.Tied)
		}
		if goal != nil {
			if ok, why := goal(s, cur, from, t); !ok {
				undo()
				return nil, reject("destination %s does not serve the strategy: %s", t, why)
			}
		}
	}
	if err := s.AddPod(placed); err != nil {
		undo()
		return nil, err
	}
	m := &Move{Namespace: pod.Namespace, Name: pod.Name, From: from, To: res.Node, Tied: res.Tied,
		Strategy: strategy, Reason: reason, Status: "planned", marks: marks}
	for _, other := range r.sims {
		if other == s {
			continue
		}
		if err := moveIn(other, m); err != nil {
			undo()
			return nil, err
		}
	}
	m.index = len(r.report)
	r.moves = append(r.moves, m)
	r.report = append(r.report, *m)
	return m, nil
}

// Evicted records that m's eviction was accepted.
func (g *Gate) Evicted(m *Move) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cur != nil && !g.opts.DryRun {
		g.cur.report[m.index].Status = "evicted"
	}
	recordEvicted(m.Strategy)
}

// Undo reverts m and every move planned after it (its eviction failed).
func (g *Gate) Undo(ctx context.Context, m *Move, cause error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.cur
	if r == nil {
		return
	}
	for name, s := range r.sims {
		mark, ok := m.marks[name]
		if !ok {
			continue
		}
		if err := s.Revert(mark); err != nil {
			klog.FromContext(ctx).Error(err, "Reverting a failed move")
		}
	}
	for i, x := range r.moves {
		if x == m {
			for _, later := range r.moves[i:] {
				if r.report[later.index].Status == "planned" || r.report[later.index].Status == "evicted" {
					r.report[later.index].Status = "failed"
					r.report[later.index].Error = "undone with an earlier failed move"
				}
			}
			r.moves = r.moves[:i]
			break
		}
	}
	r.report[m.index].Status = "failed"
	r.report[m.index].Error = cause.Error()
}

// Replacement is the pod its owner would create after an eviction: the same
// spec, not bound, not started.
func Replacement(p *corev1.Pod) *corev1.Pod {
	out := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, Labels: p.Labels,
		Annotations: p.Annotations, OwnerReferences: p.OwnerReferences, UID: p.UID}}
	out.Spec = *p.Spec.DeepCopy()
	out.Spec.NodeName = ""
	out.Status.Phase = corev1.PodPending
	return out
}

// unsafe returns why pod must never be evicted, or "".
func unsafe(p *corev1.Pod, r *run) string {
	if p.DeletionTimestamp != nil {
		return "terminating"
	}
	if _, mirror := p.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return "mirror (static) pod"
	}
	owner := metav1.GetControllerOf(p)
	if owner == nil {
		if len(p.OwnerReferences) == 0 {
			return "no owner would recreate it"
		}
		owner = &p.OwnerReferences[0]
	}
	switch owner.Kind {
	case "DaemonSet":
		return "DaemonSet pod"
	case "ReplicaSet":
		if rs, ok := r.rs[p.Namespace+"/"+owner.Name]; ok && rs.Spec.Template.Spec.NodeName != "" {
			return "its ReplicaSet's template pins spec.nodeName " + rs.Spec.Template.Spec.NodeName
		}
	case "StatefulSet":
		if st, ok := r.sts[p.Namespace+"/"+owner.Name]; ok && st.Spec.Template.Spec.NodeName != "" {
			return "its StatefulSet's template pins spec.nodeName " + st.Spec.Template.Spec.NodeName
		}
	}
	return ""
}

func podKey(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }
