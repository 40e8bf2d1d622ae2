// Package highnodeutilization is upstream's HighNodeUtilization, same name
// and args (thresholds, numberOfNodes, evictionModes, evictableNamespaces),
// plus one optional arg, turned into a real compaction: it empties
// underutilized nodes whole, so that a cluster autoscaler can remove them
// (Kubernetes Patterns' scale-down simulation), or leaves them alone.
//
// Upstream picks the underutilized nodes and their order. The run taints
// every one of them (emptiedNodeTaint, NoSchedule) before the first
// eviction, in the simulation and in the cluster, then takes them in
// upstream's order: every pod on the node but DaemonSet and mirror pods is
// moved, each with its own scheduler profile, to a node not being emptied.
// If one pod cannot be evicted (the evictor's filters, an excluded
// namespace, a PodDisruptionBudget) or would not fit elsewhere, the node's
// planned moves are undone and its taint removed at once, and it is a
// destination like any other from then on: half an emptied node saves
// nothing.
//
// The taint is what makes the compaction stick with both schedulers: snug's
// scorer spreads across zones before it packs, and the default profile's
// NodeResourcesFit prefers the least allocated node, so either would send a
// replacement straight back to the node being emptied, and the default
// scheduler would refill it with new pods. Like the cluster autoscaler's
// ToBeDeletedByClusterAutoscaler taint, it stays after the run; a later run
// removes it once it is older than its ttl, so a cluster without an
// autoscaler gets the node back.
package highnodeutilization

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/klog/v2"
	"sigs.k8s.io/descheduler/pkg/descheduler/evictions"
	"sigs.k8s.io/descheduler/pkg/framework/plugins/nodeutilization"
	frameworktypes "sigs.k8s.io/descheduler/pkg/framework/types"

	"github.com/snug-sched/snug/pkg/strategies/simgate"
)

// PluginName is upstream's name.
const PluginName = nodeutilization.HighNodeUtilizationPluginName

// DefaultTaintKey marks nodes a run empties; its value is the Unix time the
// run tainted the node.
const DefaultTaintKey = "snug.io/emptied"

// Args are upstream's HighNodeUtilizationArgs and snug's optional fields.
type Args struct {
	nodeutilization.HighNodeUtilizationArgs `json:",inline"`

	// EmptiedNodeTaint keeps both schedulers off nodes being emptied.
	EmptiedNodeTaint *TaintArgs `json:"emptiedNodeTaint,omitempty"`
}

// TaintArgs configure the taint on emptied nodes.
type TaintArgs struct {
	// Key of the taint (default snug.io/emptied); effect is NoSchedule.
	Key string `json:"key,omitempty"`
	// TTL after which a later run removes the taint (default 10m, the
	// cluster autoscaler's scale-down-unneeded-time); 0 keeps it for ever.
	TTL *metav1.Duration `json:"ttl,omitempty"`
}

// DeepCopyObject implements runtime.Object.
func (a *Args) DeepCopyObject() runtime.Object {
	out := &Args{}
	a.HighNodeUtilizationArgs.DeepCopyInto(&out.HighNodeUtilizationArgs)
	if a.EmptiedNodeTaint != nil {
		t := *a.EmptiedNodeTaint
		if t.TTL != nil {
			d := *t.TTL
			t.TTL = &d
		}
		out.EmptiedNodeTaint = &t
	}
	return out
}

// SetDefaults applies upstream's defaults and the taint's.
func SetDefaults(obj runtime.Object) {
	a := obj.(*Args)
	nodeutilization.SetDefaults_HighNodeUtilizationArgs(&a.HighNodeUtilizationArgs)
	if a.EmptiedNodeTaint == nil {
		a.EmptiedNodeTaint = &TaintArgs{}
	}
	if a.EmptiedNodeTaint.Key == "" {
		a.EmptiedNodeTaint.Key = DefaultTaintKey
	}
	if a.EmptiedNodeTaint.TTL == nil {
		a.EmptiedNodeTaint.TTL = &metav1.Duration{Duration: 10 * time.Minute}
	}
}

