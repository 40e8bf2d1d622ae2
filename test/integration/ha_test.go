package integration

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/snug-sched/snug/manifests"
	"github.com/snug-sched/snug/pkg/plugins/predictabledemands"
	"github.com/snug-sched/snug/test/integration/framework"
)

// The shipped leader-election lease (manifests/scheduler-config.yaml).
const (
	leaseNamespace = "kube-system"
	leaseName      = "snug-scheduler"
)

// shortLease are leader-election timings for the first pair of schedulers:
// upstream's defaults (15s lease, 10s renew deadline, 2s retry) make a
// takeover after a crash take 15-17s. The second pair runs the defaults.
var shortLease = []string{
	"--leader-elect-lease-duration=6s",
	"--leader-elect-renew-deadline=4s",
	"--leader-elect-retry-period=1s",
}

// TestHA runs snug's scheduler as the Deployment does, two replicas under
// the scheduler's ServiceAccount and the shipped RBAC, leader election on
// the shipped lease, against a real control plane with
// kube-controller-manager (issue 18, item 5). In order:
//
//  1. A standby writes nothing. While the test itself holds the lease, both
//     replicas are standbys; both hold a pod whose ConfigMap is missing
//     (their gate metrics say so), and neither writes its PodScheduled
//     condition or an event. Once the test releases the lease, the replica
//     that takes it writes both, once.
//  2. Takeover under load, short lease (6s): while 1,000 pods are being
//     created, the leader is SIGKILLed. Every pod is bound exactly once (its
//     nodeName is set once and never changes; it is in exactly one
//     replica's "Successfully bound" log lines, or in none only if the
//     killed leader bound it and died before logging; at most one
//     Scheduled event per pod UID; no FailedScheduling event), none is lost
//     or left Pending (the fake kubelet runs every bound pod), and the
//     standby took over: the lease changed holder, and the standby bound
//     pods only after the kill.
//  3. The same with upstream's default timings (15s lease), 300 pods, on a
//     second pair of replicas.
//
// It logs the takeover times: kill to lease acquired, and kill to the new
// leader's first binding.
func TestHA(t *testing.T) {
	ctx := t.Context()
	cp := framework.StartForTest(t, framework.Options{WithControllerManager: true})
	c := cp.Client
	if err := cp.StartFakeKubelet(ctx); err != nil {
		t.Fatal(err)
	}
	var nodes []*corev1.Node
	for i := range 12 {
		capacity := resources("4", "8Gi")
		capacity[corev1.ResourcePods] = resource.MustParse("128")
		nodes = append(nodes, framework.NewNode(fmt.Sprintf("ha-node-%02d", i), capacity, nil))
	}
	if err := framework.CreateNodes(ctx, c, nodes...); err != nil {
		t.Fatal(err)
	}
	kubeconfig := schedulerKubeconfig(t, cp)

	// Phase 1: the test holds the lease, so both replicas are standbys.
	holdLease(t, c, "ha-test")
	a := startHAScheduler(t, cp, kubeconfig, "snug-scheduler-a", shortLease...)
	b := startHAScheduler(t, cp, kubeconfig, "snug-scheduler-b", shortLease...)
	var leader, standby *haScheduler
	if !t.Run("StandbyWritesNothing", func(t *testing.T) {
		leader, standby = testStandbyWritesNothing(t, cp, a, b)
	}) {
		t.FailNow()
	}

	// Phase 2: the 1,000 pods of the issue; the leader dies a third of the
	// way through.
	var newLeader *haScheduler
	if !t.Run("TakeoverShortLease", func(t *testing.T) {
		r := takeoverRound(t, cp, "ha-short", 1000, 300, leader, standby)
		newLeader = standby
		t.Logf("takeover with a 6s lease: lease acquired %v after the kill, first binding by the new leader %v after the kill (%d pods in %v)",
			r.leaseAfter, r.bindAfter, r.pods, r.total)
	}) {
		t.FailNow()
	}

	// Phase 3: upstream's default timings on a second pair. The short-lease
	// leader goes first (its lease is 6s); one of the pair takes over.
	c1 := startHAScheduler(t, cp, kubeconfig, "snug-scheduler-c")
	d1 := startHAScheduler(t, cp, kubeconfig, "snug-scheduler-d")
	waitElectorsStarted(t, cp, c1, d1)
	newLeader.proc.Kill()
	leader2 := waitLeader(t, cp, 60*time.Second, c1, d1)
	standby2 := c1
	if leader2 == c1 {
		standby2 = d1
	}
	t.Run("TakeoverDefaultLease", func(t *testing.T) {
		r := takeoverRound(t, cp, "ha-default", 300, 100, leader2, standby2)
		t.Logf("takeover with the default 15s lease: lease acquired %v after the kill, first binding by the new leader %v after the kill (%d pods in %v)",
			r.leaseAfter, r.bindAfter, r.pods, r.total)
	})
}

