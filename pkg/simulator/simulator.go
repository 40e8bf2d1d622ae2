// Package simulator places pods on a cluster snapshot in-process, with the
// real kube-scheduler framework (in-tree plugins plus snug's) and any
// KubeSchedulerConfiguration profile, without an API server.
//
// A scheduling cycle is the scheduler's, made deterministic:
//
//	PreFilter → Filter (nodes in name order, rotating) → [PostFilter] →
//	PreScore → Score → NormalizeScore → highest total score, ties to the
//	first node filtered → Reserve → the pod is added to the node (assumed).
//
// Like kube-scheduler, a cycle samples nodes as the profile's
// percentageOfNodesToScore says (Options.ScoreAllNodes turns sampling
// off); unlike it, the sample is taken in order rather than by racing
// workers, and ties never break at random, so the same input always gives
// the same placement. Permit, PreBind and Bind do not run: nothing is
// written anywhere.
//
// Pods the simulator sees (placed, bound or pending) are reported to
// plugins that learn from the cluster (PodObserver), as the scheduler's
// informers would report them.
//
// Fork and Revert undo every change since a mark, in O(changes).
package simulator

import (
	"context"
	"fmt"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	frameworkplugins "k8s.io/kubernetes/pkg/scheduler/framework/plugins"
	"k8s.io/kubernetes/pkg/scheduler/framework/preemption"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	schedmetrics "k8s.io/kubernetes/pkg/scheduler/metrics"

	"github.com/snug-sched/snug/pkg/plugins"
)

var klogDiscard = klog.Background().V(10)

var metricsOnce sync.Once

// initMetrics creates the scheduler metrics the framework instruments
// plugins with, without registering them: unregistered, every update is a
// no-op, so simulated cycles neither show up on a host process's /metrics
// nor contend on shared counters. A process that registered them itself
// (scheduler_perf) keeps its registered ones.
func initMetrics() {
	metricsOnce.Do(func() {
		if schedmetrics.PluginEvaluationTotal == nil {
			schedmetrics.InitMetrics()
		}
	})
}

// PodObserver is implemented by plugins that learn from the pods in the
// cluster (e.g. StrandingAwarePacking's shape learner).
type PodObserver interface {
	ObservePod(pod *corev1.Pod, delta int)
}

// BindObserver is a PodObserver that tells pending pods from bound ones:
// the simulator reports each pod a cycle places or AddPod adds as bound
// (delta 1), as the scheduler's informer reports a binding, and -1 when
// Revert undoes that; a report that changes nothing must be ignored (a pod
// added bound was never pending).
type BindObserver interface {
	ObserveBind(pod *corev1.Pod, delta int)
}

// SharedObserver is a PodObserver whose learning may be shared with other
// plugins (the packing and preemption plugins of a profile share one shape
// learner); observers with the same ObserverKey are fed once.
type SharedObserver interface {
	PodObserver
	ObserverKey() any
}

// Options of a simulator.
type Options struct {
	// Preemption runs the profile's PostFilter plugins when a pod fits
	// nowhere and applies the victims they choose.
	Preemption bool
	// Parallelism of Filter and Score; 0 means 16, as the scheduler's default.
	Parallelism int
	// Registry adds plugins to the in-tree and snug registries (benchmarks'
	// reference heuristics, tests).
	Registry frameworkruntime.Registry
	// ScoreAllNodes filters and scores every node. By default a cycle
	// samples nodes as kube-scheduler does with the profile's
	// percentageOfNodesToScore: above 100 nodes it stops filtering once it
	// has found that many feasible nodes, starting where the previous cycle
	// stopped, and scores only those.
	ScoreAllNodes bool
	// Objects seed the client behind the framework's informers: the
	// PersistentVolumeClaims, PersistentVolumes, StorageClasses and CSINodes
	// that volume filters read, the Services and ReplicaSets that default
	// spreading reads. Without them such filters see an empty cluster.
	Objects []runtime.Object
}

