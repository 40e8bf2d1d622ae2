package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/snug-sched/snug/manifests"
	"github.com/snug-sched/snug/pkg/strategies/highnodeutilization"
	"github.com/snug-sched/snug/test/integration/framework"
)

// dsPolicy is a DeschedulerPolicy with one strategy at one extension point
// (balance or deschedule); args is the strategy's args block, YAML indented
// by 6, or "". nodeFit is DefaultEvictor's nodeFit.
func dsPolicy(nodeFit bool, point, plugin, args string) string {
	if args != "" {
		args = "    args:\n" + args
	}
	return fmt.Sprintf(`apiVersion: descheduler/v1alpha2
kind: DeschedulerPolicy
profiles:
- name: test
  pluginConfig:
  - name: DefaultEvictor
    args:
      nodeFit: %t
  - name: %s
%s  plugins:
    %s:
      enabled:
      - %s
`, nodeFit, plugin, args, point, plugin)
}

const (
	lnuArgs = `      thresholds: {cpu: 20, memory: 20, pods: 20}
      targetThresholds: {cpu: 50, memory: 50, pods: 50}
`
	poolLabel = "snug.io/test-pool"
)

// dsScenario is a cluster one strategy should fix (want > 0 evictions, or
// -1 for some) or must leave alone (futile: the real scheduler would put the
// replacement back or leave it Pending, though upstream's checks say yes).
type dsScenario struct {
	id, name, strategy, policy string
	setup                      func(e *dsEnv)
	// check asserts snug's outcome (fix scenarios: requireFixed).
	check func(e *dsEnv, o outcome)
}

func requiredAffinity(key string, values ...string) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: key, Operator: corev1.NodeSelectorOpIn, Values: values}},
		}}},
	}}
}

func antiAffinity(key, value string) *corev1.Affinity {
	return &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{key: value}},
			TopologyKey:   corev1.LabelHostname,
		}},
	}}
}

func hostPort(port int32) func(*corev1.PodSpec) {
	return func(s *corev1.PodSpec) {
		s.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: port, HostPort: port, Protocol: corev1.ProtocolTCP}}
	}
}

func noEvictions(e *dsEnv, o outcome) {
	e.t.Helper()
	if len(o.Evicted) != 0 {
		e.t.Errorf("snug evicted although the replacement could only go back or stay Pending: %s", o)
	}
}