// testStandbyWritesNothing is phase 1 of TestHA; it returns the replica
// that took the lease and the other.
func testStandbyWritesNothing(t *testing.T, cp *framework.ControlPlane, a, b *haScheduler) (leader, standby *haScheduler) {
	ctx := t.Context()
	c := cp.Client
	waitElectorsStarted(t, cp, a, b)
	ns := mustNamespace(t, c, "ha-gate")
	p := pod("needs-config", manifests.SchedulerName, "100m", "64Mi")
	p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "ha-config"}}}}
	if _, err := c.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Both gates hold the pod: each ran PreEnqueue and has a report to make.
	heldSeries := map[string]string{"kind": "ConfigMap", "reason": predictabledemands.ReasonMissingDependency}
	for _, s := range []*haScheduler{a, b} {
		if err := waitFor(ctx, 60*time.Second, func(context.Context) (bool, error) {
			v, ok := s.metric(cp, "snug_dependency_gate_held_pods", heldSeries)
			return ok && v == 1, nil
		}); err != nil {
			t.Fatalf("%s: its gate does not hold the pod (snug_dependency_gate_held_pods): %v", s.name, err)
		}
	}
	// Reports are written within milliseconds by a leader; give a standby
	// several times its poll interval.
	time.Sleep(3 * time.Second)
	got, err := c.CoreV1().Pods(ns).Get(ctx, p.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cond := range got.Status.Conditions {
		if cond.Type == corev1.PodScheduled {
			t.Errorf("a standby wrote the pod's PodScheduled condition: %+v", cond)
		}
	}
	if ev := allPodEvents(t, c, ns, p.Name); len(ev) > 0 {
		t.Errorf("a standby recorded events on the pod: %v", ev)
	}

	released := time.Now()
	releaseLease(t, c)
	leader = waitLeader(t, cp, 60*time.Second, a, b)
	standby = a
	if leader == a {
		standby = b
	}
	msg := podScheduledCondition(t, c, ns, p.Name, predictabledemands.ReasonMissingDependency)
	t.Logf("%s took the released lease; the pod's %s condition appeared %v after the release: %q",
		leader.name, predictabledemands.ReasonMissingDependency, time.Since(released).Round(100*time.Millisecond), msg)
	if err := waitFor(ctx, 10*time.Second, func(context.Context) (bool, error) {
		return len(podEvents(t, c, ns, p.Name, predictabledemands.ReasonMissingDependency)) > 0, nil
	}); err != nil {
		t.Errorf("no %s event from the leader", predictabledemands.ReasonMissingDependency)
	}
	time.Sleep(2 * time.Second) // any second event would be from a standby or a second write
	if ev := podEvents(t, c, ns, p.Name, predictabledemands.ReasonMissingDependency); len(ev) != 1 {
		t.Errorf("%d %s events, want 1 (the leader's): %q", len(ev), predictabledemands.ReasonMissingDependency, ev)
	}
	// The leader schedules it once the ConfigMap exists.
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "ha-config"}, Data: map[string]string{"k": "v"}}
	if _, err := c.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := framework.WaitForPodScheduled(ctx, c, ns, p.Name, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := boundInLog(t, standby, ns); len(n) > 0 {
		t.Errorf("standby %s bound %v", standby.name, n)
	}
	return leader, standby
}

// roundResult is what takeoverRound measured.
type roundResult struct {
	pods                 int
	leaseAfter           time.Duration // kill to the lease's new holder
	bindAfter            time.Duration // kill to the new leader's first binding
	total                time.Duration // first pod created to all Running
	unlogged, noSchedEvt int
}

