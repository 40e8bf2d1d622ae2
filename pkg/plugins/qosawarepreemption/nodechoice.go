package qosawarepreemption

import (
	"context"
	"math"

	corev1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"
	v1helper "k8s.io/kubernetes/pkg/apis/core/v1/helper"
	"k8s.io/kubernetes/pkg/scheduler/util"

	"github.com/snug-sched/snug/pkg/resourcemodel"
	"github.com/snug-sched/snug/pkg/stranding"
)

// OrderedScoreFuncs ranks candidate nodes lexicographically (higher is
// better): fewest PDB violations, lowest highest-victim priority, lowest
// victim QoS, fewest victims, least stranded capacity once the preemptor is
// placed, latest start time of the highest-priority victims.
func (pl *Plugin) OrderedScoreFuncs(ctx context.Context, nodesToVictims map[string]*extenderv1.Victims) []func(node string) int64 {
	call, _ := ctx.Value(callKey{}).(*preemptionCall)
	return []func(string) int64{
		func(n string) int64 { return -nodesToVictims[n].NumPDBViolations },
		func(n string) int64 { return -int64(corev1helpers.PodPriority(nodesToVictims[n].Pods[0])) },
		func(n string) int64 { return -qosCost(nodesToVictims[n].Pods) },
		func(n string) int64 { return -int64(len(nodesToVictims[n].Pods)) },
		func(n string) int64 {
			if call == nil {
				return 0
			}
			return -int64(math.Round(1e6 * pl.strandedAfter(n, nodesToVictims[n].Pods, call.preemptor)))
		},
		func(n string) int64 {
			if t := util.GetEarliestPodStartTime(nodesToVictims[n]); t != nil {
				return t.UnixNano()
			}
			return math.MinInt64
		},
	}
}

// qosCost weighs victims so that one Guaranteed victim costs more than any
// realistic number of Burstable ones, and one Burstable more than BestEfforts.
func qosCost(victims []*corev1.Pod) int64 {
	var c int64
	for _, p := range victims {
		c += []int64{1, 1_000, 1_000_000}[qosRank(p)]
	}
	return c
}

// strandedAfter is the stranding share S (pkg/stranding) of node once the
// victims are gone and the preemptor runs there, judged against the pod
// shapes the cluster runs.
func (pl *Plugin) strandedAfter(node string, victims []*corev1.Pod, preemptor *corev1.Pod) float64 {
	ni, err := pl.fh.SnapshotSharedLister().NodeInfos().Get(node)
	if err != nil || ni.Node() == nil {
		return 1
	}
	l := stranding.NewLayout()
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage, corev1.ResourcePods} {
		l.Add(r, 1, false)
	}
	alloc := ni.Node().Status.Allocatable
	for name := range alloc {
		if v1helper.IsExtendedResourceName(name) {
			l.Add(name, 1, false)
		}
	}
	vec := func(list corev1.ResourceList) stranding.Vec {
		var v stranding.Vec
		for i := 0; i < l.N; i++ {
			v[i] = float64(resourcemodel.Value(l.Names[i], list))
		}
		return v
	}
	var a, used, pod stranding.Vec
	a = vec(alloc)
	req := ni.GetRequested()
	for i := 0; i < l.N; i++ {
		switch l.Names[i] {
		case corev1.ResourceCPU:
			used[i] = float64(req.GetMilliCPU())
		case corev1.ResourceMemory:
			used[i] = float64(req.GetMemory())
		case corev1.ResourceEphemeralStorage:
			used[i] = float64(req.GetEphemeralStorage())
		case corev1.ResourcePods:
			used[i] = float64(len(ni.GetPods()))
		default:
			used[i] = float64(req.GetScalarResources()[l.Names[i]])
		}
	}
	for _, v := range victims {
		vv := vec(resourcemodel.Requests(v))
		for i := 0; i < l.N; i++ {
			used[i] -= vv[i]
		}
		if l.PodsDim >= 0 {
			used[l.PodsDim]--
		}
	}
	pod = vec(resourcemodel.Requests(preemptor))
	if l.PodsDim >= 0 {
		pod[l.PodsDim] = 1
	}
	var shapes stranding.Shapes
	for _, sh := range pl.shapes.Snapshot() {
		var v stranding.Vec
		for _, q := range sh {
			if i := l.Index(q.Name); i >= 0 {
				v[i] = float64(q.Value)
			}
		}
		shapes.Add(&l, v)
	}
	return stranding.Evaluate(&l, &shapes, stranding.Weights{Stranding: 1}, &a, &used, &pod).Stranding
}
