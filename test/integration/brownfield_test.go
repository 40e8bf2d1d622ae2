package integration

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/snug-sched/snug/manifests"
	"github.com/snug-sched/snug/pkg/plugins/predictabledemands"
	"github.com/snug-sched/snug/pkg/resourcemodel"
	"github.com/snug-sched/snug/test/integration/framework"
)

// TestBrownfield adopts snug into a cluster that already runs workloads
// (issue 19, "Tests"), on one control plane the subtests share, in order:
//
//  1. upstream kube-scheduler has bound pods whose limits are 1.5 x
//     allocatable on every node, a DaemonSet's pods (created by
//     kube-controller-manager) and pods with service-account token volumes;
//     then snug's scheduler starts with the shipped configuration and
//     still places its pods on those nodes;
//  2. thousands of snug pods held by the dependency gate, under churn of
//     bound pods and node taints and labels: the PreEnqueue runs, requeues
//     and scheduling attempts per held pod over the churn window, from the
//     scheduler's /metrics, are bounded; creating the missing ConfigMap
//     schedules them all;
//  3. a preferred node affinity of weight 100 and a PreferNoSchedule taint
//     are honoured when the candidate nodes' packing differs a little.
//
// The PDB case of the issue (its point 3) is TestPreemptionRespectsPDBWithinBudget.
// Figures and how to reproduce them: docs/brownfield.md.
func TestBrownfield(t *testing.T) {
	began := time.Now()
	cp := framework.StartForTest(t, framework.Options{WithControllerManager: true})
	startKubeScheduler(t, cp)
	bf := &brownfield{cp: cp, c: cp.Client}
	if !t.Run("existing workload bound by kube-scheduler", bf.existingWorkload) {
		t.FailNow()
	}
	bf.startSnug(t) // on the parent: it runs for every later subtest
	t.Run("shipped config schedules onto overcommitted nodes", bf.ontoOvercommitted)
	t.Run("gated pods under churn", bf.gatedUnderChurn)
	t.Run("soft preferences", func(t *testing.T) {
		bf.softSetup(t)
		t.Run("preferred node affinity", bf.preferredAffinity)
		t.Run("PreferNoSchedule taint", bf.preferNoSchedule)
	})
	t.Logf("TestBrownfield took %v", time.Since(began).Round(time.Second))
}

const (
	bfPool       = "brownfield.snug.io/pool"
	bfPreferred  = "brownfield.snug.io/preferred"
	bfAvoid      = "brownfield.snug.io/avoid"
	bfChurnTaint = "brownfield.snug.io/churn"
	bfChurnLabel = "brownfield.snug.io/churn-gen"
	bfNS         = "brownfield"
	bfGatedNS    = "brownfield-gated"
	bfChurnNS    = "brownfield-churn"
	bfSoftNS     = "brownfield-soft"
	bfSettings   = "brownfield-settings" // the ConfigMap the gated pods wait for

	// bfGated is how many pods the gate holds. 2,000 fits the time budget:
	// creating them takes about 20 s and binding them, once released, is
	// bounded by the scheduler's client (50 QPS by default, one binding
	// call per pod): at least 40 s.
	bfGated = 2000
	// The churn: every tick one default-scheduler pod is created (alternately
	// bound by kube-scheduler and created bound) and, once bfChurnRing are
	// live, the oldest deleted; every 5th tick a snug pod is created; every
	// 10th tick a brown node's PreferNoSchedule taint is toggled and a label
	// changed.
	bfChurnFor  = 30 * time.Second
	bfChurnTick = 100 * time.Millisecond
	bfChurnRing = 30
	// podMaxInUnschedulablePodsDuration of the scheduling queue: every pod
	// parked this long is moved (and re-run through PreEnqueue) by the
	// queue's periodic flush, whatever the hints say.
	queueFlushAfter = 5 * time.Minute
)

// brownNodes are the nodes of the existing workload.
var brownNodes = []string{"brown-0", "brown-1", "brown-2", "brown-3"}

type brownfield struct {
	cp   *framework.ControlPlane
	c    kubernetes.Interface
	port int // snug's secure port (/metrics)
}

// bfPod is a pod with requests and, if limCPU != "", limits.
func bfPod(name, schedulerName, reqCPU, reqMem, limCPU, limMem string) *corev1.Pod {
	p := pod(name, schedulerName, reqCPU, reqMem)
	if limCPU != "" {
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse(limCPU), corev1.ResourceMemory: resource.MustParse(limMem)}
	}
	return p
}