// takeoverRound creates n pods in a new namespace, SIGKILLs leader once
// killAfter of them exist and it has bound some, and checks that standby
// takes over and every pod is bound exactly once.
func takeoverRound(t *testing.T, cp *framework.ControlPlane, ns string, n, killAfter int, leader, standby *haScheduler) roundResult {
	ctx := t.Context()
	c := cp.Client
	mustNamespace(t, c, ns)
	tr := trackBindings(t, c, ns)
	oldHolder := leaseHolder(t, c)

	began := time.Now()
	var created atomic.Int64
	var createErrs []error
	var mu sync.Mutex
	next := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range next {
				_, err := c.CoreV1().Pods(ns).Create(ctx, pod(fmt.Sprintf("p-%04d", i), manifests.SchedulerName, "10m", "16Mi"), metav1.CreateOptions{})
				if err != nil {
					mu.Lock()
					createErrs = append(createErrs, err)
					mu.Unlock()
					continue
				}
				created.Add(1)
			}
		})
	}
	go func() {
		defer close(next)
		for i := range n {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()

	// Kill the leader while pods are still being created, once it binds.
	if err := waitFor(ctx, 120*time.Second, func(context.Context) (bool, error) {
		return created.Load() >= int64(killAfter) && tr.bound() >= killAfter/6, nil
	}); err != nil {
		t.Fatalf("%d of %d pods created, %d bound: %v", created.Load(), n, tr.bound(), err)
	}
	bindsBefore := len(boundInLog(t, standby, ns))
	killed := time.Now()
	leader.proc.Kill()
	createdAtKill, boundAtKill := created.Load(), tr.bound()
	t.Logf("SIGKILLed leader %s (lease holder %s) with %d of %d pods created and %d bound", leader.name, oldHolder, createdAtKill, n, boundAtKill)
	if createdAtKill >= int64(n) {
		t.Errorf("all %d pods were created before the kill; the test wants the leader killed during creation", n)
	}
	if bindsBefore > 0 {
		t.Errorf("standby %s bound %d pods before the leader was killed", standby.name, bindsBefore)
	}

	// The lease changes holder. Its acquireTime is the new holder's clock,
	// which is this machine's.
	var acquired time.Time
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		lease, err := c.CoordinationV1().Leases(leaseNamespace).Get(ctx, leaseName, metav1.GetOptions{})
		if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" || *lease.Spec.HolderIdentity == oldHolder {
			return false, nil
		}
		acquired = time.Now()
		if at := lease.Spec.AcquireTime; at != nil && at.After(killed) {
			acquired = at.Time
		}
		return true, nil
	}); err != nil {
		t.Fatalf("lease still held by %s 60s after its holder was killed", oldHolder)
	}
	if v, ok := standby.metric(cp, "leader_election_master_status", nil); !ok || v != 1 {
		t.Errorf("%s does not report itself leader after the takeover (leader_election_master_status %v, %v)", standby.name, v, ok)
	}

	wg.Wait()
	if len(createErrs) > 0 {
		t.Fatalf("%d pod creations failed, first: %v", len(createErrs), createErrs[0])
	}
	if err := waitFor(ctx, 180*time.Second, func(ctx context.Context) (bool, error) {
		return tr.bound() == n && runningPods(ctx, t, c, ns) == n, nil
	}); err != nil {
		t.Fatalf("%d of %d pods bound, %d Running: %v", tr.bound(), n, runningPods(ctx, t, c, ns), err)
	}
	res := roundResult{pods: n, leaseAfter: acquired.Sub(killed).Round(10 * time.Millisecond), total: time.Since(began).Round(100 * time.Millisecond)}

	// Exactly once, by the informer: one nodeName per pod, set once.
	pods := tr.snapshot()
	if len(pods) != n {
		t.Errorf("%d pods seen, want %d", len(pods), n)
	}
	for _, p := range tr.problems() {
		t.Error(p)
	}
	// Exactly once, by the schedulers' logs.
	byOld, byNew := boundInLog(t, leader, ns), boundInLog(t, standby, ns)
	firstNew := time.Time{}
	for name, tp := range pods {
		nodeOld, inOld := byOld[name]
		nodeNew, inNew := byNew[name]
		switch {
		case inOld && inNew:
			t.Errorf("pod %s bound by both replicas (%s, then %s)", name, nodeOld, nodeNew)
		case inOld:
			if nodeOld != tp.node {
				t.Errorf("pod %s: old leader bound it to %s, it is on %s", name, nodeOld, tp.node)
			}
		case inNew:
			if nodeNew != tp.node {
				t.Errorf("pod %s: new leader bound it to %s, it is on %s", name, nodeNew, tp.node)
			}
			if tp.boundAt.Before(killed) {
				t.Errorf("pod %s bound by the standby %v before the kill", name, killed.Sub(tp.boundAt))
			}
			if firstNew.IsZero() || tp.boundAt.Before(firstNew) {
				firstNew = tp.boundAt
			}
		default:
			// Bound by the killed leader, which died before logging it.
			res.unlogged++
			if tp.boundAt.After(acquired) {
				t.Errorf("pod %s bound after the takeover but in neither replica's log", name)
			}
		}
	}
	if firstNew.IsZero() {
		t.Fatalf("the new leader %s bound no pod", standby.name)
	}
	res.bindAfter = firstNew.Sub(killed).Round(10 * time.Millisecond)
	// Exactly once, by the events: at most one Scheduled event per pod UID
	// (the killed leader may have died before sending some), no failure.
	time.Sleep(2 * time.Second) // the new leader's last events are sent asynchronously
	scheduled := eventsByUID(t, c, ns, "Scheduled")
	for name, tp := range pods {
		switch scheduled[tp.uid] {
		case 0:
			res.noSchedEvt++
		case 1:
		default:
			t.Errorf("pod %s has %d Scheduled events", name, scheduled[tp.uid])
		}
	}
	if failed := eventsByUID(t, c, ns, "FailedScheduling"); len(failed) > 0 {
		t.Errorf("FailedScheduling events on %d pods", len(failed))
	}
	t.Logf("%d pods: %d bound by the killed leader %s (%d of them unlogged), %d by the new leader %s; %d without a Scheduled event (the killed leader's unsent)",
		n, len(byOld)+res.unlogged, leader.name, res.unlogged, len(byNew), standby.name, res.noSchedEvt)
	return res
}

