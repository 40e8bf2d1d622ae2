// Package lownodeutilization is upstream's LowNodeUtilization, same name and
// args (thresholds and targetThresholds in percent of allocatable requests,
// useDeviationThresholds, numberOfNodes, metricsUtilization,
// evictableNamespaces, evictionLimits), plus one optional arg, made
// stranding-aware and gated by a simulation.
//
// Upstream classifies the nodes and picks its candidates from the
// overutilized ones (by real usage when metricsUtilization asks for it).
// With strandingAware (the default) nothing is evicted in that pass: the
// candidates are ranked by how much stranded capacity their move frees
// (pkg/stranding, on the node left and the destination), best first, and
// then each is evicted only if its replacement, placed by the pod's own
// scheduler profile, lands on another node that stays at or below
// targetThresholds by requests, as the scheduler counts. A refused
// candidate is not replaced by another, so a run evicts at most upstream's
// candidates.
package lownodeutilization

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	"sigs.k8s.io/descheduler/pkg/descheduler/evictions"
	"sigs.k8s.io/descheduler/pkg/framework/plugins/nodeutilization"
	frameworktypes "sigs.k8s.io/descheduler/pkg/framework/types"

	"github.com/snug-sched/snug/pkg/strategies/simgate"
)

// PluginName is upstream's name.
const PluginName = nodeutilization.LowNodeUtilizationPluginName

// Args are upstream's LowNodeUtilizationArgs and snug's optional fields.
type Args struct {
	nodeutilization.LowNodeUtilizationArgs `json:",inline"`

	// StrandingAware ranks upstream's candidates by the stranded capacity
	// their move frees before evicting any (default true); false evicts in
	// upstream's order.
	StrandingAware *bool `json:"strandingAware,omitempty"`
}

// DeepCopyObject implements runtime.Object.
func (a *Args) DeepCopyObject() runtime.Object {
	out := &Args{}
	a.LowNodeUtilizationArgs.DeepCopyInto(&out.LowNodeUtilizationArgs)
	if a.StrandingAware != nil {
		v := *a.StrandingAware
		out.StrandingAware = &v
	}
	return out
}

// SetDefaults applies upstream's defaults and strandingAware: true.
func SetDefaults(obj runtime.Object) {
	a := obj.(*Args)
	nodeutilization.SetDefaults_LowNodeUtilizationArgs(&a.LowNodeUtilizationArgs)
	if a.StrandingAware == nil {
		t := true
		a.StrandingAware = &t
	}
}

// Validate applies upstream's validation.
func Validate(obj runtime.Object) error {
	a, ok := obj.(*Args)
	if !ok {
		return fmt.Errorf("want args of type LowNodeUtilizationArgs, got %T", obj)
	}
	if err := nodeutilization.ValidateLowNodeUtilizationArgs(&a.LowNodeUtilizationArgs); err != nil {
		return fmt.Errorf("%s args: %w", PluginName, err)
	}
	return nil
}

// Plugin is LowNodeUtilization behind the simulation gate.
type Plugin struct {
	simgate.Base
	args   *Args
	gated  frameworktypes.BalancePlugin // upstream, evicting through the gate
	record frameworktypes.BalancePlugin // upstream, evicting into rec
	rec    *simgate.Recorder
	goal   simgate.Goal // this run's
}

// New builds two upstream instances: one that evicts through the gate, one
// that only lists its candidates.
func New(ctx context.Context, obj runtime.Object, h frameworktypes.Handle) (frameworktypes.Plugin, error) {
	a, ok := obj.(*Args)
	if !ok {
		return nil, fmt.Errorf("want args of type LowNodeUtilizationArgs, got %T", obj)
	}
	g, err := simgate.Build(h)
	if err != nil {
		return nil, err
	}
	p := &Plugin{Base: simgate.Base{PluginName: PluginName, Gate: g, Handle: h}, args: a, rec: &simgate.Recorder{Evictor: h.Evictor()}}
	gated, err := nodeutilization.NewLowNodeUtilization(ctx, &a.LowNodeUtilizationArgs, g.Handle(h, PluginName, func(*corev1.Pod) simgate.Goal { return p.goal }))
	if err != nil {
		return nil, err
	}
	record, err := nodeutilization.NewLowNodeUtilization(ctx, &a.LowNodeUtilizationArgs, simgate.WithEvictor(h, p.rec))
	if err != nil {
		return nil, err
	}
	p.gated, p.record = gated.(frameworktypes.BalancePlugin), record.(frameworktypes.BalancePlugin)
	return p, nil
}

// Balance moves pods off overutilized nodes.
func (p *Plugin) Balance(ctx context.Context, nodes []*corev1.Node) *frameworktypes.Status {
	if st := p.Begin(ctx, "Balance"); st != nil {
		return st
	}
	goal, err := p.targets(ctx, nodes)
	if err != nil {
		return &frameworktypes.Status{Err: err}
	}
	p.goal = goal
	if p.args.StrandingAware != nil && !*p.args.StrandingAware {
		return p.gated.Balance(ctx, nodes)
	}
	p.rec.Pods = nil
	if st := p.record.Balance(ctx, nodes); st != nil && st.Err != nil {
		return st
	}
	type ranked struct {
		pod  *corev1.Pod
		gain float64
	}
	var cands []ranked
	for _, pod := range p.rec.Pods {
		if gain, ok := p.Gate.StrandingGain(ctx, pod, PluginName, goal); ok {
			cands = append(cands, ranked{pod, gain})
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].gain > cands[j].gain })
	logger := klog.FromContext(ctx)
	for _, c := range cands {
		err := p.Gate.EvictVia(ctx, p.Handle.Evictor(), c.pod, PluginName, evictions.EvictOptions{StrategyName: PluginName,
			Reason: fmt.Sprintf("node overutilized; move frees %.3f of stranded capacity", c.gain)}, goal)
		switch err.(type) {
		case nil:
		case *evictions.EvictionTotalLimitError:
			return nil
		default:
			logger.V(2).Info("Not evicted", "pod", klog.KObj(c.pod), "err", err)
		}
	}
	return nil
}

// targets is the run's goal: a destination stays at or below
// targetThresholds (with useDeviationThresholds, the mean usage of nodes
// plus targetThresholds), by requests.
func (p *Plugin) targets(ctx context.Context, nodes []*corev1.Node) (simgate.Goal, error) {
	target := map[corev1.ResourceName]float64{}
	for name, v := range p.args.TargetThresholds {
		target[name] = float64(v)
	}
	if p.args.UseDeviationThresholds {
		sim, err := p.Gate.Sim(ctx, corev1.DefaultSchedulerName)
		if err != nil {
			return nil, err
		}
		if sim == nil || len(nodes) == 0 {
			return nil, fmt.Errorf("no default-scheduler profile to compute the mean usage")
		}
		mean := map[corev1.ResourceName]float64{}
		for _, n := range nodes {
			if ni, ok := sim.NodeInfo(n.Name); ok {
				for name, u := range simgate.Usage(ni, nil) {
					mean[name] += u / float64(len(nodes))
				}
			}
		}
		for name := range target {
			target[name] += mean[name]
		}
	}
	return simgate.StaysBelow(target), nil
}
