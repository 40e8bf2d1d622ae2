package integration

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/snug-sched/snug/manifests"
	"github.com/snug-sched/snug/test/integration/framework"
)

const (
	lowPriority  = "low"
	highPriority = "high"
)

func priorityClasses(t *testing.T, c kubernetes.Interface) {
	t.Helper()
	for name, value := range map[string]int32{lowPriority: 100, highPriority: 1000} {
		pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value}
		if _, err := c.SchedulingV1().PriorityClasses().Create(t.Context(), pc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// qosPod returns a pod of the given QoS class: BestEffort (no resources),
// Burstable (requests only) or Guaranteed (limits = requests).
func qosPod(name, node, priorityClass string, qos corev1.PodQOSClass, cpu, memory string) *corev1.Pod {
	p := pod(name, manifests.SchedulerName, cpu, memory)
	p.Spec.PriorityClassName = priorityClass
	p.Spec.NodeName = node
	switch qos {
	case corev1.PodQOSBestEffort:
		p.Spec.Containers[0].Resources = corev1.ResourceRequirements{}
	case corev1.PodQOSGuaranteed:
		p.Spec.Containers[0].Resources.Limits = p.Spec.Containers[0].Resources.Requests.DeepCopy()
	}
	return p
}

// createPods creates the pods in order. The victim order and the node
// choice compare start times, so the pods bound to a node get distinct
// ones, one second apart in creation order (metav1.Time has second
// resolution), the last one now: as if each had started a second after the
// one before. The fake kubelet keeps a start time it finds set.
func createPods(t *testing.T, c kubernetes.Interface, ns string, pods ...*corev1.Pod) {
	t.Helper()
	bound := 0
	for _, p := range pods {
		if p.Spec.NodeName != "" {
			bound++
		}
	}
	start := time.Now().Truncate(time.Second).Add(-time.Duration(bound-1) * time.Second)
	for _, p := range pods {
		if _, err := c.CoreV1().Pods(ns).Create(t.Context(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if p.Spec.NodeName != "" {
			setStartTime(t, c, ns, p.Name, start)
			start = start.Add(time.Second)
		}
	}
}

// setStartTime sets the pod's status.startTime, as a kubelet does when it
// first runs the pod.
func setStartTime(t *testing.T, c kubernetes.Interface, ns, name string, at time.Time) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error { // the fake kubelet updates the status too
		p, err := c.CoreV1().Pods(ns).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		p.Status.StartTime = &metav1.Time{Time: at}
		_, err = c.CoreV1().Pods(ns).UpdateStatus(t.Context(), p, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("set start time of %s: %v", name, err)
	}
}

// waitGone waits until the pod is deleted.
func waitGone(t *testing.T, c kubernetes.Interface, ns, name string, timeout time.Duration) error {
	t.Helper()
	return waitFor(t.Context(), timeout, func(ctx context.Context) (bool, error) {
		_, err := c.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

func exists(t *testing.T, c kubernetes.Interface, ns, name string) bool {
	t.Helper()
	p, err := c.CoreV1().Pods(ns).Get(t.Context(), name, metav1.GetOptions{})
	return err == nil && p.DeletionTimestamp == nil
}

// scheduler metrics over its secure port, authorized as the admin.
func schedulerMetrics(t *testing.T, cp *framework.ControlPlane, port int) string {
	t.Helper()
	body, err := fetchSchedulerMetrics(t.Context(), cp, port)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// metricsClient is shared so that repeated scrapes reuse one connection.
var metricsClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // self-signed serving cert

// fetchSchedulerMetrics GETs /metrics of the scheduler serving on port.
func fetchSchedulerMetrics(ctx context.Context, cp *framework.ControlPlane, port int) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d/metrics", port), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+cp.RestConfig.BearerToken)
	resp, err := metricsClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /metrics: %s: %s", resp.Status, body)
	}
	return string(body), nil
}

// (1) Among victims of equal priority, BestEffort goes before Burstable and
// Guaranteed, although it started first (upstream would take the newest).
func TestPreemptionVictimsByQoS(t *testing.T) {
	ctx := t.Context()
	cp := framework.StartForTest(t, framework.Options{})
	if err := cp.StartFakeKubelet(ctx); err != nil {
		t.Fatal(err)
	}
	c := cp.Client
	ns := mustNamespace(t, c, "qos")
	priorityClasses(t, c)
	capacity := resources("4", "8Gi")
	capacity[corev1.ResourcePods] = resource.MustParse("3") // the pod slot is the scarce resource
	if err := framework.CreateNodes(ctx, c, framework.NewNode("node-0", capacity, nil)); err != nil {
		t.Fatal(err)
	}
	createPods(t, c, ns,
		qosPod("best-effort", "node-0", lowPriority, corev1.PodQOSBestEffort, "0", "0"),
		qosPod("burstable", "node-0", lowPriority, corev1.PodQOSBurstable, "500m", "1Gi"),
		qosPod("guaranteed", "node-0", lowPriority, corev1.PodQOSGuaranteed, "500m", "1Gi"),
	)
	_, port := startSchedulerOnPort(t, cp, "")
	preemptor := qosPod("preemptor", "", highPriority, corev1.PodQOSBurstable, "100m", "128Mi")
	createPods(t, c, ns, preemptor)
	if err := waitGone(t, c, ns, "best-effort", 60*time.Second); err != nil {
		t.Fatalf("BestEffort victim not preempted: %v", err)
	}
	if p, err := framework.WaitForPodScheduled(ctx, c, ns, "preemptor", 60*time.Second); err != nil || p.Spec.NodeName != "node-0" {
		t.Fatalf("preemptor not bound to node-0: %v", err)
	}
	for _, name := range []string{"burstable", "guaranteed"} {
		if !exists(t, c, ns, name) {
			t.Errorf("%s pod was preempted; only the BestEffort pod should be", name)
		}
	}
	m := schedulerMetrics(t, cp, port)
	if want := `snug_preemption_victims_total{priority="100",qos_class="BestEffort"} 1`; !strings.Contains(m, want) {
		t.Errorf("/metrics lacks %q", want)
	}
	if !strings.Contains(m, "snug_preemption_attempts_total") {
		t.Error("/metrics lacks snug_preemption_attempts_total")
	}
}

// (2) Respect mode: a preemptor whose only victims are protected by a PDB
// stays pending, saying so, and is placed once the PDB allows a disruption.
func TestPreemptionRespectsPDB(t *testing.T) {
	ctx := t.Context()
	cp := framework.StartForTest(t, framework.Options{WithControllerManager: true})
	if err := cp.StartFakeKubelet(ctx); err != nil {
		t.Fatal(err)
	}
	c := cp.Client
	ns := mustNamespace(t, c, "pdb")
	priorityClasses(t, c)
	if err := framework.CreateNodes(ctx, c, framework.NewNode("node-0", resources("2", "4Gi"), nil)); err != nil {
		t.Fatal(err)
	}
	var victims []*corev1.Pod
	for i := 0; i < 2; i++ {
		p := qosPod(fmt.Sprintf("db-%d", i), "node-0", lowPriority, corev1.PodQOSBurstable, "1", "1Gi")
		p.Labels = map[string]string{"app": "db"}
		victims = append(victims, p)
	}
	createPods(t, c, ns, victims...)
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(2)),
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
		},
	}
	if _, err := c.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPDB(t, c, ns, "db", 2, 0)
	startScheduler(t, cp, "") // shipped profile: pdbMode Respect
	createPods(t, c, ns, qosPod("preemptor", "", highPriority, corev1.PodQOSBurstable, "1", "1Gi"))
	msg := podScheduledCondition(t, c, ns, "preemptor", corev1.PodReasonUnschedulable)
	if !strings.Contains(msg, "PodDisruptionBudget") {
		t.Errorf("pending preemptor's message %q does not mention the PodDisruptionBudget", msg)
	}
	// The node is full, so PredictableDemands' room check rejected the
	// preemptor in PreFilter (no Filter pass) and preemption still ran.
	if !strings.Contains(msg, "Insufficient cpu (room check") {
		t.Errorf("pending preemptor's message %q does not come from the room check", msg)
	}
	// The preemptor (priority 1000) would be retried before the marker
	// (priority 0) were it reactivated.
	waitSchedulerCaughtUp(t, c, ns, "marker")
	for _, v := range victims {
		if !exists(t, c, ns, v.Name) {
			t.Fatalf("%s was preempted although its PDB allows no disruption", v.Name)
		}
	}
	// Allow one disruption: the disruption controller updates the status,
	// which re-activates the preemptor.
	got, err := c.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got.Spec.MinAvailable = ptr.To(intstr.FromInt32(1))
	if _, err := c.PolicyV1().PodDisruptionBudgets(ns).Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	allowed := time.Now()
	if _, err := framework.WaitForPodScheduled(ctx, c, ns, "preemptor", 60*time.Second); err != nil {
		t.Fatalf("preemptor not placed after the PDB allowed a disruption: %v", err)
	}
	t.Logf("placed %v after the PDB change", time.Since(allowed).Round(100*time.Millisecond))
	left := 0
	for _, v := range victims {
		if exists(t, c, ns, v.Name) {
			left++
		}
	}
	if left != 1 {
		t.Errorf("%d of 2 PDB-protected pods left, want exactly 1 (one disruption allowed)", left)
	}
}

func waitPDB(t *testing.T, c kubernetes.Interface, ns, name string, healthy, allowed int32) {
	t.Helper()
	err := waitFor(t.Context(), 60*time.Second, func(ctx context.Context) (bool, error) {
		p, err := c.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return p.Status.ObservedGeneration == p.Generation && p.Status.CurrentHealthy == healthy && p.Status.DisruptionsAllowed == allowed, nil
	})
	if err != nil {
		t.Fatalf("PDB %s never reported %d healthy, %d allowed: %v", name, healthy, allowed, err)
	}
}

// (3) DaemonSet pods are never victims, even when they are the least
// important pods on the node.
func TestPreemptionSparesDaemonSetPods(t *testing.T) {
	ctx := t.Context()
	cp := framework.StartForTest(t, framework.Options{})
	if err := cp.StartFakeKubelet(ctx); err != nil {
		t.Fatal(err)
	}
	c := cp.Client
	ns := mustNamespace(t, c, "daemons")
	priorityClasses(t, c)
	if err := framework.CreateNodes(ctx, c, framework.NewNode("node-0", resources("4", "8Gi"), nil)); err != nil {
		t.Fatal(err)
	}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec:       pod("x", corev1.DefaultSchedulerName, "100m", "64Mi").Spec,
			},
		},
	}
	ds, err := c.AppsV1().DaemonSets(ns).Create(ctx, ds, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The DaemonSet pod is BestEffort-cheap to lose by QoS (Burstable, newest)
	// and big: any QoS-only order would pick it.
	agent := qosPod("agent-node-0", "node-0", lowPriority, corev1.PodQOSBurstable, "2", "4Gi")
	agent.Labels = map[string]string{"app": "agent"}
	agent.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: ds.Name, UID: ds.UID, Controller: ptr.To(true)}}
	createPods(t, c, ns,
		qosPod("worker", "node-0", lowPriority, corev1.PodQOSGuaranteed, "2", "4Gi"),
		agent,
	)
	startScheduler(t, cp, "")
	createPods(t, c, ns, qosPod("preemptor", "", highPriority, corev1.PodQOSBurstable, "2", "4Gi"))
	if err := waitGone(t, c, ns, "worker", 60*time.Second); err != nil {
		t.Fatalf("the non-DaemonSet pod was not preempted: %v", err)
	}
	if !exists(t, c, ns, "agent-node-0") {
		t.Fatal("DaemonSet pod was preempted")
	}
	if _, err := framework.WaitForPodScheduled(ctx, c, ns, "preemptor", 60*time.Second); err != nil {
		t.Fatalf("preemptor not placed: %v", err)
	}
}