// haScheduler is one replica: bin/scheduler with the shipped configuration
// (no --config: leader election on lease kube-system/snug-scheduler).
type haScheduler struct {
	name string
	proc *framework.Process
	port int
}

func startHAScheduler(t *testing.T, cp *framework.ControlPlane, kubeconfig, name string, flags ...string) *haScheduler {
	t.Helper()
	ports, err := framework.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", ports[0]),
		"--v=2",
	}, flags...)
	return &haScheduler{name: name, proc: cp.StartProcessForTest(t, name, binary("scheduler"), args...), port: ports[0]}
}

// metric returns the value of the series of name with the labels (a subset
// of its labels) on the replica's /metrics; false if the replica does not
// answer or has no such series.
func (s *haScheduler) metric(cp *framework.ControlPlane, name string, labels map[string]string) (float64, bool) {
	if s.proc.Exited() {
		return 0, false
	}
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d/metrics", s.port), nil)
	if err != nil {
		return 0, false
	}
	req.Header.Set("Authorization", "Bearer "+cp.RestConfig.BearerToken)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // self-signed serving cert
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return 0, false
	}
lines:
	for line := range strings.SplitSeq(string(body), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		for k, v := range labels {
			if !strings.Contains(line, k+`="`+v+`"`) {
				continue lines
			}
		}
		f, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		return f, err == nil
	}
	return 0, false
}

// waitElectorsStarted waits until each replica runs its leader elector
// (leader_election_master_status has a series): its informers have synced.
func waitElectorsStarted(t *testing.T, cp *framework.ControlPlane, ss ...*haScheduler) {
	t.Helper()
	for _, s := range ss {
		if err := waitFor(t.Context(), 60*time.Second, func(context.Context) (bool, error) {
			_, ok := s.metric(cp, "leader_election_master_status", nil)
			return ok, nil
		}); err != nil {
			t.Fatalf("%s never started leader election: %v", s.name, err)
		}
	}
}

// waitLeader waits until exactly one of the replicas leads and returns it.
func waitLeader(t *testing.T, cp *framework.ControlPlane, timeout time.Duration, ss ...*haScheduler) *haScheduler {
	t.Helper()
	var leader *haScheduler
	err := waitFor(t.Context(), timeout, func(context.Context) (bool, error) {
		leader = nil
		for _, s := range ss {
			if v, ok := s.metric(cp, "leader_election_master_status", nil); ok && v == 1 {
				if leader != nil {
					return false, fmt.Errorf("both %s and %s lead", leader.name, s.name)
				}
				leader = s
			}
		}
		return leader != nil, nil
	})
	if err != nil {
		t.Fatalf("no leader among the replicas: %v", err)
	}
	return leader
}