func dsScenarios() []dsScenario {
	def := corev1.DefaultSchedulerName
	return []dsScenario{{
		id: "rd", name: "duplicates on one node, the other empty", strategy: "RemoveDuplicates",
		policy: dsPolicy(false, "balance", "RemoveDuplicates", ""),
		// The duplicates are made while node b is cordoned: a template
		// pinning spec.nodeName would bring the replacement back (the gate
		// refuses such pods).
		setup: func(e *dsEnv) {
			e.addNodes(nil, "a", "b")
			e.cordon(true, "b")
			e.on(e.createRS(replicaSet("dup", def, 2, "100m", nil)), "a")
			e.cordon(false, "b")
		},
		check: func(e *dsEnv, o outcome) { e.requireFixed(o, 1, "b") },
	}, {
		id: "lnu", name: "one node at 75% cpu, two empty", strategy: "LowNodeUtilization",
		policy: dsPolicy(false, "balance", "LowNodeUtilization", lnuArgs),
		setup: func(e *dsEnv) {
			e.addNodes(nil, "a", "b", "c")
			e.cordon(true, "b", "c")
			e.on(e.createRS(replicaSet("lnu", def, 6, "500m", nil)), "a")
			e.cordon(false, "b", "c")
		},
		check: func(e *dsEnv, o outcome) { e.requireFixed(o, -1, "b", "c") },
	}, {
		id: "hnu", name: "a node at 10% (one pod of each scheduler), two at 50%", strategy: "HighNodeUtilization",
		policy: dsPolicy(false, "balance", "HighNodeUtilization", "      thresholds: {cpu: 20, memory: 20}\n"),
		setup: func(e *dsEnv) {
			e.addNodes(nil, "a", "b", "c")
			e.cordon(true, "a")
			e.on(e.createRS(replicaSet("base", def, 4, "1", nil)), "b", "c")
			e.cordon(true, "b", "c")
			e.cordon(false, "a")
			e.on(e.createRS(replicaSet("hnu-default", def, 1, "200m", nil)), "a")
			e.on(e.createRS(replicaSet("hnu-snug", manifests.SchedulerName, 1, "200m", nil)), "a")
			e.cordon(false, "b", "c")
		},
		check: func(e *dsEnv, o outcome) {
			e.requireFixed(o, 2, "b", "c")
			owners := map[string]bool{}
			for _, p := range o.Replacements {
				owners[p.Owner] = true
			}
			if !owners["ReplicaSet/hnu-default"] || !owners["ReplicaSet/hnu-snug"] {
				e.t.Errorf("want replacements of both schedulers' pods, got %s", o)
			}
			n, err := e.c.CoreV1().Nodes().Get(e.t.Context(), e.node("a"), metav1.GetOptions{})
			if err != nil {
				e.t.Fatal(err)
			}
			tainted := false
			for _, t := range n.Spec.Taints {
				tainted = tainted || t.Key == highnodeutilization.DefaultTaintKey && t.Effect == corev1.TaintEffectNoSchedule
			}
			if !tainted {
				e.t.Errorf("emptied node %s has no %s:NoSchedule taint: %v", n.Name, highnodeutilization.DefaultTaintKey, n.Spec.Taints)
			}
		},
	}, {
		id: "na", name: "required node affinity now matches only the other node", strategy: "RemovePodsViolatingNodeAffinity",
		policy: dsPolicy(false, "deschedule", "RemovePodsViolatingNodeAffinity",
			"      nodeAffinityType: [requiredDuringSchedulingIgnoredDuringExecution]\n"),
		setup: func(e *dsEnv) {
			e.addNodes(map[string]map[string]string{"a": {poolLabel: "good"}}, "a", "b")
			e.on(e.createRS(replicaSet("na", def, 2, "100m", func(s *corev1.PodSpec) { s.Affinity = requiredAffinity(poolLabel, "good") })), "a")
			e.label("a", poolLabel, "")
			e.label("b", poolLabel, "good")
		},
		check: func(e *dsEnv, o outcome) { e.requireFixed(o, 2, "b") },
	}, {
		id: "aa", name: "a pod's anti-affinity now matches a neighbour", strategy: "RemovePodsViolatingInterPodAntiAffinity",
		policy: dsPolicy(false, "deschedule", "RemovePodsViolatingInterPodAntiAffinity", ""),
		setup: func(e *dsEnv) {
			e.addNodes(nil, "a", "b")
			e.cordon(true, "b")
			e.createPod(pod("guard", def, "100m", "64Mi"), "a")
			e.on(e.createRS(replicaSet("aa", def, 1, "100m", func(s *corev1.PodSpec) { s.Affinity = antiAffinity("avoid", "yes") })), "a")
			patch := []byte(`{"metadata":{"labels":{"avoid":"yes"}}}`)
			if _, err := e.c.CoreV1().Pods(e.ns).Patch(e.t.Context(), "guard", "application/merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
				e.t.Fatal(err)
			}
			e.cordon(false, "b")
		},
		check: func(e *dsEnv, o outcome) { e.requireFixed(o, 1, "b") },
	}, {
		id: "ts", name: "four pods in one zone, a second zone appears", strategy: "RemovePodsViolatingTopologySpreadConstraint",
		policy: dsPolicy(false, "balance", "RemovePodsViolatingTopologySpreadConstraint", "      constraints: [DoNotSchedule]\n"),
		setup: func(e *dsEnv) {
			e.addNodes(map[string]map[string]string{"a": {corev1.LabelTopologyZone: "za"}}, "a", "b")
			e.on(e.createRS(replicaSet("ts", def, 4, "100m", func(s *corev1.PodSpec) {
				s.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
					MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.DoNotSchedule,
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "ts"}},
				}}
			})), "a")
			e.label("b", corev1.LabelTopologyZone, "zb")
		},
		check: func(e *dsEnv, o outcome) { e.requireFixed(o, 2, "b") },
	}, {
		// RemoveDuplicates' own feasibility check looks at taints, node
		// selectors and affinity only, not at requests.
		id: "rd-full", name: "duplicates; the other node lacks room for their requests", strategy: "RemoveDuplicates",
		policy: dsPolicy(false, "balance", "RemoveDuplicates", ""),
		setup: func(e *dsEnv) {
			e.addNodes(nil, "a", "b")
			e.cordon(true, "b")
			e.on(e.createRS(replicaSet("big", def, 2, "1500m", nil)), "a")
			e.cordon(false, "b")
			e.createPod(pod("filler", def, "3", "64Mi"), "b")
		},
		check: noEvictions,
	}, {
		// nodeFit does not check host ports.
		id: "lnu-port", name: "overutilized node's pods hold host ports taken on the underutilized node", strategy: "LowNodeUtilization",
		policy: dsPolicy(true, "balance", "LowNodeUtilization", lnuArgs),
		setup: func(e *dsEnv) {
			e.addNodes(nil, "a", "b")
			e.cordon(true, "b")
			e.on(e.createRS(replicaSet("hp1", def, 1, "1500m", hostPort(8081))), "a")
			e.on(e.createRS(replicaSet("hp2", def, 1, "1500m", hostPort(8082))), "a")
			e.cordon(false, "b")
			e.cordon(true, "a")
			for i, port := range []int32{8081, 8082} {
				p := pod(fmt.Sprintf("port%d", i+1), def, "10m", "16Mi")
				hostPort(port)(&p.Spec)
				e.createPod(p, "b")
			}
			e.cordon(false, "a")
		},
		check: noEvictions,
	}, {
		// The underutilized node b is excluded by the pods' required node
		// affinity; node c matches it and nodeFit says yes, but nodeFit
		// checks anti-affinity only in the pod's own direction, not the
		// guard's on c.
		id: "lnu-aff", name: "underutilized nodes excluded by required node affinity / a neighbour's anti-affinity", strategy: "LowNodeUtilization",
		policy: dsPolicy(true, "balance", "LowNodeUtilization", lnuArgs),
		setup: func(e *dsEnv) {
			e.addNodes(map[string]map[string]string{"a": {poolLabel: "x"}, "c": {poolLabel: "x"}}, "a", "b", "c")
			e.cordon(true, "b", "c")
			e.on(e.createRS(replicaSet("aff", def, 2, "1500m", func(s *corev1.PodSpec) { s.Affinity = requiredAffinity(poolLabel, "x") })), "a")
			e.cordon(false, "b", "c")
			e.cordon(true, "a", "b")
			guard := pod("guard", def, "10m", "16Mi")
			guard.Spec.Affinity = antiAffinity("app", "aff")
			e.createPod(guard, "c")
			e.cordon(false, "a", "b")
		},
		check: noEvictions,
	}, {
		// RemovePodsViolatingNodeAffinity's own check (PodFitsAnyNode)
		// does not look at host ports: the replacement fits neither the
		// node it left (affinity) nor the other (port), so it stays Pending.
		id: "na-port", name: "required node affinity now matches only a node whose host port is taken", strategy: "RemovePodsViolatingNodeAffinity",
		policy: dsPolicy(false, "deschedule", "RemovePodsViolatingNodeAffinity",
			"      nodeAffinityType: [requiredDuringSchedulingIgnoredDuringExecution]\n"),
		setup: func(e *dsEnv) {
			e.addNodes(map[string]map[string]string{"a": {poolLabel: "good"}}, "a", "b")
			e.on(e.createRS(replicaSet("nap", def, 1, "100m", func(s *corev1.PodSpec) {
				s.Affinity = requiredAffinity(poolLabel, "good")
				hostPort(8090)(s)
			})), "a")
			holder := pod("holder", def, "10m", "16Mi")
			hostPort(8090)(&holder.Spec)
			e.createPod(holder, "b") // node a's port 8090 is taken
			e.label("a", poolLabel, "")
			e.label("b", poolLabel, "good")
		},
		check: noEvictions,
	}}
}