// Validate applies upstream's validation and checks the taint.
func Validate(obj runtime.Object) error {
	a, ok := obj.(*Args)
	if !ok {
		return fmt.Errorf("want args of type HighNodeUtilizationArgs, got %T", obj)
	}
	if err := nodeutilization.ValidateHighNodeUtilizationArgs(&a.HighNodeUtilizationArgs); err != nil {
		return fmt.Errorf("%s args: %w", PluginName, err)
	}
	var errs field.ErrorList
	if t := a.EmptiedNodeTaint; t != nil {
		p := field.NewPath("emptiedNodeTaint")
		if t.Key != "" {
			for _, msg := range validation.IsQualifiedName(t.Key) {
				errs = append(errs, field.Invalid(p.Child("key"), t.Key, msg))
			}
		}
		if t.TTL != nil && t.TTL.Duration < 0 {
			errs = append(errs, field.Invalid(p.Child("ttl"), t.TTL.Duration.String(), "must not be negative"))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s args: %w", PluginName, errs.ToAggregate())
	}
	return nil
}

// Plugin is HighNodeUtilization as an all-or-nothing compaction.
type Plugin struct {
	simgate.Base
	args   *Args
	record frameworktypes.BalancePlugin // upstream, evicting into rec
	rec    *simgate.Recorder
	now    func() time.Time
}

// New builds upstream's plugin on a recording evictor: it only chooses the
// nodes.
func New(ctx context.Context, obj runtime.Object, h frameworktypes.Handle) (frameworktypes.Plugin, error) {
	a, ok := obj.(*Args)
	if !ok {
		return nil, fmt.Errorf("want args of type HighNodeUtilizationArgs, got %T", obj)
	}
	g, err := simgate.Build(h)
	if err != nil {
		return nil, err
	}
	p := &Plugin{Base: simgate.Base{PluginName: PluginName, Gate: g, Handle: h}, args: a, rec: &simgate.Recorder{Evictor: h.Evictor()}, now: time.Now}
	record, err := nodeutilization.NewHighNodeUtilization(ctx, &a.HighNodeUtilizationArgs, simgate.WithEvictor(h, p.rec))
	if err != nil {
		return nil, err
	}
	p.record = record.(frameworktypes.BalancePlugin)
	return p, nil
}

// Balance empties the underutilized nodes that can be emptied.
func (p *Plugin) Balance(ctx context.Context, nodes []*corev1.Node) *frameworktypes.Status {
	if st := p.Begin(ctx, "Balance"); st != nil {
		return st
	}
	logger := klog.FromContext(ctx).WithValues("plugin", PluginName)
	p.expireTaints(ctx, nodes)
	p.rec.Pods = nil
	if st := p.record.Balance(ctx, nodes); st != nil && st.Err != nil {
		return st
	}
	var order []string
	seen := map[string]bool{}
	for _, pod := range p.rec.Pods {
		if !seen[pod.Spec.NodeName] {
			seen[pod.Spec.NodeName] = true
			order = append(order, pod.Spec.NodeName)
		}
	}
	byName := map[string]*corev1.Node{}
	for _, n := range nodes {
		byName[n.Name] = n
	}
	// Every node upstream chose is tainted before the first eviction, in
	// the snapshot and in the cluster: the default profile prefers the least
	// allocated nodes, which are the ones emptied next, so a replacement
	// scheduled while any of them is open would land there and have to move
	// again. A node that cannot be emptied is released (untainted) at once
	// and is a destination like any other from then on.
	emptying := map[string]*corev1.Node{} // as last written
	for _, name := range order {
		node := byName[name]
		if node == nil {
			continue
		}
		tainted, err := p.setTaint(ctx, node, true)
		if err != nil {
			logger.Error(err, "Tainting a node to empty; leaving it alone", "node", name)
			continue
		}
		emptying[name] = tainted
	}
	// The taint keeps pods that do not tolerate it off every node being
	// emptied; the goal also refuses those that do.
	goal := simgate.NotOnto(emptying)
	for i, name := range order {
		node, ok := emptying[name]
		if !ok {
			continue
		}
		done, err := p.empty(ctx, node, goal)
		if done {
			logger.V(1).Info("Node emptied", "node", name)
			continue
		}
		p.release(ctx, emptying, name)
		if _, total := err.(*evictions.EvictionTotalLimitError); total {
			for _, rest := range order[i+1:] {
				p.release(ctx, emptying, rest)
			}
			return nil
		}
		if err != nil {
			logger.V(1).Info("Node not emptied", "node", name, "reason", err.Error())
		}
	}
	return nil
}

// release takes the run's taint off a node it does not empty.
func (p *Plugin) release(ctx context.Context, emptying map[string]*corev1.Node, name string) {
	node, ok := emptying[name]
	if !ok {
		return
	}
	delete(emptying, name)
	if _, err := p.setTaint(ctx, node, false); err != nil {
		klog.FromContext(ctx).Error(err, "Removing the emptied-node taint from a node not emptied", "node", name)
	}
}

// setTaint adds or removes the run's taint on node, in the cluster (unless
// dry run) and in the snapshot, and returns the node as written.
func (p *Plugin) setTaint(ctx context.Context, node *corev1.Node, on bool) (*corev1.Node, error) {
	out := withoutTaint(node, p.args.EmptiedNodeTaint.Key)
	if on {
		out.Spec.Taints = append(out.Spec.Taints, p.taint())
	}
	if !p.Gate.DryRun() {
		live, err := p.patchTaints(ctx, node, out.Spec.Taints)
		if err != nil {
			return nil, err
		}
		out = live
	}
	return out, p.Gate.UpdateNode(ctx, out)
}

// empty plans moving every pod off node (already tainted) and, if all fit
// where goal allows (nodes not being emptied), evicts them. done is false, with the reason,
// when the node is not (wholly) emptied; planned moves are then undone.
func (p *Plugin) empty(ctx context.Context, node *corev1.Node, goal simgate.Goal) (done bool, err error) {
	pods, err := p.Handle.GetPodsAssignedToNodeFunc()(node.Name, func(*corev1.Pod) bool { return true })
	if err != nil {
		return false, err
	}
	ev := p.Handle.Evictor()
	excluded := map[string]bool{}
	if ns := p.args.EvictableNamespaces; ns != nil {
		for _, n := range ns.Exclude {
			excluded[n] = true
		}
	}
	var movable []*corev1.Pod
	for _, pod := range pods {
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed || staysOnNode(pod) {
			continue
		}
		if excluded[pod.Namespace] || !ev.Filter(pod) || !ev.PreEvictionFilter(pod) {
			return false, fmt.Errorf("pod %s/%s cannot be evicted", pod.Namespace, pod.Name)
		}
		movable = append(movable, pod)
	}
	if len(movable) == 0 {
		return false, nil
	}
	cp := p.Gate.Checkpoint()
	moves := make([]*simgate.Move, len(movable))
	for i, pod := range movable {
		m, err := p.Gate.Plan(ctx, pod, PluginName, "emptying underutilized node "+node.Name, goal)
		if err != nil {
			p.Gate.Rollback(ctx, cp)
			return false, err
		}
		moves[i] = m
	}
	for i, pod := range movable {
		err := ev.Evict(ctx, pod, evictions.EvictOptions{StrategyName: PluginName, Reason: "emptying underutilized node; replacement predicted on " + moves[i].To})
		if err != nil {
			p.Gate.Undo(ctx, moves[i], err)
			return false, err
		}
		p.Gate.Evicted(moves[i])
	}
	return true, nil
}

// staysOnNode: pods a node drain leaves (the autoscaler ignores them too).
func staysOnNode(p *corev1.Pod) bool {
	if _, mirror := p.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return true
	}
	o := metav1.GetControllerOf(p)
	return o != nil && o.Kind == "DaemonSet"
}

