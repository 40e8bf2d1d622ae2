package qosawarepreemption

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policy "k8s.io/api/policy/v1"

	"github.com/snug-sched/snug/pkg/apis/config"
)

// TestBudgetSearchAgainstBruteForce checks the victim search within PDB
// budgets against every subset of candidates, on random nodes where CPU is
// the only scarce resource: the victims make room, keep within the
// budgets and are inclusion-minimal; and, with PDBs that do not overlap,
// a node is reported as blocked by a PDB only when no subset within the
// budgets makes room (the search's feasibility test is exact there: the
// budget goes to the biggest pods).
func TestBudgetSearchAgainstBruteForce(t *testing.T) {
	const node = "n1"
	rng := rand.New(rand.NewSource(19))
	overlapMisses, overlapBlocked := 0, 0
	for iter := range 300 {
		overlap := iter%3 == 2
		n := 3 + rng.Intn(6)
		var pods []*corev1.Pod
		cpu := make([]int, n)
		total := 0
		for i := range n {
			cpu[i] = 1 + rng.Intn(4)
			total += cpu[i]
			w := newPod(fmt.Sprintf("p%d", i), int32(rng.Intn(4)), burstable, res(fmt.Sprint(cpu[i]), "")).
				Node(node).StartTime(at(int64(rng.Intn(3))))
			switch r := rng.Intn(4); {
			case r == 0:
				w.Label("app", "web")
			case r == 1:
				w.Label("tier", "front")
			case r == 2 && overlap:
				w.Label("app", "web").Label("tier", "front")
			}
			pods = append(pods, w.Obj())
		}
		pdbs := []*policy.PodDisruptionBudget{
			pdb("web", "default", int32(rng.Intn(3)), matchLabels("app", "web")),
			pdb("front", "default", int32(rng.Intn(3)), matchLabels("tier", "front")),
		}
		need := 1 + rng.Intn(total)
		preemptor := newPod("preemptor", 1000, burstable, res(fmt.Sprint(need), "")).Obj()
		nodes := []*corev1.Node{makeNode(node, map[corev1.ResourceName]string{
			corev1.ResourceCPU: fmt.Sprint(total), corev1.ResourceMemory: "16Gi", corev1.ResourcePods: "110"})}

		bs := compileBudgets(pdbs)
		withinBudget := func(set []int) bool {
			left := bs.allowed()
			for _, i := range set {
				for _, j := range bs.spends(pods[i]) {
					if left[j]--; left[j] < 0 {
						return false
					}
				}
			}
			return true
		}
		frees := func(set []int) bool {
			freed := 0
			for _, i := range set {
				freed += cpu[i]
			}
			return freed >= need
		}
		feasible := false
		for mask := 0; mask < 1<<n && !feasible; mask++ {
			var set []int
			for i := range n {
				if mask&(1<<i) != 0 {
					set = append(set, i)
				}
			}
			feasible = frees(set) && withinBudget(set)
		}

		e := newEnv(t, defaultArgs(t, config.PDBRespect), nodes, pods)
		ctx := ContextWithPreemptor(e.ctx, preemptor)
		victims, violating, status := e.pl.SelectVictimsOnNode(ctx, e.preFilter(t, preemptor), preemptor, e.nodeInfo(t, node), pdbs)
		desc := fmt.Sprintf("iter %d: cpu %v need %d of %d, pods %v, budgets web=%d front=%d",
			iter, cpu, need, total, podLabels(pods), pdbs[0].Status.DisruptionsAllowed, pdbs[1].Status.DisruptionsAllowed)
		if !status.IsSuccess() {
			if status.Message() != pdbMessage {
				t.Fatalf("%s: status %v", desc, status)
			}
			if feasible {
				if !overlap {
					t.Errorf("%s: blocked by a PDB, but a victim set within the budgets exists", desc)
				}
				overlapMisses++
			}
			if overlap {
				overlapBlocked++
			}
			continue
		}
		if !feasible {
			t.Errorf("%s: victims %v although no set within the budgets makes room", desc, podNames(victims))
			continue
		}
		var set []int
		for _, v := range victims {
			set = append(set, slices.Index(pods, v))
		}
		if violating != 0 || !withinBudget(set) {
			t.Errorf("%s: victims %v exceed a budget (numViolating %d)", desc, podNames(victims), violating)
		}
		if !frees(set) {
			t.Errorf("%s: victims %v do not make room", desc, podNames(victims))
		}
		for k := range set {
			if frees(slices.Delete(slices.Clone(set), k, k+1)) {
				t.Errorf("%s: victims %v are not minimal: %s is not needed", desc, podNames(victims), pods[set[k]].Name)
			}
		}
	}
	t.Logf("overlapping PDBs: %d nodes blocked, %d of them with a victim set the search missed", overlapBlocked, overlapMisses)
}

func podLabels(pods []*corev1.Pod) []string {
	out := make([]string, len(pods))
	for i, p := range pods {
		out[i] = fmt.Sprintf("%s(prio %d)%v", p.Name, *p.Spec.Priority, p.Labels)
	}
	return out
}
