package qosawarepreemption

import (
	"context"
	"math"

	corev1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"
	fwk "k8s.io/kube-scheduler/framework"
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
	var judge *strandingJudge
	if call, ok := ctx.Value(callKey{}).(*preemptionCall); ok {
		judge = pl.newStrandingJudge(call.preemptor)
	}
	return []func(string) int64{
		func(n string) int64 { return -nodesToVictims[n].NumPDBViolations },
		func(n string) int64 { return -int64(corev1helpers.PodPriority(nodesToVictims[n].Pods[0])) },
		func(n string) int64 { return -qosCost(nodesToVictims[n].Pods) },
		func(n string) int64 { return -int64(len(nodesToVictims[n].Pods)) },
		func(n string) int64 {
			if judge == nil {
				return 0
			}
			return -int64(math.Round(1e6 * judge.strandedAfter(n, nodesToVictims[n].Pods)))
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
	return pl.newStrandingJudge(preemptor).strandedAfter(node, victims)
}

// strandingJudge computes strandedAfter for the candidate nodes of one
// preemption, which can be hundreds: the preemptor's requests are computed
// once, and the shape model once per run of nodes with the same layout
// (most nodes of a cluster share one).
type strandingJudge struct {
	pl        *Plugin
	preemptor corev1.ResourceList
	layout    stranding.Layout
	shapes    *stranding.Shapes // model of layout; nil until the first node
}

func (pl *Plugin) newStrandingJudge(preemptor *corev1.Pod) *strandingJudge {
	return &strandingJudge{pl: pl, preemptor: resourcemodel.Requests(preemptor)}
}

func (j *strandingJudge) strandedAfter(node string, victims []*corev1.Pod) float64 {
	ni, err := j.pl.fh.SnapshotSharedLister().NodeInfos().Get(node)
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
	for _, v := range victims {
		vv := j.victimVector(&l, ni, v)
		for i := 0; i < l.N; i++ {
			used[i] -= vv[i]
		}
	}
	pod := strandingawarepacking.RequestVector(&l, j.preemptor)
	if j.shapes == nil || j.layout != l {
		m := j.pl.shapes.Model(&l)
		j.layout, j.shapes = l, &m
	}
	return stranding.StrandedShare(&l, j.shapes, &a, &used, &pod)
}

// victimVector is what the victim was charged on the node: its PodInfo's
// cached requests, or its requests recomputed if it is not on the node.
func (j *strandingJudge) victimVector(l *stranding.Layout, ni fwk.NodeInfo, victim *corev1.Pod) stranding.Vec {
	for _, pi := range ni.GetPods() {
		if p := pi.GetPod(); p == victim || p.UID == victim.UID {
			return strandingawarepacking.PodVector(l, pi)
		}
	}
	return strandingawarepacking.RequestVector(l, resourcemodel.Requests(victim))
}
