package simulator

import (
	"context"
	"math"

	corev1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/preemption"

	"github.com/snug-sched/snug/pkg/plugins/qosawarepreemption"
)

// preempt dry-runs the profile's preemption plugin on every node (in name
// order), picks a node with the plugin's own ordering (upstream's default
// order when it has none) and evicts the victims from the snapshot. PDBs
// are not modelled: the simulator has none.
func (s *Simulator) preempt(ctx context.Context, state fwk.CycleState, pod *corev1.Pod, d framework.Diagnosis) (string, []*corev1.Pod, error) {
	pi := s.preemptor
	if ok, _ := pi.PodEligibleToPreemptOthers(ctx, pod, nil); !ok {
		return "", nil, nil
	}
	ctx = qosawarepreemption.ContextWithPreemptor(ctx, pod)
	victims := map[string]*extenderv1.Victims{}
	var names []string
	for _, ni := range s.snap.list {
		name := ni.Node().Name
		if d.NodeToStatus.Get(name).Code() == fwk.UnschedulableAndUnresolvable {
			continue
		}
		v, violations, st := pi.SelectVictimsOnNode(ctx, state.Clone(), pod, ni.Snapshot(), nil)
		if st.IsSuccess() && len(v) > 0 {
			victims[name] = &extenderv1.Victims{Pods: v, NumPDBViolations: int64(violations)}
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return "", nil, nil
	}
	funcs := pi.OrderedScoreFuncs(ctx, victims)
	if len(funcs) == 0 {
		funcs = defaultOrder(victims)
	}
	for _, f := range funcs {
		best, bestScore := names[:0:0], int64(math.MinInt64)
		for _, n := range names {
			switch sc := f(n); {
			case sc > bestScore:
				best, bestScore = []string{n}, sc
			case sc == bestScore:
				best = append(best, n)
			}
		}
		names = best
		if len(names) == 1 {
			break
		}
	}
	node := names[0]
	for _, v := range victims[node].Pods {
		if err := s.RemovePod(v); err != nil {
			return "", nil, err
		}
	}
	return node, victims[node].Pods, nil
}

// defaultOrder is upstream's node order for preemption without plugin
// preferences: fewest PDB violations, lowest highest priority, lowest sum
// of priorities, fewest victims.
func defaultOrder(m map[string]*extenderv1.Victims) []func(string) int64 {
	return []func(string) int64{
		func(n string) int64 { return -m[n].NumPDBViolations },
		func(n string) int64 { return -int64(corev1helpers.PodPriority(m[n].Pods[0])) },
		func(n string) int64 {
			var sum int64
			for _, p := range m[n].Pods {
				sum += int64(corev1helpers.PodPriority(p)) + math.MaxInt32 + 1
			}
			return -sum
		},
		func(n string) int64 { return -int64(len(m[n].Pods)) },
	}
}

var _ preemption.Interface = (*qosawarepreemption.Plugin)(nil)