// Simulator is a cluster snapshot and a framework built from one profile.
// It is not safe for concurrent use.
type Simulator struct {
	fw        framework.Framework
	preemptor preemption.Interface // the profile's PostFilter plugin, when Options.Preemption
	snap      *snapshot
	observers []PodObserver
	journal   []op
	version   uint64                 // bumped by every change and every Revert
	pods      map[string]*corev1.Pod // placed or bound pods by namespace/name
	seen      map[string]bool        // pods reported to observers
	scoreAll  bool
	nextStart int // where the next cycle starts filtering, as the scheduler's nextStartNodeIndex
	client    *fake.Clientset
	cancel    context.CancelFunc
}

// Result of scheduling one pod.
type Result struct {
	// Node the pod was placed on; "" if it fits nowhere.
	Node string
	// Reason the pod did not fit (the scheduler's FitError message).
	Reason string
	// Victims evicted by preemption to make room.
	Victims []*corev1.Pod
	// Tied lists every node that shares Node's best score, Node included, in
	// the order the cycle filtered them. The scheduler breaks such ties at random, so a caller that
	// needs to know where the pod will land must accept every one of them.
	Tied []string
}

// New builds a simulator for profile (an internal, defaulted profile, e.g.
// from LoadProfile).
func New(ctx context.Context, profile *schedconfig.KubeSchedulerProfile, opts Options) (*Simulator, error) {
	initMetrics()
	ctx, cancel := context.WithCancel(ctx)
	s := &Simulator{snap: newSnapshot(), pods: map[string]*corev1.Pod{}, seen: map[string]bool{}, cancel: cancel, scoreAll: opts.ScoreAllNodes}
	capture := func(f frameworkruntime.PluginFactory) frameworkruntime.PluginFactory {
		return func(ctx context.Context, obj runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
			p, err := f(ctx, obj, h)
			if err != nil {
				return p, err
			}
			if o, ok := p.(PodObserver); ok && !s.observes(o) {
				s.observers = append(s.observers, o)
			}
			if pi, ok := p.(preemption.Interface); ok && opts.Preemption {
				s.preemptor = pi
			}
			return p, err
		}
	}
	registry := frameworkplugins.NewInTreeRegistry()
	// Wrap in-tree factories too: DefaultPreemption is the preemption
	// plugin of upstream profiles.
	for name, f := range registry {
		registry[name] = capture(f)
	}
	for _, extra := range []frameworkruntime.Registry{plugins.Registry(), opts.Registry} {
		for name, f := range extra {
			if err := registry.Register(name, capture(f)); err != nil {
				cancel()
				return nil, err
			}
		}
	}
	parallelism := opts.Parallelism
	if parallelism == 0 {
		parallelism = 16
	}
	s.client = fake.NewClientset(opts.Objects...)
	factory := informers.NewSharedInformerFactory(s.client, 0)
	fw, err := frameworkruntime.NewFramework(ctx, registry, withoutDRA(profile),
		frameworkruntime.WithClientSet(s.client),
		frameworkruntime.WithInformerFactory(factory),
		frameworkruntime.WithSnapshotSharedLister(s.snap),
		frameworkruntime.WithPodNominator(noNominations{}),
		frameworkruntime.WithPodActivator(noActivation{}),
		frameworkruntime.WithEventRecorder(events.NewFakeRecorder(0)),
		frameworkruntime.WithParallelism(parallelism),
	)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("profile %q: %w", profile.SchedulerName, err)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	s.fw = fw
	return s, nil
}

// Close stops the framework's informers.
func (s *Simulator) Close() { s.cancel() }

// AddNode adds a node.
func (s *Simulator) AddNode(node *corev1.Node) error {
	if err := s.snap.addNode(node); err != nil {
		return err
	}
	s.record(op{kind: opAddNode, node: node.Name})
	return nil
}

