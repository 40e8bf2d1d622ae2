package strandingawarepacking

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"
	v1helper "k8s.io/kubernetes/pkg/apis/core/v1/helper"

	"github.com/snug-sched/snug/pkg/resourcemodel"
	"github.com/snug-sched/snug/pkg/stranding"
)

const stateKey fwk.StateKey = Name + "/prescore"

// preScoreState is everything Score needs, computed once per cycle.
type preScoreState struct {
	layout stranding.Layout
	shapes stranding.Shapes
	pod    stranding.Vec
	// scalar lists the layout dimensions read from NodeInfo scalar resources.
	scalar []int
	spread spreadState
}

// Clone is shallow: the state is read-only after PreScore.
func (s *preScoreState) Clone() fwk.StateData { return s }

// PreScore builds the cycle's layout: the configured resources, then every
// extended resource the pod requests, a feasible node exposes or a shape
// asks for.
func (pl *Plugin) PreScore(ctx context.Context, cs fwk.CycleState, pod *corev1.Pod, nodes []fwk.NodeInfo) *fwk.Status {
	s := &preScoreState{layout: stranding.NewLayout()}
	pl.buildLayout(s, pod, nodes)
	if err := pl.buildSpread(&s.spread, pod, nodes); err != nil {
		return fwk.AsStatus(err)
	}
	cs.Write(stateKey, s)
	return nil
}

func (pl *Plugin) buildLayout(s *preScoreState, pod *corev1.Pod, nodes []fwk.NodeInfo) {
	scarce := map[corev1.ResourceName]bool{}
	for _, n := range pl.args.ScarceResources.Names {
		scarce[n] = true
	}
	isScarce := func(n corev1.ResourceName) bool {
		return scarce[n] || (pl.args.ScarceResources.ExtendedResources && v1helper.IsExtendedResourceName(n))
	}
	l := &s.layout
	for _, r := range pl.args.Resources {
		l.Add(r.Name, float64(r.Weight), isScarce(r.Name))
	}
	addExtended := func(n corev1.ResourceName) {
		if l.Index(n) < 0 && (v1helper.IsExtendedResourceName(n) || scarce[n]) {
			l.Add(n, float64(pl.args.ExtendedResourceWeight), isScarce(n))
		}
	}
	requests := resourcemodel.Requests(pod)
	for n := range requests {
		addExtended(n)
	}
	for _, ni := range nodes {
		for n := range ni.GetAllocatable().GetScalarResources() {
			addExtended(n)
		}
	}
	shapes := pl.shapes.Snapshot()
	for _, sh := range shapes {
		for _, q := range sh {
			addExtended(q.Name)
		}
	}
	for i := 0; i < l.N; i++ {
		switch l.Names[i] {
		case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage, corev1.ResourcePods:
		default:
			s.scalar = append(s.scalar, i)
		}
		s.pod[i] = float64(resourcemodel.Value(l.Names[i], requests))
	}
	if l.PodsDim >= 0 {
		s.pod[l.PodsDim] = 1
	}
	for _, sh := range shapes {
		var v stranding.Vec
		for _, q := range sh {
			if i := l.Index(q.Name); i >= 0 {
				v[i] = float64(q.Value)
			}
		}
		s.shapes.Add(l, v)
	}
}

// nodeVectors fills allocatable and requested vectors of a node. It
// allocates nothing: scalar resources are read by map lookup.
func (s *preScoreState) nodeVectors(ni fwk.NodeInfo, alloc, used *stranding.Vec) {
	a, u := ni.GetAllocatable(), ni.GetRequested()
	l := &s.layout
	for i := 0; i < l.N; i++ {
		switch l.Names[i] {
		case corev1.ResourceCPU:
			alloc[i], used[i] = float64(a.GetMilliCPU()), float64(u.GetMilliCPU())
		case corev1.ResourceMemory:
			alloc[i], used[i] = float64(a.GetMemory()), float64(u.GetMemory())
		case corev1.ResourceEphemeralStorage:
			alloc[i], used[i] = float64(a.GetEphemeralStorage()), float64(u.GetEphemeralStorage())
		case corev1.ResourcePods:
			alloc[i], used[i] = float64(a.GetAllowedPodNumber()), float64(len(ni.GetPods()))
		}
	}
	as, us := a.GetScalarResources(), u.GetScalarResources()
	for _, i := range s.scalar {
		alloc[i], used[i] = float64(as[l.Names[i]]), float64(us[l.Names[i]])
	}
}