func inPool(p *corev1.Pod, pool string) *corev1.Pod {
	p.Spec.NodeSelector = map[string]string{bfPool: pool}
	return p
}

// existingWorkload: four 4-CPU, 8Gi nodes; on each, pinned by a node
// selector and bound by kube-scheduler, three pods with limits of 2 CPU and
// 4Gi (requests 500m, 1Gi) and one without limits (250m, 512Mi); a
// DaemonSet (100m/64Mi, limits 200m/128Mi) on every node. Limits: 1.5 x
// allocatable and more, the way snug's caps would count them.
func (bf *brownfield) existingWorkload(t *testing.T) {
	ctx := t.Context()
	mustNamespace(t, bf.c, bfNS)
	for _, n := range brownNodes {
		if err := framework.CreateNodes(ctx, bf.c, framework.NewNode(n, resources("4", "8Gi"), map[string]string{bfPool: "brown"})); err != nil {
			t.Fatal(err)
		}
	}
	agent := bfPod("agent", corev1.DefaultSchedulerName, "100m", "64Mi", "200m", "128Mi")
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "node-agent"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "node-agent"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "node-agent"}}, Spec: agent.Spec},
		},
	}
	if _, err := bf.c.AppsV1().DaemonSets(bfNS).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pods []*corev1.Pod
	for _, n := range brownNodes {
		for i := range 3 {
			p := bfPod(fmt.Sprintf("web-%s-%d", n, i), corev1.DefaultSchedulerName, "500m", "1Gi", "2", "4Gi")
			p.Spec.NodeSelector = map[string]string{corev1.LabelHostname: n}
			pods = append(pods, p)
		}
		p := bfPod("batch-"+n, corev1.DefaultSchedulerName, "250m", "512Mi", "", "")
		p.Spec.NodeSelector = map[string]string{corev1.LabelHostname: n}
		pods = append(pods, p)
	}
	if err := createAll(ctx, bf.c, bfNS, pods, 4); err != nil {
		t.Fatal(err)
	}
	// Every pod bound (nothing but kube-scheduler binds default-scheduler
	// pods: snug does not run yet), with a DaemonSet pod on each node.
	var list *corev1.PodList
	err := waitFor(ctx, 90*time.Second, func(ctx context.Context) (bool, error) {
		var err error
		if list, err = bf.c.CoreV1().Pods(bfNS).List(ctx, metav1.ListOptions{}); err != nil {
			return false, nil
		}
		daemons := map[string]bool{}
		for _, p := range list.Items {
			if p.Spec.NodeName == "" {
				return false, nil
			}
			if o := metav1.GetControllerOf(&p); o != nil && o.Kind == "DaemonSet" {
				daemons[p.Spec.NodeName] = true
			}
		}
		return len(list.Items) == len(pods)+len(brownNodes) && len(daemons) == len(brownNodes), nil
	})
	if err != nil {
		t.Fatalf("existing workload not bound by kube-scheduler with a DaemonSet pod per node: %v", err)
	}
	limits := map[string]corev1.ResourceList{}
	for _, p := range list.Items {
		if p.Spec.SchedulerName != corev1.DefaultSchedulerName {
			t.Errorf("pod %s has scheduler %q, want the default scheduler's", p.Name, p.Spec.SchedulerName)
		}
		if !projectsRootCA(&p) {
			t.Errorf("pod %s has no service-account token volume projecting ConfigMap %s", p.Name, framework.RootCAConfigMap)
		}
		if limits[p.Spec.NodeName] == nil {
			limits[p.Spec.NodeName] = corev1.ResourceList{}
		}
		for r, q := range resourcemodel.BoundedLimits(&p) {
			sum := limits[p.Spec.NodeName][r]
			sum.Add(q)
			limits[p.Spec.NodeName][r] = sum
		}
	}
	for _, n := range brownNodes {
		cpuQ, memQ := limits[n][corev1.ResourceCPU], limits[n][corev1.ResourceMemory]
		cpu := float64(cpuQ.MilliValue()) / 4000
		mem := float64(memQ.Value()) / (8 << 30)
		t.Logf("%s: limits (a container without one counting its request) %.2f x allocatable cpu, %.2f x memory", n, cpu, mem)
		if cpu < 1.5 || mem < 1.5 {
			t.Errorf("%s: limits %.2f x cpu, %.2f x memory; the scenario wants at least 1.5 x", n, cpu, mem)
		}
	}
}

