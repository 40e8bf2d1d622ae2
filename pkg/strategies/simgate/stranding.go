package simgate

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/snug-sched/snug/pkg/plugins/strandingawarepacking"
	"github.com/snug-sched/snug/pkg/stranding"
)

// strandingModel is the run's layout (cpu, memory, every extended resource
// a node has) and the shapes its pods run, learned as snug's scorer learns
// them.
type strandingModel struct {
	layout stranding.Layout
	// models judge each node against the shapes whose pods it accepts.
	models *strandingawarepacking.ShapeModels
}

func (r *run) model() *strandingModel {
	if r.stranding != nil {
		return r.stranding
	}
	m := &strandingModel{layout: stranding.NewLayout()}
	m.layout.Add(corev1.ResourceCPU, 1, false)
	m.layout.Add(corev1.ResourceMemory, 1, false)
	var extended []corev1.ResourceName
	for _, n := range r.nodes {
		for name := range n.Status.Allocatable {
			if name != corev1.ResourceCPU && name != corev1.ResourceMemory && name != corev1.ResourcePods &&
				name != corev1.ResourceEphemeralStorage && !isNative(name) {
				extended = append(extended, name)
			}
		}
	}
	m.layout.AddSorted(extended, 1, func(corev1.ResourceName) bool { return true })
	learner := strandingawarepacking.NewShapeLearner(strandingawarepacking.DefaultShapeSource)
	for _, p := range r.pods {
		learner.Observe(p, 1)
	}
	for _, p := range r.pending {
		learner.Observe(p, 1)
	}
	m.models = learner.Models(&m.layout, slices.Values(r.nodes))
	r.stranding = m
	return m
}

func isNative(name corev1.ResourceName) bool {
	s := string(name)
	return len(s) > 8 && s[:8] == "hugepage"
}

// share is the stranded share of a node's free capacity (stranding.StrandedShare).
func (m *strandingModel) share(ni fwk.NodeInfo) float64 {
	var alloc, used, none stranding.Vec
	a, u := ni.GetAllocatable(), ni.GetRequested()
	for i := 0; i < m.layout.N; i++ {
		switch name := m.layout.Names[i]; name {
		case corev1.ResourceCPU:
			alloc[i], used[i] = float64(a.GetMilliCPU()), float64(u.GetMilliCPU())
		case corev1.ResourceMemory:
			alloc[i], used[i] = float64(a.GetMemory()), float64(u.GetMemory())
		default:
			alloc[i], used[i] = float64(a.GetScalarResources()[name]), float64(u.GetScalarResources()[name])
		}
	}
	return stranding.StrandedShare(&m.layout, m.models.For(ni.Node()), &alloc, &used, &none)
}

// StrandingGain plans pod's move as Plan would, measures how much stranded
// capacity it removes (the stranded shares of the node it leaves and of its
// destination, before minus after; positive is better), and rolls the move
// back. ok is false if the gate would refuse the move.
func (g *Gate) StrandingGain(ctx context.Context, pod *corev1.Pod, strategy string, goal Goal) (gain float64, ok bool) {
	cp := g.Checkpoint()
	defer g.Rollback(ctx, cp)
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.cur
	if r == nil {
		return 0, false
	}
	s, err := g.sim(ctx, r, pod.Spec.SchedulerName)
	if err != nil || s == nil {
		return 0, false
	}
	cur, found := s.Pod(pod.Namespace, pod.Name)
	if !found {
		return 0, false
	}
	m := r.model()
	from, _ := s.NodeInfo(cur.Spec.NodeName)
	before := m.share(from)
	mv, err := g.plan(ctx, pod, strategy, "", goal)
	if err != nil {
		return 0, false
	}
	to, _ := s.NodeInfo(mv.To)
	after := m.share(from) + m.share(to)
	// The destination's share before the move: its share now, without the pod.
	if err := s.RemovePod(mustPod(s, pod)); err != nil {
		return 0, false
	}
	before += m.share(to)
	return before - after, true
}

func mustPod(s interface {
	Pod(ns, name string) (*corev1.Pod, bool)
}, p *corev1.Pod) *corev1.Pod {
	cur, _ := s.Pod(p.Namespace, p.Name)
	return cur
}