// UpdateNode replaces a node's object (labels, taints, allocatable), keeping
// its pods.
func (s *Simulator) UpdateNode(node *corev1.Node) error {
	ni, ok := s.snap.nodes[node.Name]
	if !ok {
		return fmt.Errorf("node %q not found", node.Name)
	}
	s.record(op{kind: opUpdateNode, node: node.Name, prev: ni.Node()})
	ni.SetNode(node)
	return nil
}

// AddPod adds a pod already bound to spec.nodeName (no plugins run).
func (s *Simulator) AddPod(pod *corev1.Pod) error {
	if pod.Spec.NodeName == "" {
		return fmt.Errorf("pod %s/%s is not bound; use Schedule", pod.Namespace, pod.Name)
	}
	if err := s.snap.addPod(pod); err != nil {
		return err
	}
	s.pods[key(pod)] = pod
	s.record(op{kind: opAddPod, pod: pod})
	s.see(pod)
	s.bound(pod, 1) // a pod reported pending by Observe is bound now
	return nil
}

// RemovePod removes a bound or placed pod (e.g. it finished or was evicted).
func (s *Simulator) RemovePod(pod *corev1.Pod) error {
	bound, ok := s.pods[key(pod)]
	if !ok {
		return fmt.Errorf("pod %s/%s is not on any node", pod.Namespace, pod.Name)
	}
	if err := s.snap.removePod(bound); err != nil {
		return err
	}
	delete(s.pods, key(pod))
	s.record(op{kind: opRemovePod, pod: bound})
	s.unsee(bound)
	return nil
}

// Observe reports pending pods to learning plugins, as the scheduler's
// informers report pods as soon as they are created. Schedule and AddPod
// report a pod themselves if it was not reported yet; RemovePod withdraws
// it. Undone by Revert.
func (s *Simulator) Observe(pods []*corev1.Pod) {
	for _, p := range pods {
		s.see(p)
	}
}

// Forget withdraws pending pods reported by Observe or Schedule that will
// not be scheduled (e.g. deleted while pending).
func (s *Simulator) Forget(pods []*corev1.Pod) {
	for _, p := range pods {
		s.unsee(p)
	}
}

func (s *Simulator) see(p *corev1.Pod) {
	if !s.seen[key(p)] {
		s.setSeen(p, true)
		s.record(op{kind: opObserve, pod: p, delta: 1})
	}
}

func (s *Simulator) unsee(p *corev1.Pod) {
	if s.seen[key(p)] {
		s.setSeen(p, false)
		s.record(op{kind: opObserve, pod: p, delta: -1})
	}
}

// bound reports a placement of a pending pod to the observers that track
// bindings.
func (s *Simulator) bound(p *corev1.Pod, delta int) {
	for _, o := range s.observers {
		if b, ok := o.(BindObserver); ok {
			b.ObserveBind(p, delta)
		}
	}
}

func (s *Simulator) setSeen(p *corev1.Pod, seen bool) {
	delta := 1
	if seen {
		s.seen[key(p)] = true
	} else {
		delete(s.seen, key(p))
		delta = -1
	}
	for _, o := range s.observers {
		o.ObservePod(p, delta)
	}
}

// Pod returns the placed or bound pod by namespace and name.
func (s *Simulator) Pod(namespace, name string) (*corev1.Pod, bool) {
	p, ok := s.pods[namespace+"/"+name]
	return p, ok
}

// Nodes returns the node infos in name order (read-only).
func (s *Simulator) Nodes() []fwk.NodeInfo { return s.snap.list }

// CycleOption changes one scheduling cycle.
type CycleOption func(*cycleOptions)

type cycleOptions struct {
	alwaysSample string
}