// holdLease makes holder the leader on the shipped lease for an hour, as a
// replica that never lets go would.
func holdLease(t *testing.T, c kubernetes.Interface, holder string) {
	t.Helper()
	now := metav1.NewMicroTime(time.Now())
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: leaseName, Namespace: leaseNamespace},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder), LeaseDurationSeconds: ptr.To[int32](3600),
			AcquireTime: &now, RenewTime: &now},
	}
	if _, err := c.CoordinationV1().Leases(leaseNamespace).Create(t.Context(), lease, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// releaseLease empties the lease's holder, as a leader does that stops
// (ReleaseOnCancel).
func releaseLease(t *testing.T, c kubernetes.Interface) {
	t.Helper()
	lease, err := c.CoordinationV1().Leases(leaseNamespace).Get(t.Context(), leaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lease.Spec.HolderIdentity = ptr.To("")
	lease.Spec.LeaseDurationSeconds = ptr.To[int32](1)
	if _, err := c.CoordinationV1().Leases(leaseNamespace).Update(t.Context(), lease, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func leaseHolder(t *testing.T, c kubernetes.Interface) string {
	t.Helper()
	lease, err := c.CoordinationV1().Leases(leaseNamespace).Get(t.Context(), leaseName, metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}

var boundLine = regexp.MustCompile(`"Successfully bound pod to node" pod="([^"/]+)/([^"]+)" node="([^"]+)"`)

// boundInLog returns pod name -> node of the pods in namespace ns that the
// replica's log says it bound.
func boundInLog(t *testing.T, s *haScheduler, ns string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(s.proc.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range boundLine.FindAllStringSubmatch(string(data), -1) {
		if m[1] == ns {
			if prev, ok := out[m[2]]; ok {
				t.Errorf("%s logged binding pod %s/%s twice (%s, %s)", s.name, ns, m[2], prev, m[3])
			}
			out[m[2]] = m[3]
		}
	}
	return out
}

// bindingTracker follows a namespace's pods through an informer and records
// when each was bound and whether it was ever bound again, unbound, moved,
// replaced or deleted.
type bindingTracker struct {
	mu    sync.Mutex
	pods  map[string]*trackedPod
	probs []string
}

type trackedPod struct {
	uid     types.UID
	node    string
	boundAt time.Time
}

func trackBindings(t *testing.T, c kubernetes.Interface, ns string) *bindingTracker {
	t.Helper()
	tr := &bindingTracker{pods: map[string]*trackedPod{}}
	f := informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithNamespace(ns))
	inf := f.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { tr.see(obj) },
		UpdateFunc: func(_, obj any) { tr.see(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				tr.problem("pod %s deleted", p.Name)
			}
		},
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	f.Start(ctx.Done())
	t.Cleanup(func() { cancel(); f.Shutdown() })
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("pod informer did not sync")
	}
	return tr
}

func (tr *bindingTracker) see(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	now := time.Now()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tp := tr.pods[p.Name]
	if tp == nil {
		tp = &trackedPod{uid: p.UID}
		tr.pods[p.Name] = tp
	}
	switch {
	case tp.uid != p.UID:
		tr.probs = append(tr.probs, fmt.Sprintf("pod %s replaced (uid %s, then %s)", p.Name, tp.uid, p.UID))
	case tp.node == "" && p.Spec.NodeName != "":
		tp.node, tp.boundAt = p.Spec.NodeName, now
	case tp.node != "" && p.Spec.NodeName != tp.node:
		tr.probs = append(tr.probs, fmt.Sprintf("pod %s bound to %s, then %q", p.Name, tp.node, p.Spec.NodeName))
	}
}

func (tr *bindingTracker) problem(format string, args ...any) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.probs = append(tr.probs, fmt.Sprintf(format, args...))
}

func (tr *bindingTracker) bound() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, p := range tr.pods {
		if p.node != "" {
			n++
		}
	}
	return n
}

func (tr *bindingTracker) snapshot() map[string]trackedPod {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := map[string]trackedPod{}
	for k, v := range tr.pods {
		out[k] = *v
	}
	return out
}

func (tr *bindingTracker) problems() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.probs)
}

func runningPods(ctx context.Context, t *testing.T, c kubernetes.Interface, ns string) int {
	t.Helper()
	l, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0
	}
	n := 0
	for _, p := range l.Items {
		if p.Spec.NodeName != "" && p.Status.Phase == corev1.PodRunning {
			n++
		}
	}
	return n
}

// eventsByUID counts the events with the reason per involved object UID,
// occurrences of an event series included.
func eventsByUID(t *testing.T, c kubernetes.Interface, ns, reason string) map[types.UID]int {
	t.Helper()
	l, err := c.CoreV1().Events(ns).List(t.Context(), metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("reason", reason).String()})
	if err != nil {
		t.Fatal(err)
	}
	out := map[types.UID]int{}
	for _, e := range l.Items {
		n := 1
		if e.Series != nil && int(e.Series.Count) > n {
			n = int(e.Series.Count)
		}
		if int(e.Count) > n {
			n = int(e.Count)
		}
		out[e.InvolvedObject.UID] += n
	}
	return out
}

// allPodEvents returns "reason: message" of every event on the pod.
func allPodEvents(t *testing.T, c kubernetes.Interface, ns, name string) []string {
	t.Helper()
	l, err := c.CoreV1().Events(ns).List(t.Context(), metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.name", name).String()})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range l.Items {
		out = append(out, e.Reason+": "+e.Message)
	}
	return out
}
