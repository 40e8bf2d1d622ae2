package qosawarepreemption

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	policy "k8s.io/api/policy/v1"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/snug-sched/snug/pkg/apis/config"
)

// Regression tests of three bugs found by the unit tests (fixed in
// victims.go).

// TestPodEligibleToPreemptOthersWaitsForTerminatingVictims: upstream's
// PodEligibleToPreemptOthers keeps a preemptor from preempting again while
// the victims it already preempted on its nominated node are terminating.
// Upstream finds them through the IsEligiblePod hook, which the plugin
// leaves as upstream sets it (eligibleVictim once rejected every terminating
// pod, and would still hide a terminating DaemonSet or mirror pod).
func TestPodEligibleToPreemptOthersWaitsForTerminatingVictims(t *testing.T) {
	const node = "n1"
	victim := newPod("victim", 0, burstable, res("1", "")).Node(node).Terminating().
		Condition(corev1.DisruptionTarget, corev1.ConditionTrue, corev1.PodReasonPreemptionByScheduler).Obj()
	preemptor := newPod("preemptor", 1000, burstable, res("2", "")).NominatedNodeName(node).Obj()
	e := newEnv(t, defaultArgs(t, ""),
		[]*corev1.Node{makeNode(node, map[corev1.ResourceName]string{corev1.ResourceCPU: "2", corev1.ResourceMemory: "4Gi"})},
		[]*corev1.Pod{victim})

	// Upstream's eligibility (every pod) gives the upstream answer.
	upstream := *e.pl.DefaultPreemption
	upstream.IsEligiblePod = func(fwk.NodeInfo, fwk.PodInfo, *corev1.Pod) bool { return true }
	if ok, msg := upstream.PodEligibleToPreemptOthers(e.ctx, preemptor, nil); ok {
		t.Fatalf("upstream eligibility: PodEligibleToPreemptOthers = true, want false (%q)", msg)
	}

	if ok, _ := e.pl.PodEligibleToPreemptOthers(e.ctx, preemptor, nil); ok {
		t.Errorf("PodEligibleToPreemptOthers = true with a victim still terminating on the nominated node, want false")
	}
}

// TestSelectVictimsOnNodeBudgetSpentOnReprievedPod: budgets are judged on
// the victims chosen, not on every candidate: a pod that is reprieved anyway
// (it frees nothing the preemptor needs) must not take the only allowed
// disruption from the pod that has to go.
func TestSelectVictimsOnNodeBudgetSpentOnReprievedPod(t *testing.T) {
	const node = "n1"
	pods := []*corev1.Pod{
		newPod("be-web", 0, bestEffort, nil).Label("app", "web").Node(node).StartTime(at(1)).Obj(),
		newPod("bu-web", 0, burstable, res("2", "")).Label("app", "web").Node(node).StartTime(at(1)).Obj(),
	}
	pdbs := []*policy.PodDisruptionBudget{pdb("web", "default", 1, matchLabels("app", "web"))}
	preemptor := newPod("preemptor", 1000, burstable, res("2", "")).Obj()
	nodes := []*corev1.Node{makeNode(node, map[corev1.ResourceName]string{corev1.ResourceCPU: "2", corev1.ResourceMemory: "4Gi"})}

	for _, mode := range []config.PDBMode{config.PDBRespect, config.PDBPrefer} {
		t.Run(string(mode), func(t *testing.T) {
			e := newEnv(t, defaultArgs(t, mode), nodes, pods)
			victims, violating, status := e.pl.SelectVictimsOnNode(e.ctx, e.preFilter(t, preemptor), preemptor, e.nodeInfo(t, node), pdbs)
			if !status.IsSuccess() {
				t.Fatalf("status = %v, want success", status)
			}
			if got := podNames(victims); !equalStrings(got, []string{"bu-web"}) || violating != 0 {
				t.Errorf("victims = %v, numViolating = %d; want [bu-web], 0", got, violating)
			}
		})
	}
}

// TestSelectVictimsOnNodeBlamesPDBWhenNothingHelps: in Respect mode a node
// where the preemptor would not fit even if every lower-priority pod,
// PDB-protected or not, were evicted gets the filters' verdict, not the PDB
// message (which would queue the preemptor for reactivation on PDB changes).
func TestSelectVictimsOnNodeBlamesPDBWhenNothingHelps(t *testing.T) {
	const node = "n1"
	pods := []*corev1.Pod{
		newPod("protected", 0, burstable, res("1", "")).Label("app", "web").Node(node).Obj(),
		newPod("free", 0, burstable, res("1", "")).Node(node).Obj(),
		newPod("high", 5000, burstable, res("1", "")).Node(node).Obj(),
	}
	pdbs := []*policy.PodDisruptionBudget{pdb("web", "default", 0, matchLabels("app", "web"))}
	preemptor := newPod("preemptor", 1000, burstable, res("2", "")).Obj()
	nodes := []*corev1.Node{makeNode(node, map[corev1.ResourceName]string{corev1.ResourceCPU: "2", corev1.ResourceMemory: "4Gi"})}
	e := newEnv(t, defaultArgs(t, config.PDBRespect), nodes, pods)
	ctx := ContextWithPreemptor(e.ctx, preemptor)
	_, _, status := e.pl.SelectVictimsOnNode(ctx, e.preFilter(t, preemptor), preemptor, e.nodeInfo(t, node), pdbs)
	if status.IsSuccess() {
		t.Fatalf("status = success, want failure")
	}
	if status.Message() == pdbMessage || ctx.Value(callKey{}).(*preemptionCall).pdbBlocked.Load() {
		t.Errorf("status %q (pdbBlocked %v): a PDB is blamed although the preemptor does not fit whatever is evicted",
			status.Message(), ctx.Value(callKey{}).(*preemptionCall).pdbBlocked.Load())
	}
}