// startSnug runs bin/scheduler as the shipped Deployment does: --config
// with manifests/scheduler-config.yaml (the ConfigMap of the kustomize
// base) and --v=2, under its ServiceAccount with the shipped RBAC, leader
// election on. A Deployment's pod reaches the API server in-cluster; here
// the file only gains clientConnection.kubeconfig (the ServiceAccount's
// token).
func (bf *brownfield) startSnug(t *testing.T) {
	t.Helper()
	kubeconfig := schedulerKubeconfig(t, bf.cp)
	cfg := fmt.Sprintf("clientConnection:\n  kubeconfig: %s\n%s", kubeconfig, manifests.SchedulerConfig)
	path := filepath.Join(t.TempDir(), "scheduler-config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	_, bf.port = startSchedulerAs(t, bf.cp, kubeconfig, path)
}

// ontoOvercommitted: snug pods with limits go to the brown nodes, whose
// limits are already over 1.5 x allocatable. A cap at or below 1.5 (such
// as the former default, 1 x memory) would refuse every one of them.
func (bf *brownfield) ontoOvercommitted(t *testing.T) {
	ctx := t.Context()
	var pods []*corev1.Pod
	for i := range len(brownNodes) {
		pods = append(pods, inPool(bfPod(fmt.Sprintf("snug-app-%d", i), manifests.SchedulerName, "100m", "128Mi", "500m", "1Gi"), "brown"))
	}
	if err := createAll(ctx, bf.c, bfNS, pods, 4); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		got, err := framework.WaitForPodScheduled(ctx, bf.c, bfNS, p.Name, 90*time.Second)
		if err != nil {
			msg := ""
			if got != nil {
				for _, c := range got.Status.Conditions {
					if c.Type == corev1.PodScheduled {
						msg = c.Reason + ": " + c.Message
					}
				}
			}
			t.Fatalf("snug pod %s not scheduled onto the overcommitted nodes: %v (%s)", p.Name, err, msg)
		}
		t.Logf("%s on %s", p.Name, got.Spec.NodeName)
	}
	m := bf.scrape(t)
	if r := m.sum("snug_overcommit_cap_rejections_total", nil); r != 0 {
		t.Errorf("snug_overcommit_cap_rejections_total = %v with the shipped config, want 0 (caps are opt-in)", r)
	}
}