// (4) Among equally good candidate nodes, the one that leaves the least
// stranded capacity once the preemptor runs is chosen; upstream's last
// tie-breaker (latest start time) would pick the other.
func TestPreemptionPrefersLeastStranding(t *testing.T) {
	ctx := t.Context()
	cp := framework.StartForTest(t, framework.Options{})
	if err := cp.StartFakeKubelet(ctx); err != nil {
		t.Fatal(err)
	}
	c := cp.Client
	ns := mustNamespace(t, c, "stranding")
	priorityClasses(t, c)
	if err := framework.CreateNodes(ctx, c,
		framework.NewNode("node-a", resources("8", "16Gi"), nil),
		framework.NewNode("node-b", resources("8", "16Gi"), nil),
		framework.NewNode("node-c", resources("2", "4Gi"), nil),
	); err != nil {
		t.Fatal(err)
	}
	// After preemption node-a keeps (2 cpu, 4Gi) free: two small pods fit.
	// node-b keeps (2 cpu, 10Gi) free: 6Gi that no shape can use.
	createPods(t, c, ns,
		qosPod("small-0", "node-c", highPriority, corev1.PodQOSBurstable, "1", "2Gi"),
		qosPod("small-1", "node-c", highPriority, corev1.PodQOSBurstable, "1", "2Gi"),
		qosPod("keep-a", "node-a", highPriority, corev1.PodQOSBurstable, "2", "8Gi"),
		qosPod("keep-b", "node-b", highPriority, corev1.PodQOSBurstable, "2", "2Gi"),
		qosPod("victim-a", "node-a", lowPriority, corev1.PodQOSBurstable, "6", "8Gi"),
		qosPod("victim-b", "node-b", lowPriority, corev1.PodQOSBurstable, "6", "8Gi"), // started last
	)
	startScheduler(t, cp, "")
	createPods(t, c, ns, qosPod("preemptor", "", highPriority, corev1.PodQOSBurstable, "4", "4Gi"))
	if err := waitGone(t, c, ns, "victim-a", 60*time.Second); err != nil {
		t.Fatalf("victim-a not preempted: %v", err)
	}
	p, err := framework.WaitForPodScheduled(ctx, c, ns, "preemptor", 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.NodeName != "node-a" {
		t.Errorf("preemptor on %s, want node-a (least stranding)", p.Spec.NodeName)
	}
	if !exists(t, c, ns, "victim-b") {
		t.Error("victim-b was preempted too")
	}
}

// (5) Respect mode with a budget to spend (issue 19, item 3): PDB web
// allows one disruption; a full 5-CPU node holds a (web, 1 CPU, priority
// 101), b (web, 3 CPU, 102) and c (no PDB, 1 CPU, 103); the preemptor needs
// 4 CPU. Evicting b and c makes room with one disruption of web; spending
// the budget on a, the least important pod, leaves too little room, and
// snug used to report the node as blocked by the PDB.
func TestPreemptionRespectsPDBWithinBudget(t *testing.T) {
	ctx := t.Context()
	cp := framework.StartForTest(t, framework.Options{WithControllerManager: true})
	if err := cp.StartFakeKubelet(ctx); err != nil {
		t.Fatal(err)
	}
	c := cp.Client
	ns := mustNamespace(t, c, "pdb-budget")
	priorityClasses(t, c)
	for name, value := range map[string]int32{"prio-1": 101, "prio-2": 102, "prio-3": 103} {
		pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value}
		if _, err := c.SchedulingV1().PriorityClasses().Create(ctx, pc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := framework.CreateNodes(ctx, c, framework.NewNode("node-0", resources("5", "8Gi"), nil)); err != nil {
		t.Fatal(err)
	}
	web := map[string]string{"app": "web"}
	a := qosPod("a", "node-0", "prio-1", corev1.PodQOSBurstable, "1", "1Gi")
	a.Labels = web
	b := qosPod("b", "node-0", "prio-2", corev1.PodQOSBurstable, "3", "1Gi")
	b.Labels = web
	createPods(t, c, ns, a, b, qosPod("c", "node-0", "prio-3", corev1.PodQOSBurstable, "1", "1Gi"))
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(1)),
			Selector:     &metav1.LabelSelector{MatchLabels: web},
		},
	}
	if _, err := c.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPDB(t, c, ns, "web", 2, 1)
	startScheduler(t, cp, "") // shipped profile: pdbMode Respect
	createPods(t, c, ns, qosPod("preemptor", "", highPriority, corev1.PodQOSBurstable, "4", "1Gi"))
	p, err := framework.WaitForPodScheduled(ctx, c, ns, "preemptor", 60*time.Second)
	if err != nil {
		t.Fatalf("preemptor not placed although evicting b and c respects the PDB: %v", err)
	}
	if p.Spec.NodeName != "node-0" {
		t.Errorf("preemptor on %q, want node-0", p.Spec.NodeName)
	}
	for _, name := range []string{"b", "c"} {
		if err := waitGone(t, c, ns, name, 30*time.Second); err != nil {
			t.Errorf("%s not preempted: %v", name, err)
		}
	}
	if !exists(t, c, ns, "a") {
		t.Error("a was preempted: the budget went to the pod that frees too little")
	}
}