// AlwaysSample makes the cycle filter the named node first and, if it is
// feasible, score it whatever the sample holds. A caller that must know
// whether an evicted pod can return to its node uses it: sampling could
// otherwise leave that node out of the prediction while the scheduler
// samples it.
func AlwaysSample(node string) CycleOption {
	return func(o *cycleOptions) { o.alwaysSample = node }
}

// Schedule runs one scheduling cycle for pod (which must not be bound) and,
// if a node fits, places a copy of it there.
func (s *Simulator) Schedule(ctx context.Context, pod *corev1.Pod, opts ...CycleOption) (Result, error) {
	var co cycleOptions
	for _, o := range opts {
		o(&co)
	}
	if pod.Spec.NodeName != "" {
		return Result{}, fmt.Errorf("pod %s/%s is already bound to %s", pod.Namespace, pod.Name, pod.Spec.NodeName)
	}
	if _, dup := s.pods[key(pod)]; dup {
		return Result{}, fmt.Errorf("pod %s/%s is already placed", pod.Namespace, pod.Name)
	}
	s.see(pod)
	s.snap.refreshAffinity()
	state := framework.NewCycleState()
	feasible, diagnosis, err := s.filter(ctx, state, pod, co.alwaysSample)
	if err != nil {
		return Result{}, err
	}
	var victims []*corev1.Pod
	if len(feasible) == 0 {
		fitErr := &framework.FitError{Pod: pod, NumAllNodes: len(s.snap.list), Diagnosis: diagnosis}
		if !s.preemptionOK() {
			return Result{Reason: fitErr.Error()}, nil
		}
		node, v, err := s.preempt(ctx, state, pod, diagnosis)
		if err != nil || node == "" {
			return Result{Reason: fitErr.Error()}, err
		}
		victims = v
		// Retry on the nominated node, as the scheduler does after the victims are gone.
		ni, _ := s.snap.Get(node)
		state = framework.NewCycleState()
		if _, st, _ := s.fw.RunPreFilterPlugins(ctx, state, pod); !st.IsSuccess() {
			return Result{Reason: st.Message(), Victims: victims}, nil
		}
		if st := s.fw.RunFilterPlugins(ctx, state, pod, ni); !st.IsSuccess() {
			return Result{Reason: st.Message(), Victims: victims}, nil
		}
		feasible = []fwk.NodeInfo{ni}
	}
	node, tied, err := s.pick(ctx, state, pod, feasible)
	if err != nil {
		return Result{}, err
	}
	if st := s.fw.RunReservePluginsReserve(ctx, state, pod, node); !st.IsSuccess() {
		s.fw.RunReservePluginsUnreserve(ctx, state, pod, node)
		return Result{Reason: st.Message(), Victims: victims}, nil
	}
	placed := pod.DeepCopy()
	placed.Spec.NodeName = node
	placed.Status.Phase = corev1.PodRunning
	if err := s.snap.addPod(placed); err != nil {
		return Result{}, err
	}
	s.pods[key(placed)] = placed
	s.record(op{kind: opPlace, pod: placed})
	s.bound(placed, 1)
	return Result{Node: node, Victims: victims, Tied: tied}, nil
}

func (s *Simulator) preemptionOK() bool { return s.preemptor != nil }