// gatedUnderChurn holds bfGated snug pods at the dependency gate (they
// read ConfigMap bfSettings through envFrom, which does not exist), churns
// bound pods and node taints and labels for bfChurnFor, and measures, from
// snug's /metrics, what the churn cost per held pod.
//
// The bound (pkg/plugins/predictabledemands/events.go, verdicts.go): the
// gate records byGate for a pod it holds, and every hint of the plugin
// (Pod/Delete, Pod/Update, Node/Add|UpdateNodeAllocatable|UpdateNodeTaint)
// answers QueueSkip for such a pod; only the gate's own Activate (its
// ConfigMap appears) or PVC/Add of a PVC it waits for requeue it. Nothing
// of the churn is either, so a held pod is not requeued and not re-run
// through PreEnqueue during the window, and never reaches a scheduling
// attempt. The queue's own flush (every pod parked 5 minutes, whatever the
// hints) is the one exception, so the bound is bfGated x the flushes that
// can fall between the pods' creation and the window's end: 0 in this test.
func (bf *brownfield) gatedUnderChurn(t *testing.T) {
	ctx := t.Context()
	mustNamespace(t, bf.c, bfGatedNS)
	mustNamespace(t, bf.c, bfChurnNS)
	capacity := resources("16", "64Gi")
	capacity[corev1.ResourcePods] = resource.MustParse("1100")
	for _, n := range []string{"bulk-0", "bulk-1"} {
		if err := framework.CreateNodes(ctx, bf.c, framework.NewNode(n, capacity, map[string]string{bfPool: "bulk"})); err != nil {
			t.Fatal(err)
		}
	}

	// The held pods.
	gated := make([]*corev1.Pod, bfGated)
	for i := range gated {
		p := inPool(bfPod(fmt.Sprintf("gated-%04d", i), manifests.SchedulerName, "10m", "16Mi", "", ""), "bulk")
		p.Labels = map[string]string{"app": "gated"}
		p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: bfSettings}}}}
		gated[i] = p
	}
	createdAt := time.Now()
	if err := createAll(ctx, bf.c, bfGatedNS, gated, 8); err != nil {
		t.Fatal(err)
	}
	created := time.Since(createdAt)
	// All held: the queue's gated gauge and the gate's own.
	var before metricSet
	err := waitFor(ctx, 120*time.Second, func(context.Context) (bool, error) {
		before = bf.scrape(t)
		return before.sum("scheduler_pending_pods", metricLabels{"queue": "gated"}) == bfGated &&
			before.sum("snug_dependency_gate_held_pods", metricLabels{"kind": "ConfigMap", "reason": predictabledemands.ReasonMissingDependency}) == bfGated, nil
	})
	if err != nil {
		t.Fatalf("the gate does not hold %d pods: scheduler_pending_pods{queue=gated} %v, snug_dependency_gate_held_pods{ConfigMap,MissingDependency} %v: %v",
			bfGated, before.sum("scheduler_pending_pods", metricLabels{"queue": "gated"}),
			before.sum("snug_dependency_gate_held_pods", metricLabels{"kind": "ConfigMap", "reason": predictabledemands.ReasonMissingDependency}), err)
	}
	t.Logf("%d pods created in %v, all held by the gate %v after the first was created",
		bfGated, created.Round(100*time.Millisecond), time.Since(createdAt).Round(100*time.Millisecond))

	// The churn window.
	windowStart := time.Now()
	st := bf.churn(t)
	snugChurn := st.snugCreated
	if err := waitFor(ctx, 60*time.Second, func(ctx context.Context) (bool, error) {
		l, err := bf.c.CoreV1().Pods(bfChurnNS).List(ctx, metav1.ListOptions{LabelSelector: "app=snug-churn"})
		if err != nil {
			return false, nil
		}
		for _, p := range l.Items {
			if p.Spec.NodeName == "" {
				return false, nil
			}
		}
		return len(l.Items) == snugChurn, nil
	}); err != nil {
		t.Fatalf("snug's own churn pods not all scheduled during the churn: %v", err)
	}
	after, err := bf.settledScrape(ctx)
	if err != nil {
		t.Fatalf("the scheduler's metrics did not settle after the churn: %v", err)
	}
	windowEnd := time.Now()
	window := windowEnd.Sub(windowStart)

	d := func(name string, l metricLabels) float64 { return after.sum(name, l) - before.sum(name, l) }
	// Every PreEnqueue run of the profile. Its status label cannot tell
	// held from passed: kube-scheduler 1.36.3's runPreEnqueuePlugins records
	// the status of a variable its plugin loop shadows, so every run counts
	// as "Success". A run that passes sends a new pod to the activeQ; the
	// others held a pod.
	preEnqueueRuns := d("scheduler_framework_extension_point_duration_seconds_count",
		metricLabels{"extension_point": "PreEnqueue", "profile": manifests.SchedulerName})
	requeued := d("scheduler_queue_incoming_pods_total", metricLabels{"queue": "unschedulable"}) +
		d("scheduler_queue_incoming_pods_total", metricLabels{"queue": "backoff"})
	activeIn := d("scheduler_queue_incoming_pods_total", metricLabels{"queue": "active"})
	heldRuns := math.Max(0, preEnqueueRuns-activeIn)
	attempts := d("scheduler_schedule_attempts_total", metricLabels{"profile": manifests.SchedulerName})
	hints := d("scheduler_queueing_hint_execution_duration_seconds_count", metricLabels{"plugin": predictabledemands.Name})
	hintsQueue := hints - d("scheduler_queueing_hint_execution_duration_seconds_count", metricLabels{"plugin": predictabledemands.Name, "hint": "QueueSkip"})
	delCount := d("scheduler_event_handling_duration_seconds_count", metricLabels{"event": "AssignedPodDelete"})
	delSum := d("scheduler_event_handling_duration_seconds_sum", metricLabels{"event": "AssignedPodDelete"})
	sampledPlugin := d("scheduler_plugin_execution_duration_seconds_count", metricLabels{"plugin": predictabledemands.Name, "extension_point": "PreEnqueue"})

	flushes := math.Floor(windowEnd.Sub(createdAt).Seconds() / queueFlushAfter.Seconds())
	bound := bfGated * flushes
	t.Logf("churn window %v: %d pods deleted and %d created (default scheduler), %d snug pods created, %d node taint+label updates",
		window.Round(100*time.Millisecond), st.deleted, st.created, st.snugCreated, st.nodeUpdates)
	t.Logf("per held pod over the window: %.4f PreEnqueue runs that held it (total %v), %.4f requeues (total %v), %.4f scheduling attempts beyond snug's own churn pods (%v attempts, %d churn pods)",
		heldRuns/bfGated, heldRuns, requeued/bfGated, requeued, math.Max(0, attempts-float64(snugChurn))/bfGated, attempts, snugChurn)
	t.Logf("PreEnqueue runs: %v; pods into activeQ: %v (snug's churn pods)", preEnqueueRuns, activeIn)
	t.Logf("PredictableDemands queueing-hint calls recorded: %v (%v not QueueSkip); the async metric keeps at most 1,000 samples a second, so this is a lower bound; expected about %d (deletions + node updates) x %d held",
		hints, hintsQueue, st.deleted+st.nodeUpdates, bfGated)
	if delCount > 0 {
		t.Logf("snug handled %v AssignedPodDelete events, %.2f ms each on average, with %d held pods",
			delCount, 1000*delSum/delCount, bfGated)
	}
	t.Logf("scheduler_plugin_execution_duration_seconds_count{PredictableDemands,PreEnqueue} (10%% sampled): +%v", sampledPlugin)
	if heldRuns > bound {
		t.Errorf("held pods re-run through PreEnqueue %v times during the churn (%.2f per pod), want at most %v: a pod or node event requeues pods the gate holds",
			heldRuns, heldRuns/bfGated, bound)
	}
	if requeued > bound {
		t.Errorf("%v pods moved into the unschedulable or backoff queue during the churn (scheduler_queue_incoming_pods_total), want at most %v: held pods were requeued",
			requeued, bound)
	}
	// Snug's own churn pods: one PreEnqueue, one attempt and one activeQ
	// entry each; a few retries are tolerated, held pods reaching the queue
	// (thousands) are not.
	const slack = 5
	if activeIn > float64(snugChurn+slack) {
		t.Errorf("%v pods entered the activeQ during the churn, want at most %d (snug's churn pods) + %d", activeIn, snugChurn, slack)
	}
	if attempts > float64(snugChurn+slack) {
		t.Errorf("%v scheduling attempts during the churn, want at most %d (snug's churn pods) + %d: held pods were attempted", attempts, snugChurn, slack)
	}

	// How the gate reports (README: "A pod held by the gate shows
	// PodScheduled=False, reason MissingDependency"): on every held pod,
	// naming the ConfigMap. The leader writes one status patch per pod, at
	// its client's 50 QPS, so 2,000 take at least 40 s; the churn took 30
	// of them, and another minute is plenty.
	var reported int
	var silent []string
	err = waitFor(ctx, 60*time.Second, func(ctx context.Context) (bool, error) {
		l, err := bf.c.CoreV1().Pods(bfGatedNS).List(ctx, metav1.ListOptions{LabelSelector: "app=gated"})
		if err != nil {
			return false, nil
		}
		reported, silent = 0, nil
		for _, p := range l.Items {
			if p.Spec.NodeName != "" {
				return false, fmt.Errorf("held pod %s was bound to %s while its ConfigMap is missing", p.Name, p.Spec.NodeName)
			}
			ok := false
			for _, c := range p.Status.Conditions {
				ok = ok || c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse &&
					c.Reason == predictabledemands.ReasonMissingDependency && strings.Contains(c.Message, `ConfigMap "`+bfSettings+`"`)
			}
			if ok {
				reported++
			} else {
				silent = append(silent, p.Name)
			}
		}
		return reported == bfGated, nil
	})
	if err != nil {
		t.Errorf("%d of %d held pods say PodScheduled=False %s naming ConfigMap %s %v after the first was created; without it, e.g. %v: %v",
			reported, bfGated, predictabledemands.ReasonMissingDependency, bfSettings, time.Since(createdAt).Round(time.Second), silent[:min(5, len(silent))], err)
	} else {
		t.Logf("all %d held pods carry PodScheduled=False, reason %s, %v after the first was created",
			bfGated, predictabledemands.ReasonMissingDependency, time.Since(createdAt).Round(100*time.Millisecond))
	}

	// The ConfigMap appears: every held pod is scheduled.
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: bfSettings}, Data: map[string]string{"mode": "brownfield"}}
	released := time.Now()
	if _, err := bf.c.CoreV1().ConfigMaps(bfGatedNS).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bound2 := 0
	// A list of 2,000 pods a poll: once a second is often enough.
	err = wait.PollUntilContextTimeout(ctx, time.Second, 180*time.Second, true, func(ctx context.Context) (bool, error) {
		l, err := bf.c.CoreV1().Pods(bfGatedNS).List(ctx, metav1.ListOptions{LabelSelector: "app=gated"})
		if err != nil {
			return false, nil
		}
		bound2 = 0
		for _, p := range l.Items {
			if p.Spec.NodeName != "" {
				bound2++
			}
		}
		return bound2 == bfGated, nil
	})
	if err != nil {
		t.Fatalf("%d of %d pods scheduled after ConfigMap %s was created: %v", bound2, bfGated, bfSettings, err)
	}
	t.Logf("all %d pods scheduled %v after ConfigMap %s was created", bfGated, time.Since(released).Round(100*time.Millisecond), bfSettings)
	m := bf.scrape(t)
	if h := m.sum("snug_dependency_gate_held_pods", nil); h != 0 {
		t.Errorf("snug_dependency_gate_held_pods sums to %v once every pod was scheduled, want 0", h)
	}
}

