package qosawarepreemption

import (
	"context"
	"math"

	corev1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/util"

	"github.com/snug-sched/snug/pkg/plugins/strandingawarepacking"
	"github.com/snug-sched/snug/pkg/resourcemodel"
	"github.com/snug-sched/snug/pkg/stranding"
)

// OrderedScoreFuncs ranks candidate nodes lexicographically (higher is
// better). The first five criteria are upstream's pickOneNodeForPreemption,
// in its order: fewest PDB violations, lowest highest-victim priority,
// smallest sum of victim priorities, fewest victims; snug's two come where
// upstream would tie: the victims' QoS (fewest Guaranteed, then fewest
// Burstable) and the least stranded capacity once the preemptor is placed;
// upstream's last, the latest start time of the highest-priority victims,
// breaks the remaining ties.
func (pl *Plugin) OrderedScoreFuncs(ctx context.Context, nodesToVictims map[string]*extenderv1.Victims) []func(node string) int64 {
	var judge *strandingJudge
	if call, ok := ctx.Value(callKey{}).(*preemptionCall); ok {
		judge = pl.newStrandingJudge(call.preemptor, call)
	}
	return []func(string) int64{
		func(n string) int64 { return -nodesToVictims[n].NumPDBViolations },
		func(n string) int64 { return -int64(corev1helpers.PodPriority(nodesToVictims[n].Pods[0])) },
		func(n string) int64 { return -sumPriorities(nodesToVictims[n].Pods) },
		func(n string) int64 { return -int64(len(nodesToVictims[n].Pods)) },
		func(n string) int64 { return -qosCost(nodesToVictims[n].Pods) },
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

// sumPriorities is upstream's: each victim's priority plus MaxInt32+1, so
// that every victim adds a positive amount and a node with fewer victims of
// a negative priority is not beaten by one with more.
func sumPriorities(victims []*corev1.Pod) int64 {
	var s int64
	for _, p := range victims {
		s += int64(corev1helpers.PodPriority(p)) + int64(math.MaxInt32+1)
	}
	return s
}

// qosCost orders victim lists of the same length (it comes after the
// victim count) by their Guaranteed victims, then their Burstable ones:
// exact for up to 2^31 victims.
func qosCost(victims []*corev1.Pod) int64 {
	var guaranteed, burstable int64
	for _, p := range victims {
		switch qosRank(p) {
		case 2:
			guaranteed++
		case 1:
			burstable++
		}
	}
	return guaranteed<<32 | burstable
}

// strandedAfter is the stranding share S (pkg/stranding) of node once the
// victims are gone and the preemptor runs there, judged against the pod
// shapes the cluster runs.
func (pl *Plugin) strandedAfter(node string, victims []*corev1.Pod, preemptor *corev1.Pod) float64 {
	return pl.newStrandingJudge(preemptor, nil).strandedAfter(node, victims)
}

// strandingJudge computes strandedAfter for the candidate nodes of one
// preemption, which can be hundreds, all judged serially in the scheduling
// cycle: the preemptor's requests and the shapes are read once, the shape
// model is built once per run of nodes with the same layout (most nodes of
// a cluster share one), and a node the dry run already saw without its
// victims is read from that copy.
//
// Nodes are seen as the profile's StrandingAwarePacking sees them (its
// resources and weights, its shapes: strandingawarepacking.JudgeOf), so the
// two plugins call the same capacity stranded; a profile without it judges
// with cpu, memory, ephemeral-storage, pods and extended resources at
// weight 1 against the learned shapes (strandingawarepacking.DefaultJudge).
type strandingJudge struct {
	pl        *Plugin
	call      *preemptionCall // the dry run's nodes; nil: judge from the snapshot
	preemptor corev1.ResourceList
	judge     *strandingawarepacking.Judge
	names     []corev1.ResourceName // what the preemptor and the shapes ask for
	set       strandingawarepacking.ShapeSet
	layout    stranding.Layout
	models    *strandingawarepacking.ShapeModels // shapes in layout; nil until the first node
	pod       stranding.Vec                      // the preemptor in layout
}

func (pl *Plugin) newStrandingJudge(preemptor *corev1.Pod, call *preemptionCall) *strandingJudge {
	judge := strandingawarepacking.JudgeOf(pl.fh)
	if judge == nil {
		judge = pl.defaultJudge
	}
	j := &strandingJudge{pl: pl, call: call, preemptor: resourcemodel.Requests(preemptor), judge: judge}
	j.set = judge.Shapes().SetFor(preemptor)
	j.names = strandingawarepacking.Names(j.preemptor, j.set.Shapes)
	return j
}

func (j *strandingJudge) strandedAfter(node string, victims []*corev1.Pod) float64 {
	if j.call != nil {
		if after := j.call.afterOn(node, victims); after != nil {
			return j.share(after, nil)
		}
	}
	ni, err := j.pl.fh.SnapshotSharedLister().NodeInfos().Get(node)
	if err != nil || ni.Node() == nil {
		return 1
	}
	return j.share(ni, victims)
}

// share is S of ni once victims (pods of ni) are gone and the preemptor
// runs there.
func (j *strandingJudge) share(ni fwk.NodeInfo, victims []*corev1.Pod) float64 {
	l := j.judge.Layout(ni, j.names)
	a, used := strandingawarepacking.NodeVectors(&l, ni)
	for _, v := range victims {
		vv := victimVector(&l, ni, v)
		for i := 0; i < l.N; i++ {
			used[i] -= vv[i]
		}
	}
	if j.models == nil || j.layout != l {
		j.layout = l
		var cluster []fwk.NodeInfo
		if lister := j.pl.fh.SnapshotSharedLister(); lister != nil {
			cluster, _ = lister.NodeInfos().List()
		}
		j.models = strandingawarepacking.NewShapeModels(&j.layout, j.set, strandingawarepacking.NodesOf(cluster))
		j.pod = strandingawarepacking.RequestVector(&l, j.preemptor)
	}
	return stranding.StrandedShare(&l, j.models.For(ni.Node()), &a, &used, &j.pod)
}

// victimVector is what the victim was charged on the node: its PodInfo's
// cached requests, or its requests recomputed if it is not on the node.
func victimVector(l *stranding.Layout, ni fwk.NodeInfo, victim *corev1.Pod) stranding.Vec {
	pods := ni.GetPods()
	for _, pi := range pods {
		if pi.GetPod() == victim {
			return strandingawarepacking.PodVector(l, pi)
		}
	}
	for _, pi := range pods {
		if pi.GetPod().UID == victim.UID {
			return strandingawarepacking.PodVector(l, pi)
		}
	}
	return strandingawarepacking.RequestVector(l, resourcemodel.Requests(victim))
}