// peerRow is one scenario of the futile-eviction comparison.
type peerRow struct {
	scenario, strategy string
	snug, upstream     *outcome
	upstreamNote       string
}

// TestDeschedulerStrategies runs snug's descheduler, and then upstream's
// v0.36.0 with the same policy, once on each scenario against a real
// control plane: kube-controller-manager (ReplicaSets recreate evicted
// pods, the disruption controller keeps PDB status), snug's scheduler for
// snug-scheduler pods and upstream kube-scheduler for default-scheduler
// pods, both with leader election on. Both deschedulers run once (no
// --descheduling-interval; each run must exit 0 within 90 s) as the
// descheduler's ServiceAccount with the RBAC of manifests/.
// SNUG_PEER_REPORT=path writes the futile-eviction table
// (docs/descheduler.md) there.
func TestDeschedulerStrategies(t *testing.T) {
	ctx := t.Context()
	cp := framework.StartForTest(t, framework.Options{WithControllerManager: true})
	if err := cp.StartFakeKubelet(ctx); err != nil {
		t.Fatal(err)
	}
	startScheduler(t, cp, "")
	startKubeScheduler(t, cp)
	kubeconfig := deschedulerKubeconfig(t, cp)
	upstreamBin, upstreamErr := upstreamDescheduler()

	var rows []*peerRow
	for _, sc := range dsScenarios() {
		row := &peerRow{scenario: sc.name, strategy: sc.strategy}
		rows = append(rows, row)
		t.Run(sc.id+"/snug", func(t *testing.T) {
			e := newDsEnv(t, cp, sc.id+"-snug")
			sc.setup(e)
			before := e.snapshot()
			run := runDescheduler(t, cp, "descheduler-"+e.prefix, binary("descheduler"), kubeconfig, sc.policy)
			if run.Err != nil {
				t.Fatalf("descheduler exit: %v\n%s", run.Err, tail(run.Stderr, 40))
			}
			o := e.observe(before)
			row.snug = &o
			t.Logf("snug (run %v): %s", run.Took.Round(time.Millisecond), o)
			if len(o.Evicted) > 0 && !strings.Contains(run.Stderr, "Evicted pod") {
				t.Errorf("descheduler log does not report its evictions:\n%s", tail(run.Stderr, 40))
			}
			sc.check(e, o)
		})
		t.Run(sc.id+"/upstream", func(t *testing.T) {
			if upstreamErr != nil {
				row.upstreamNote = "not run"
				t.Skipf("no upstream descheduler: %v", upstreamErr)
			}
			e := newDsEnv(t, cp, sc.id+"-upstream")
			sc.setup(e)
			before := e.snapshot()
			run := runDescheduler(t, cp, "descheduler-"+e.prefix, upstreamBin, kubeconfig, sc.policy)
			if run.Err != nil {
				row.upstreamNote = "exit: " + run.Err.Error()
				t.Errorf("upstream descheduler exit: %v\n%s", run.Err, tail(run.Stderr, 40))
			}
			o := e.observe(before)
			row.upstream = &o
			t.Logf("upstream (run %v): %s", run.Took.Round(time.Millisecond), o)
		})
	}

	t.Run("PDB", func(t *testing.T) { testDeschedulerPDB(t, cp, kubeconfig) })
	t.Run("DryRun", func(t *testing.T) { testDeschedulerDryRun(t, cp, kubeconfig) })

	if path := os.Getenv("SNUG_PEER_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(peerReport(rows)), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// peerReport is the markdown table of futile evictions per scenario.
func peerReport(rows []*peerRow) string {
	var b strings.Builder
	b.WriteString("| Scenario | Strategy | snug: evicted | snug: futile | upstream v0.36.0: evicted | upstream v0.36.0: futile |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|\n")
	cell := func(o *outcome, note string) (string, string) {
		if o == nil {
			if note == "" {
				note = "failed"
			}
			return note, note
		}
		return fmt.Sprint(len(o.Evicted)), fmt.Sprint(o.Futile)
	}
	var se, sf, ue, uf int
	for _, r := range rows {
		a, b2 := cell(r.snug, "")
		c, d := cell(r.upstream, r.upstreamNote)
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.scenario, r.strategy, a, b2, c, d)
		if r.snug != nil {
			se += len(r.snug.Evicted)
			sf += r.snug.Futile
		}
		if r.upstream != nil {
			ue += len(r.upstream.Evicted)
			uf += r.upstream.Futile
		}
	}
	fmt.Fprintf(&b, "| **total** | | **%d** | **%d** | **%d** | **%d** |\n", se, sf, ue, uf)
	return b.String()
}

// A PodDisruptionBudget that allows no disruption blocks the eviction the
// simulation approved: the 429 is reported once, not retried, the move is
// undone and the run exits 0.
func testDeschedulerPDB(t *testing.T, cp *framework.ControlPlane, kubeconfig string) {
	e := newDsEnv(t, cp, "pdb")
	e.addNodes(nil, "a", "b")
	e.cordon(true, "b")
	e.on(e.createRS(replicaSet("pdb", corev1.DefaultSchedulerName, 2, "100m", nil)), "a")
	e.createPDB("pdb", 2, 2, 0)
	e.cordon(false, "b")
	before := e.snapshot()
	run := runDescheduler(t, cp, "descheduler-pdb", binary("descheduler"), kubeconfig,
		dsPolicy(false, "balance", "RemoveDuplicates", ""))
	if run.Err != nil {
		t.Fatalf("descheduler exit with a PDB-blocked eviction: %v, want 0\n%s", run.Err, tail(run.Stderr, 40))
	}
	if o := e.observe(before); len(o.Evicted) != 0 {
		t.Errorf("a pod was evicted despite its PDB: %s", o)
	}
	var attempts []string
	for _, l := range strings.Split(run.Stderr, "\n") {
		if strings.Contains(l, "Error evicting pod") {
			attempts = append(attempts, l)
		}
	}
	if len(attempts) != 1 || !strings.Contains(attempts[0], "disruption budget") {
		t.Errorf("want exactly one eviction refused by the disruption budget, got %d:\n%s", len(attempts), strings.Join(attempts, "\n"))
	}
	if !strings.Contains(run.Stderr, `"Simulation gate"`) || !strings.Contains(run.Stderr, `status="failed"`) {
		t.Errorf("the gate's report does not show the failed move:\n%s", tail(run.Stderr, 40))
	}
	t.Logf("PDB run took %v", run.Took.Round(time.Millisecond))
}

// --dry-run prints the plan (table; JSON with --plan-format=json) and
// writes nothing: every pod, node, ReplicaSet and PDB keeps its
// resourceVersion.
func testDeschedulerDryRun(t *testing.T, cp *framework.ControlPlane, kubeconfig string) {
	ctx := t.Context()
	e := newDsEnv(t, cp, "dry")
	e.addNodes(nil, "a", "b")
	e.cordon(true, "b")
	e.on(e.createRS(replicaSet("dry", corev1.DefaultSchedulerName, 2, "100m", nil)), "a")
	e.createPDB("dry", 1, 2, 1)
	e.cordon(false, "b")
	versions := func() map[string]string {
		out := map[string]string{}
		pods, err := e.c.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range pods.Items {
			out["pod "+o.Namespace+"/"+o.Name] = o.ResourceVersion
		}
		nodes, err := e.c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range nodes.Items {
			out["node "+o.Name] = o.ResourceVersion
		}
		pdbs, err := e.c.PolicyV1().PodDisruptionBudgets("").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range pdbs.Items {
			out["pdb "+o.Namespace+"/"+o.Name] = o.ResourceVersion
		}
		rss, err := e.c.AppsV1().ReplicaSets("").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range rss.Items {
			out["replicaset "+o.Namespace+"/"+o.Name] = o.ResourceVersion
		}
		return out
	}
	before := versions()
	policy := dsPolicy(false, "balance", "RemoveDuplicates", "")

	// Upstream v0.36's dry-run sandbox starts its fake informers before the
	// real ones have filled it, so a run-once dry run can find no nodes or
	// pods (kubernetes-sigs/descheduler#1917, "Skipping descheduling cycle:
	// requires >=2 nodes" found=0) and plan nothing. Such a run is retried.
	dryRun := func(name string, extra ...string) deschedulerRun {
		t.Helper()
		var r deschedulerRun
		for attempt := 1; attempt <= 6; attempt++ {
			r = runDescheduler(t, cp, name, binary("descheduler"), kubeconfig, policy, append([]string{"--dry-run"}, extra...)...)
			if r.Err != nil || strings.Contains(r.Stderr, "Evicted pod in dry run mode") {
				break
			}
			t.Logf("%s attempt %d planned nothing (upstream's dry-run sandbox not filled yet, descheduler#1917?); retrying", name, attempt)
		}
		return r
	}
	table := dryRun("descheduler-dry-table")
	if table.Err != nil {
		t.Fatalf("dry run exit: %v\n%s", table.Err, tail(table.Stderr, 40))
	}
	header, row := false, false
	for _, l := range strings.Split(table.Stdout, "\n") {
		f := strings.Fields(l)
		header = header || len(f) >= 6 && strings.Join(f[:6], " ") == "POD FROM TO STRATEGY STATUS REASON"
		row = row || len(f) >= 5 && strings.HasPrefix(f[0], "dry/dry-") && f[1] == e.node("a") && f[2] == e.node("b") &&
			f[3] == "RemoveDuplicates" && f[4] == "planned"
	}
	if !header || !row {
		t.Errorf("dry-run table lacks the header or the planned move %s -> %s:\n%s", e.node("a"), e.node("b"), table.Stdout)
	}

	js := dryRun("descheduler-dry-json", "--plan-format=json")
	if js.Err != nil {
		t.Fatalf("dry run (json) exit: %v\n%s", js.Err, tail(js.Stderr, 40))
	}
	var plan struct {
		Moves []struct {
			Namespace, Name, From, To, Strategy, Status, Reason string
		} `json:"moves"`
	}
	start := strings.Index(js.Stdout, "{")
	if start < 0 {
		t.Fatalf("no JSON plan on stdout:\n%s", js.Stdout)
	}
	if err := json.NewDecoder(strings.NewReader(js.Stdout[start:])).Decode(&plan); err != nil {
		t.Fatalf("plan is not JSON: %v\n%s", err, js.Stdout)
	}
	if len(plan.Moves) != 1 || plan.Moves[0].Namespace != "dry" || plan.Moves[0].From != e.node("a") ||
		plan.Moves[0].To != e.node("b") || plan.Moves[0].Strategy != "RemoveDuplicates" || plan.Moves[0].Status != "planned" {
		t.Errorf("JSON plan: want one planned RemoveDuplicates move %s -> %s, got %+v", e.node("a"), e.node("b"), plan.Moves)
	}

	after := versions()
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s: resourceVersion %s -> %q after --dry-run", k, v, after[k])
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s created by --dry-run", k)
		}
	}
}