type churnStats struct{ created, deleted, snugCreated, nodeUpdates int }

// churn runs the churn for bfChurnFor on the brown nodes.
func (bf *brownfield) churn(t *testing.T) churnStats {
	ctx := t.Context()
	var st churnStats
	var ring []string
	tick := time.NewTicker(bfChurnTick)
	defer tick.Stop()
	end := time.Now().Add(bfChurnFor)
	for i := 0; time.Now().Before(end); i++ {
		<-tick.C
		p := bfPod(fmt.Sprintf("churn-%04d", i), corev1.DefaultSchedulerName, "50m", "64Mi", "100m", "128Mi")
		p.Labels = map[string]string{"app": "churn"}
		if i%2 == 0 {
			p.Spec.NodeName = brownNodes[(i/2)%len(brownNodes)] // created bound
		} else {
			inPool(p, "brown") // bound by kube-scheduler
		}
		if _, err := bf.c.CoreV1().Pods(bfChurnNS).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatalf("churn: %v", err)
		}
		st.created++
		ring = append(ring, p.Name)
		if len(ring) > bfChurnRing {
			err := bf.c.CoreV1().Pods(bfChurnNS).Delete(ctx, ring[0], metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
			if err != nil && !apierrors.IsNotFound(err) {
				t.Fatalf("churn: %v", err)
			}
			ring = ring[1:]
			st.deleted++
		}
		if i%5 == 0 {
			s := inPool(bfPod(fmt.Sprintf("snug-churn-%03d", st.snugCreated), manifests.SchedulerName, "50m", "64Mi", "100m", "128Mi"), "brown")
			s.Labels = map[string]string{"app": "snug-churn"}
			if _, err := bf.c.CoreV1().Pods(bfChurnNS).Create(ctx, s, metav1.CreateOptions{}); err != nil {
				t.Fatalf("churn: %v", err)
			}
			st.snugCreated++
		}
		if i%10 == 0 {
			bf.toggleChurnTaint(t, brownNodes[(i/10)%len(brownNodes)], i)
			st.nodeUpdates++
		}
	}
	return st
}

