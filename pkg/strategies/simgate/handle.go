package simgate

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	"sigs.k8s.io/descheduler/pkg/descheduler/evictions"
	frameworktypes "sigs.k8s.io/descheduler/pkg/framework/types"

	"github.com/snug-sched/snug/pkg/simulator"
)

// GoalFor returns the goal a pod's move must serve.
type GoalFor func(pod *corev1.Pod) Goal

// Handle wraps a descheduler handle so that every eviction an upstream
// strategy asks for goes through the gate first: the strategy's own
// candidate selection runs unchanged, and only the evictions the simulation
// approves reach the API. A refusal is an error to the strategy, which then
// tries its next candidate without counting the pod as moved.
func (g *Gate) Handle(h frameworktypes.Handle, strategy string, goal GoalFor) frameworktypes.Handle {
	return &gatedHandle{Handle: h, ev: &gatedEvictor{inner: h.Evictor(), g: g, strategy: strategy, goal: goal}}
}

type gatedHandle struct {
	frameworktypes.Handle
	ev frameworktypes.Evictor
}

func (h *gatedHandle) Evictor() frameworktypes.Evictor { return h.ev }

type gatedEvictor struct {
	inner    frameworktypes.Evictor
	g        *Gate
	strategy string
	goal     GoalFor
}

func (e *gatedEvictor) Filter(p *corev1.Pod) bool            { return e.inner.Filter(p) }
func (e *gatedEvictor) PreEvictionFilter(p *corev1.Pod) bool { return e.inner.PreEvictionFilter(p) }

func (e *gatedEvictor) Evict(ctx context.Context, p *corev1.Pod, opts evictions.EvictOptions) error {
	var goal Goal
	if e.goal != nil {
		goal = e.goal(p)
	}
	return e.g.EvictVia(ctx, e.inner, p, e.strategy, opts, goal)
}

// EvictVia plans pod's move and, if approved, evicts it through ev (the
// descheduler's evictor: limits, PodDisruptionBudgets, events, metrics);
// a failed eviction undoes the move.
func (g *Gate) EvictVia(ctx context.Context, ev frameworktypes.Evictor, p *corev1.Pod, strategy string, opts evictions.EvictOptions, goal Goal) error {
	m, err := g.Plan(ctx, p, strategy, opts.Reason, goal)
	if err != nil {
		if IsRejected(err) {
			klog.FromContext(ctx).V(2).Info("Simulation gate refused an eviction", "pod", klog.KObj(p), "strategy", strategy, "reason", err.(*Rejected).Reason)
		}
		return err
	}
	if opts.StrategyName == "" {
		opts.StrategyName = strategy
	}
	if opts.Reason == "" {
		opts.Reason = fmt.Sprintf("snug %s: replacement predicted on %s", strategy, m.To)
	}
	if err := ev.Evict(ctx, p, opts); err != nil {
		g.Undo(ctx, m, err)
		return err
	}
	g.Evicted(m)
	return nil
}

// Recorder is an evictor that evicts nothing: it records what a strategy
// asks for and says yes, so a strategy's candidate list can be ranked or
// grouped before anything is evicted.
type Recorder struct {
	frameworktypes.Evictor
	Pods []*corev1.Pod
}

// Evict records p.
func (r *Recorder) Evict(_ context.Context, p *corev1.Pod, _ evictions.EvictOptions) error {
	r.Pods = append(r.Pods, p)
	return nil
}

// WithEvictor returns h with its evictor replaced.
func WithEvictor(h frameworktypes.Handle, ev frameworktypes.Evictor) frameworktypes.Handle {
	return &gatedHandle{Handle: h, ev: ev}
}

// Checkpoint is a point in a run to roll back to.
type Checkpoint struct {
	marks  map[string]simulator.Mark
	moves  int
	report int
	nodes  []*corev1.Node
}

// Checkpoint returns the current point of the run.
func (g *Gate) Checkpoint() Checkpoint {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.cur
	if r == nil {
		return Checkpoint{}
	}
	cp := Checkpoint{marks: map[string]simulator.Mark{}, moves: len(r.moves), report: len(r.report), nodes: append([]*corev1.Node(nil), r.nodes...)}
	for name, s := range r.sims {
		cp.marks[name] = s.Fork()
	}
	return cp
}

// Rollback undoes every move and node update since cp; the moves it undoes
// leave the plan (none of them was evicted).
func (g *Gate) Rollback(ctx context.Context, cp Checkpoint) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.cur
	if r == nil || cp.marks == nil {
		return
	}
	for name, s := range r.sims {
		mark, ok := cp.marks[name]
		if !ok {
			// Built after cp: rebuild on next use from the restored state.
			s.Close()
			delete(r.sims, name)
			continue
		}
		if err := s.Revert(mark); err != nil {
			klog.FromContext(ctx).Error(err, "Rolling back simulated moves")
		}
	}
	r.moves, r.report, r.nodes = r.moves[:cp.moves], r.report[:cp.report], cp.nodes
}

// UpdateNode replaces a node in the run's snapshot (e.g. a taint the run
// puts on it), in every simulator and in those built later.
func (g *Gate) UpdateNode(ctx context.Context, node *corev1.Node) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.cur
	if r == nil {
		return fmt.Errorf("simulation gate: UpdateNode outside a run")
	}
	nodes := append([]*corev1.Node(nil), r.nodes...)
	for i := range nodes {
		if nodes[i].Name == node.Name {
			nodes[i] = node
		}
	}
	r.nodes = nodes
	for _, s := range r.sims {
		if err := s.UpdateNode(node); err != nil {
			return err
		}
	}
	return nil
}

// Sim returns the run's simulator for a scheduler name (nil if no profile),
// for strategies that read the snapshot (node usage, pods on a node).
func (g *Gate) Sim(ctx context.Context, schedulerName string) (*simulator.Simulator, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cur == nil {
		return nil, fmt.Errorf("simulation gate: Sim outside a run")
	}
	return g.sim(ctx, g.cur, schedulerName)
}