func (p *Plugin) taint() corev1.Taint {
	return corev1.Taint{Key: p.args.EmptiedNodeTaint.Key, Value: strconv.FormatInt(p.now().Unix(), 10), Effect: corev1.TaintEffectNoSchedule}
}

func withoutTaint(n *corev1.Node, key string) *corev1.Node {
	out := n.DeepCopy()
	out.Spec.Taints = nil
	for _, x := range n.Spec.Taints {
		if x.Key != key {
			out.Spec.Taints = append(out.Spec.Taints, x)
		}
	}
	return out
}

// expireTaints removes the run's taint from nodes that carry it longer than
// its ttl.
func (p *Plugin) expireTaints(ctx context.Context, nodes []*corev1.Node) {
	ttl := p.args.EmptiedNodeTaint.TTL.Duration
	if ttl == 0 {
		return
	}
	for _, n := range nodes {
		var kept []corev1.Taint
		expired := false
		for _, t := range n.Spec.Taints {
			if t.Key == p.args.EmptiedNodeTaint.Key {
				if at, err := strconv.ParseInt(t.Value, 10, 64); err != nil || p.now().Sub(time.Unix(at, 0)) >= ttl {
					expired = true
					continue
				}
			}
			kept = append(kept, t)
		}
		if !expired {
			continue
		}
		untainted := n.DeepCopy()
		untainted.Spec.Taints = kept
		if !p.Gate.DryRun() {
			if _, err := p.patchTaints(ctx, n, kept); err != nil {
				klog.FromContext(ctx).Error(err, "Removing an expired emptied-node taint", "node", n.Name)
				continue
			}
		}
		if err := p.Gate.UpdateNode(ctx, untainted); err != nil {
			klog.FromContext(ctx).Error(err, "Updating the snapshot", "node", n.Name)
		}
	}
}

// patchTaints replaces the node's taints, guarded by the resourceVersion it
// was read at, so a concurrent change (the autoscaler's own taint) is never
// overwritten, and returns the node as written. Patch needs only the nodes
// "patch" verb.
func (p *Plugin) patchTaints(ctx context.Context, n *corev1.Node, taints []corev1.Taint) (*corev1.Node, error) {
	if taints == nil {
		taints = []corev1.Taint{}
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"resourceVersion": n.ResourceVersion},
		"spec":     map[string]any{"taints": taints},
	})
	if err != nil {
		return nil, err
	}
	return p.Handle.ClientSet().CoreV1().Nodes().Patch(ctx, n.Name, types.MergePatchType, patch, metav1.PatchOptions{})
}