// toggleChurnTaint adds or removes a PreferNoSchedule taint on the node
// and sets a label, in one update.
func (bf *brownfield) toggleChurnTaint(t *testing.T, name string, gen int) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := bf.c.CoreV1().Nodes().Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		var taints []corev1.Taint
		had := false
		for _, tn := range n.Spec.Taints {
			if tn.Key == bfChurnTaint {
				had = true
				continue
			}
			taints = append(taints, tn)
		}
		if !had {
			taints = append(taints, corev1.Taint{Key: bfChurnTaint, Value: "true", Effect: corev1.TaintEffectPreferNoSchedule})
		}
		n.Spec.Taints = taints
		n.Labels[bfChurnLabel] = strconv.Itoa(gen)
		_, err = bf.c.CoreV1().Nodes().Update(t.Context(), n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("churn: node %s: %v", name, err)
	}
}

// softSetup creates three pairs of 4-CPU, 8Gi nodes, each node of a pair
// holding one filler pod (bound directly, as the default scheduler's): on
// "a" 1100m and 2200Mi, on "b" 1000m and 2000Mi, so "a" is fuller by 2.5%
// of the node in both resources and packing alone prefers it. Every node
// also runs the DaemonSet's pod. Pairs: soft (b carries the label the
// preferred affinity asks for), taint (a carries a PreferNoSchedule taint),
// ctl (nothing: where packing alone puts a pod).
func (bf *brownfield) softSetup(t *testing.T) {
	ctx := t.Context()
	mustNamespace(t, bf.c, bfSoftNS)
	var nodes []string
	for _, pool := range []string{"soft", "taint", "ctl"} {
		for _, side := range []string{"a", "b"} {
			name := pool + "-" + side
			n := framework.NewNode(name, resources("4", "8Gi"), map[string]string{bfPool: pool})
			if pool == "soft" && side == "b" {
				n.Labels[bfPreferred] = "true"
			}
			if pool == "taint" && side == "a" {
				n.Spec.Taints = []corev1.Taint{{Key: bfAvoid, Value: "true", Effect: corev1.TaintEffectPreferNoSchedule}}
			}
			if err := framework.CreateNodes(ctx, bf.c, n); err != nil {
				t.Fatal(err)
			}
			nodes = append(nodes, name)
			cpu, mem := "1000m", "2000Mi"
			if side == "a" {
				cpu, mem = "1100m", "2200Mi"
			}
			f := bfPod("filler-"+name, corev1.DefaultSchedulerName, cpu, mem, "", "")
			f.Spec.NodeName = name
			if _, err := bf.c.CoreV1().Pods(bfSoftNS).Create(ctx, f, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The DaemonSet's pods on the new nodes, bound by kube-scheduler: equal
	// on both nodes of a pair, but they must be there before snug scores.
	err := waitFor(ctx, 60*time.Second, func(ctx context.Context) (bool, error) {
		l, err := bf.c.CoreV1().Pods(bfNS).List(ctx, metav1.ListOptions{LabelSelector: "app=node-agent"})
		if err != nil {
			return false, nil
		}
		on := map[string]bool{}
		for _, p := range l.Items {
			on[p.Spec.NodeName] = true
		}
		for _, n := range nodes {
			if !on[n] {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("DaemonSet pods not bound on %v: %v", nodes, err)
	}
	// Control: with nothing but packing to go by, snug picks ctl-a, fuller
	// only by its filler. Until it does, snug's snapshot may still lack a
	// filler, so a control that lands on ctl-b is deleted and another sent.
	// The ctl pair is created last, and the scheduler's pod informer sees
	// events in order, so once a control lands on ctl-a the other pairs'
	// fillers are in its snapshot too.
	var landed []string
	err = waitFor(ctx, 60*time.Second, func(ctx context.Context) (bool, error) {
		name := fmt.Sprintf("control-%d", len(landed))
		if _, err := bf.c.CoreV1().Pods(bfSoftNS).Create(ctx, inPool(bfPod(name, manifests.SchedulerName, "500m", "1Gi", "", ""), "ctl"), metav1.CreateOptions{}); err != nil {
			return false, err
		}
		got, err := framework.WaitForPodScheduled(ctx, bf.c, bfSoftNS, name, 30*time.Second)
		if err != nil {
			return false, err
		}
		landed = append(landed, got.Spec.NodeName)
		if got.Spec.NodeName == "ctl-a" {
			return true, nil
		}
		return false, bf.c.CoreV1().Pods(bfSoftNS).Delete(ctx, name, *metav1.NewDeleteOptions(0))
	})
	if err != nil {
		t.Fatalf("no control pod (no preference, pool ctl) landed on ctl-a, the fuller node, in 60 s: landed on %v: %v", landed, err)
	}
	t.Logf("control pods (no preference, pool ctl) landed on %v (packing alone prefers ctl-a)", landed)
}

// preferredAffinity: a pod preferring soft-b (weight 100) lands on it
// although soft-a is 2.5% fuller.
func (bf *brownfield) preferredAffinity(t *testing.T) {
	p := inPool(bfPod("prefers-b", manifests.SchedulerName, "500m", "1Gi", "", ""), "soft")
	p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
			Weight: 100,
			Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: bfPreferred, Operator: corev1.NodeSelectorOpIn, Values: []string{"true"}}}},
		}},
	}}
	if got := bf.place(t, p); got != "soft-b" {
		t.Errorf("pod with a preferred node affinity (weight 100) for soft-b landed on %s: a 2.5%% packing difference overrode it (issue 19, item 5)", got)
	}
}

