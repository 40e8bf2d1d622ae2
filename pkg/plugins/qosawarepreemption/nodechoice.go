package qosawarepreemption

import (
	"context"
	"math"

	corev1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"
	v1helper "k8s.io/kubernetes/pkg/apis/core/v1/helper"
	"k8s.io/kubernetes/pkg/scheduler/util"

	"github.com/snug-sched/snug/pkg/plugins/strandingawarepacking"
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
	for name := range ni.Node().Status.Allocatable {
		if v1helper.IsExtendedResourceName(name) {
			l.Add(name, 1, false)
		}
	}
	a, used := strandingawarepacking.NodeVectors(&l, ni)
	vec := func(pod *corev1.Pod) stranding.Vec {
		list := resourcemodel.Requests(pod)
		var v stranding.Vec
		for i := 0; i < l.N; i++ {
			v[i] = float64(resourcemodel.Value(l.Names[i], list))
		}
		if l.PodsDim >= 0 {
			v[l.PodsDim] = 1
		}
		return v
	}
	for _, v := range victims {
		vv := vec(v)
		for i := 0; i < l.N; i++ {
			used[i] -= vv[i]
		}
	}
	pod := vec(preemptor)
	shapes := pl.shapes.Model(&l)
	return stranding.StrandedShare(&l, &shapes, &a, &used, &pod)
}