// filter runs PreFilter, then Filter over the nodes the cycle samples: the
// named first node (if it passes PreFilter), then the rest in rotation.
func (s *Simulator) filter(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, first string) ([]fwk.NodeInfo, framework.Diagnosis, error) {
	diagnosis := framework.Diagnosis{NodeToStatus: framework.NewDefaultNodeToStatus()}
	pre, st, unschedulable := s.fw.RunPreFilterPlugins(ctx, state, pod)
	diagnosis.UnschedulablePlugins = unschedulable
	if !st.IsSuccess() {
		if !st.IsRejected() {
			return nil, diagnosis, st.AsError()
		}
		diagnosis.NodeToStatus.SetAbsentNodesStatus(st)
		diagnosis.PreFilterMsg = st.Message()
		diagnosis.AddPluginStatus(st)
		return nil, diagnosis, nil
	}
	nodes := s.snap.list
	if !pre.AllNodes() {
		// The scheduler iterates PreFilter's node set in map order; name
		// order keeps the simulation deterministic.
		nodes = nil
		for _, ni := range s.snap.list {
			if pre.NodeNames.Has(ni.Node().Name) {
				nodes = append(nodes, ni)
			}
		}
		diagnosis.NodeToStatus.SetAbsentNodesStatus(fwk.NewStatus(fwk.UnschedulableAndUnresolvable, "node(s) didn't satisfy a PreFilter result"))
	}
	toFind := len(nodes)
	if !s.scoreAll {
		toFind = numFeasibleNodesToFind(s.fw.PercentageOfNodesToScore(), len(nodes))
	}
	if !s.scoreAll && !s.fw.HasScorePlugins() {
		toFind = 1
	}
	// Check nodes in the scheduler's order (a rotation starting where the
	// previous cycle stopped, after the node asked for first), a batch at a
	// time in parallel, and keep the first toFind feasible ones in that
	// order, so the sample is the one a sequential scheduler would take:
	// deterministic, unlike the scheduler's racing workers.
	n := len(nodes)
	firstAt := -1
	if first != "" {
		firstAt = slices.IndexFunc(nodes, func(ni fwk.NodeInfo) bool { return ni.Node().Name == first })
	}
	rotation := n // how many nodes the rotation covers
	if firstAt >= 0 {
		rotation--
	}
	start := 0
	if rotation > 0 {
		start = s.nextStart % rotation
	}
	at := func(i int) fwk.NodeInfo {
		if firstAt < 0 {
			return nodes[(start+i)%n]
		}
		if i == 0 {
			return nodes[firstAt]
		}
		k := (start + i - 1) % rotation
		if k >= firstAt {
			k++
		}
		return nodes[k]
	}
	statuses := make([]*fwk.Status, n)
	var feasible []fwk.NodeInfo
	checked := 0
	for checked < n && len(feasible) < toFind {
		batch := toFind - len(feasible)
		if len(feasible) > 0 {
			// Expect the feasible share seen so far.
			batch = batch * checked / len(feasible)
		}
		batch = min(max(batch, 64), n-checked)
		from := checked
		s.fw.Parallelizer().Until(ctx, batch, func(i int) {
			statuses[from+i] = s.fw.RunFilterPluginsWithNominatedPods(ctx, state, pod, at(from+i))
		}, "Filter")
		for i := from; i < from+batch && len(feasible) < toFind; i++ {
			st, ni := statuses[i], at(i)
			checked = i + 1
			switch {
			case st.IsSuccess():
				feasible = append(feasible, ni)
			case st.IsRejected():
				diagnosis.NodeToStatus.Set(ni.Node().Name, st)
				diagnosis.AddPluginStatus(st)
			default:
				return nil, diagnosis, st.AsError()
			}
		}
	}
	advanced := checked
	if firstAt >= 0 && checked > 0 {
		advanced--
	}
	if advanced > 0 && len(s.snap.list) > 0 {
		s.setNextStart((s.nextStart + advanced) % len(s.snap.list))
	}
	return feasible, diagnosis, nil
}

// Thresholds of kube-scheduler's node sampling (pkg/scheduler/schedule_one.go).
const (
	minFeasibleNodesToFind           = 100
	minFeasibleNodesPercentageToFind = 5
)

// numFeasibleNodesToFind is kube-scheduler's: how many feasible nodes a
// cycle looks for before it stops filtering and scores them. percentage is
// the profile's percentageOfNodesToScore (the configuration's global value
// when the profile sets none, see LoadProfile); nil or 0 is adaptive.
func numFeasibleNodesToFind(percentage *int32, numAllNodes int) int {
	if numAllNodes < minFeasibleNodesToFind {
		return numAllNodes
	}
	var pct int32
	if percentage != nil {
		pct = *percentage
	}
	if pct == 0 {
		pct = max(int32(50)-int32(numAllNodes)/125, minFeasibleNodesPercentageToFind)
	}
	return max(numAllNodes*int(pct)/100, minFeasibleNodesToFind)
}

