package qosawarepreemption

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policy "k8s.io/api/policy/v1"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/apis/core/v1/helper/qos"

	"github.com/snug-sched/snug/pkg/apis/config"
)

// benchNode is scheduler_perf's PreemptionAsync node once measured pods land:
// 4 cores, four 900m low-priority pods and four 100m pods, all priority 0
// and Guaranteed; the preemptor asks for 3 cores at priority 10.
func benchNode(b *testing.B) (*env, *corev1.Pod) {
	b.Helper()
	nodes := []*corev1.Node{makeNode("n", map[corev1.ResourceName]string{corev1.ResourceCPU: "4", corev1.ResourceMemory: "32Gi", corev1.ResourcePods: "110"})}
	var pods []*corev1.Pod
	for i := range 4 {
		pods = append(pods, newPod(fmt.Sprintf("low-%d", i), 0, guaranteed, res("900m", "500Mi")).Node("n").StartTime(at(int64(i))).Obj())
	}
	for i := range 4 {
		pods = append(pods, newPod(fmt.Sprintf("small-%d", i), 0, guaranteed, res("100m", "500Mi")).Node("n").StartTime(at(int64(100+i))).Obj())
	}
	for _, p := range pods {
		p.Status.QOSClass = qos.ComputePodQOS(p) // the apiserver sets it on create
	}
	e := newEnv(b, defaultArgs(b, ""), nodes, pods)
	for _, p := range pods {
		e.pl.ObservePod(p, 1)
	}
	return e, newPod("preemptor", 10, guaranteed, res("3", "500Mi")).Obj()
}

type selectVictims func(context.Context, fwk.CycleState, *corev1.Pod, fwk.NodeInfo, []*policy.PodDisruptionBudget) ([]*corev1.Pod, int, *fwk.Status)

func benchSelect(b *testing.B, e *env, preemptor *corev1.Pod, f selectVictims) {
	state := e.preFilter(b, preemptor)
	ctx := ContextWithPreemptor(e.ctx, preemptor)
	b.ReportAllocs()
	for b.Loop() {
		ni := e.nodeInfo(b, "n")
		victims, _, s := f(ctx, state.Clone(), preemptor, ni, nil)
		if !s.IsSuccess() || len(victims) == 0 {
			b.Fatalf("no victims: %v", s)
		}
	}
}

// BenchmarkSelectVictimsOnNode compares snug's victim selection with
// DefaultPreemption's on the same node; the node clone each iteration
// needs is in both.
func BenchmarkSelectVictimsOnNode(b *testing.B) {
	e, preemptor := benchNode(b)
	b.Run("snug", func(b *testing.B) { benchSelect(b, e, preemptor, e.pl.SelectVictimsOnNode) })
	b.Run("upstream", func(b *testing.B) { benchSelect(b, e, preemptor, e.pl.DefaultPreemption.SelectVictimsOnNode) })
}

// BenchmarkStrandedAfter is the node-choice term, run serially for every
// candidate still tied after fewest victims, with one judge per
// preemption: from the dry run's copy of the node (what PostFilter does)
// and from the snapshot, subtracting the victims (the fallback).
func BenchmarkStrandedAfter(b *testing.B) {
	e, preemptor := benchNode(b)
	ni := e.nodeInfo(b, "n")
	victims := []*corev1.Pod{ni.GetPods()[0].GetPod(), ni.GetPods()[1].GetPod(), ni.GetPods()[2].GetPod()}
	b.Run("dryrun", func(b *testing.B) {
		call := newPreemptionCall(preemptor)
		ctx := context.WithValue(e.ctx, callKey{}, call)
		state := e.preFilter(b, preemptor)
		if _, _, s := e.pl.SelectVictimsOnNode(ctx, state, preemptor, e.nodeInfo(b, "n"), nil); !s.IsSuccess() {
			b.Fatal(s)
		}
		judge := e.pl.newStrandingJudge(preemptor, call)
		b.ReportAllocs()
		for b.Loop() {
			judge.strandedAfter("n", call.victimsOn("n"))
		}
	})
	b.Run("snapshot", func(b *testing.B) {
		judge := e.pl.newStrandingJudge(preemptor, nil)
		b.ReportAllocs()
		for b.Loop() {
			judge.strandedAfter("n", victims)
		}
	})
}

// BenchmarkSelectVictimsOnNodeBudget is the budget search at its largest:
// a node full with 110 pods of mixed sizes, half of them under a PDB that
// allows one disruption, and a preemptor that needs several victims, so
// the search leaves undecided protected pods on the node at every step
// and runs its final check and minimality pass (2n+2 filter runs at most).
func BenchmarkSelectVictimsOnNodeBudget(b *testing.B) {
	nodes := []*corev1.Node{makeNode("n", map[corev1.ResourceName]string{corev1.ResourceCPU: "64", corev1.ResourceMemory: "256Gi", corev1.ResourcePods: "110"})}
	var pods []*corev1.Pod
	for i := range 110 {
		w := newPod(fmt.Sprintf("p-%03d", i), int32(i%7), burstable, res(fmt.Sprintf("%dm", 300+(i*37)%400), "1Gi")).Node("n").StartTime(at(int64(i)))
		if i%2 == 0 {
			w.Label("app", "web")
		}
		pods = append(pods, w.Obj())
	}
	e := newEnv(b, defaultArgs(b, config.PDBRespect), nodes, pods)
	pdbs := []*policy.PodDisruptionBudget{pdb("web", "default", 1, matchLabels("app", "web"))}
	preemptor := newPod("preemptor", 10, burstable, res("3", "4Gi")).Obj()
	state := e.preFilter(b, preemptor)
	ctx := ContextWithPreemptor(e.ctx, preemptor)
	b.ReportAllocs()
	for b.Loop() {
		victims, _, s := e.pl.SelectVictimsOnNode(ctx, state.Clone(), preemptor, e.nodeInfo(b, "n"), pdbs)
		if !s.IsSuccess() || len(victims) == 0 {
			b.Fatalf("no victims: %v", s)
		}
	}
}