// preferNoSchedule: a pod without a toleration avoids taint-a
// (PreferNoSchedule) although it is 2.5% fuller than the untainted taint-b.
func (bf *brownfield) preferNoSchedule(t *testing.T) {
	p := inPool(bfPod("no-toleration", manifests.SchedulerName, "500m", "1Gi", "", ""), "taint")
	if got := bf.place(t, p); got != "taint-b" {
		t.Errorf("pod without a toleration landed on %s, the PreferNoSchedule-tainted node, although untainted taint-b packs almost as well (issue 19, item 5)", got)
	}
}

func (bf *brownfield) place(t *testing.T, p *corev1.Pod) string {
	t.Helper()
	if _, err := bf.c.CoreV1().Pods(bfSoftNS).Create(t.Context(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := framework.WaitForPodScheduled(t.Context(), bf.c, bfSoftNS, p.Name, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s on %s", p.Name, got.Spec.NodeName)
	return got.Spec.NodeName
}

// createAll creates the pods with workers concurrent clients.
func createAll(ctx context.Context, c kubernetes.Interface, ns string, pods []*corev1.Pod, workers int) error {
	ch := make(chan *corev1.Pod)
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for p := range ch {
				if _, err := c.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("create pod %s/%s: %w", ns, p.Name, err)
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, p := range pods {
		ch <- p
	}
	close(ch)
	wg.Wait()
	return first
}

// metricLabels selects series by some of their labels.
type metricLabels map[string]string

// promSample is one series of a Prometheus text exposition.
type promSample struct {
	name   string
	labels map[string]string
	value  float64
}

type metricSet []promSample

// scrape reads snug's /metrics.
func (bf *brownfield) scrape(t *testing.T) metricSet {
	t.Helper()
	return parseMetrics(schedulerMetrics(t, bf.cp, bf.port))
}

// asyncFlush is how often kube-scheduler's async recorder flushes the
// plugin and queueing-hint metrics it buffers.
const asyncFlush = time.Second

// settledMetrics are the counters the churn window diffs.
var settledMetrics = []string{
	"scheduler_framework_extension_point_duration_seconds_count",
	"scheduler_queue_incoming_pods_total",
	"scheduler_schedule_attempts_total",
	"scheduler_queueing_hint_execution_duration_seconds_count",
	"scheduler_event_handling_duration_seconds_count",
	"scheduler_plugin_execution_duration_seconds_count",
}

// settledScrape scrapes until settledMetrics are unchanged over more than
// one async flush, so observations buffered before the call are counted.
func (bf *brownfield) settledScrape(ctx context.Context) (metricSet, error) {
	var prev, cur metricSet
	var lastErr error
	same := func() bool {
		for _, name := range settledMetrics {
			if prev.sum(name, nil) != cur.sum(name, nil) {
				return false
			}
		}
		return true
	}
	err := wait.PollUntilContextTimeout(ctx, asyncFlush+asyncFlush/4, 30*time.Second, false, func(ctx context.Context) (bool, error) {
		body, err := fetchSchedulerMetrics(ctx, bf.cp, bf.port)
		if err != nil {
			lastErr = err
			return false, nil
		}
		lastErr = nil
		prev, cur = cur, parseMetrics(body)
		return prev != nil && same(), nil
	})
	if err != nil && lastErr != nil {
		err = fmt.Errorf("%w (last scrape: %v)", err, lastErr)
	}
	return cur, err
}

// sum adds the values of the series of name whose labels include want.
func (m metricSet) sum(name string, want metricLabels) float64 {
	var s float64
series:
	for _, x := range m {
		if x.name != name {
			continue
		}
		for k, v := range want {
			if x.labels[k] != v {
				continue series
			}
		}
		s += x.value
	}
	return s
}

// parseMetrics parses the Prometheus text format (no timestamps, as
// component-base writes it).
func parseMetrics(text string) metricSet {
	var out metricSet
	for line := range strings.SplitSeq(text, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		head := line[:sp]
		s := promSample{labels: map[string]string{}, value: v}
		i := strings.IndexByte(head, '{')
		if i < 0 {
			s.name = head
		} else {
			s.name = head[:i]
			parseLabels(strings.TrimSuffix(head[i+1:], "}"), s.labels)
		}
		out = append(out, s)
	}
	return out
}

// parseLabels parses `k="v",k2="v2"` (values with \\, \" and \n escapes).
func parseLabels(s string, into map[string]string) {
	for len(s) > 0 {
		eq := strings.IndexByte(s, '=')
		if eq < 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			return
		}
		key := strings.TrimLeft(s[:eq], ", ")
		var val strings.Builder
		j := eq + 2
		for ; j < len(s) && s[j] != '"'; j++ {
			if s[j] == '\\' && j+1 < len(s) {
				j++
				if s[j] == 'n' {
					val.WriteByte('\n')
					continue
				}
			}
			val.WriteByte(s[j])
		}
		into[key] = val.String()
		if j >= len(s) {
			return
		}
		s = s[j+1:]
	}
}