// pick scores the feasible nodes and returns the best, ties to the first
// filtered, and every node tied with it.
func (s *Simulator) pick(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, feasible []fwk.NodeInfo) (string, []string, error) {
	if len(feasible) == 1 || !s.fw.HasScorePlugins() {
		tied := make([]string, len(feasible))
		for i, ni := range feasible {
			tied[i] = ni.Node().Name
		}
		return tied[0], tied, nil
	}
	if st := s.fw.RunPreScorePlugins(ctx, state, pod, feasible); !st.IsSuccess() {
		return "", nil, st.AsError()
	}
	scores, st := s.fw.RunScorePlugins(ctx, state, pod, feasible)
	if !st.IsSuccess() {
		return "", nil, st.AsError()
	}
	best := 0
	for i := range scores {
		if scores[i].TotalScore > scores[best].TotalScore {
			best = i
		}
	}
	var tied []string
	for i := range scores {
		if scores[i].TotalScore == scores[best].TotalScore {
			tied = append(tied, scores[i].Name)
		}
	}
	return scores[best].Name, tied, nil
}

func key(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

type noNominations struct{}

func (noNominations) AddNominatedPod(klog.Logger, fwk.PodInfo, *fwk.NominatingInfo) {}
func (noNominations) DeleteNominatedPodIfExists(*corev1.Pod)                        {}
func (noNominations) UpdateNominatedPod(klog.Logger, *corev1.Pod, fwk.PodInfo)      {}
func (noNominations) NominatedPodsForNode(string) []fwk.PodInfo                     { return nil }

type noActivation struct{}

func (noActivation) Activate(klog.Logger, map[string]*corev1.Pod) {}

// withoutDRA returns a copy of profile without the DynamicResources plugin:
// the simulator models no ResourceClaims or ResourceSlices, and the plugin
// needs the scheduler's DRA manager.
func withoutDRA(p *schedconfig.KubeSchedulerProfile) *schedconfig.KubeSchedulerProfile {
	const dra = "DynamicResources"
	out := p.DeepCopy()
	if out.Plugins == nil {
		return out
	}
	for _, set := range []*schedconfig.PluginSet{&out.Plugins.PreEnqueue, &out.Plugins.QueueSort, &out.Plugins.PreFilter,
		&out.Plugins.Filter, &out.Plugins.PostFilter, &out.Plugins.PreScore, &out.Plugins.Score, &out.Plugins.Reserve,
		&out.Plugins.Permit, &out.Plugins.PreBind, &out.Plugins.Bind, &out.Plugins.PostBind, &out.Plugins.MultiPoint} {
		kept := set.Enabled[:0]
		for _, pl := range set.Enabled {
			if pl.Name != dra {
				kept = append(kept, pl)
			}
		}
		set.Enabled = kept
	}
	out.Plugins.MultiPoint.Disabled = append(out.Plugins.MultiPoint.Disabled, schedconfig.Plugin{Name: dra})
	return out
}

// observes reports whether an observer sharing o's learner is registered.
func (s *Simulator) observes(o PodObserver) bool {
	so, ok := o.(SharedObserver)
	if !ok {
		return false
	}
	for _, other := range s.observers {
		if x, ok := other.(SharedObserver); ok && x.ObserverKey() == so.ObserverKey() {
			return true
		}
	}
	return false
}

// NodeInfo returns the node info of name (read-only).
func (s *Simulator) NodeInfo(name string) (fwk.NodeInfo, bool) {
	ni, ok := s.snap.nodes[name]
	if !ok {
		return nil, false
	}
	return ni, true
}
