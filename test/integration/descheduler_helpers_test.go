package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/snug-sched/snug/test/integration/framework"
)

// The helpers of the descheduler integration tests: a scenario gets its own
// namespace and its own nodes (named <prefix>-<suffix>) on a control plane
// the scenarios share, and removes both when it ends, so the next scenario's
// descheduler and schedulers see only its own nodes.

// futileTimeout is how long a replacement may take: a replacement that is
// Pending after it counts as futile (issue 17's definition).
const futileTimeout = 60 * time.Second

// dsEnv is one scenario's namespace and nodes.
type dsEnv struct {
	t      *testing.T
	cp     *framework.ControlPlane
	c      kubernetes.Interface
	ns     string
	prefix string
	nodes  []string
}

// newDsEnv creates namespace prefix and registers the scenario's cleanup:
// the namespace is deleted, its pods waited for (so none is left Pending to
// land on the next scenario's nodes), then its nodes deleted.
func newDsEnv(t *testing.T, cp *framework.ControlPlane, prefix string) *dsEnv {
	t.Helper()
	e := &dsEnv{t: t, cp: cp, c: cp.Client, ns: prefix, prefix: prefix}
	mustNamespace(t, cp.Client, prefix)
	t.Cleanup(e.cleanup)
	return e
}

func (e *dsEnv) cleanup() {
	// t.Context() is already cancelled in Cleanup.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := e.c.CoreV1().Namespaces().Delete(ctx, e.ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		e.t.Errorf("cleanup: delete namespace %s: %v", e.ns, err)
	}
	err := waitFor(ctx, 60*time.Second, func(ctx context.Context) (bool, error) {
		pods, err := e.c.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		return len(pods.Items) == 0, nil
	})
	if err != nil {
		e.t.Errorf("cleanup: pods of %s not gone: %v", e.ns, err)
	}
	for _, n := range e.nodes {
		if err := e.c.CoreV1().Nodes().Delete(ctx, n, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			e.t.Errorf("cleanup: delete node %s: %v", n, err)
		}
	}
}

// node returns the full name of the scenario's node with suffix s.
func (e *dsEnv) node(s string) string { return e.prefix + "-" + s }

// addNodes creates 4-CPU, 8Gi nodes with the suffixes; labels by suffix.
func (e *dsEnv) addNodes(labels map[string]map[string]string, suffixes ...string) {
	e.t.Helper()
	for _, s := range suffixes {
		n := framework.NewNode(e.node(s), resources("4", "8Gi"), labels[s])
		if err := framework.CreateNodes(e.t.Context(), e.c, n); err != nil {
			e.t.Fatal(err)
		}
		e.nodes = append(e.nodes, n.Name)
	}
}

// patchNode applies a JSON merge patch to a node of the scenario.
func (e *dsEnv) patchNode(suffix string, patch map[string]any) {
	e.t.Helper()
	data, err := json.Marshal(patch)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.c.CoreV1().Nodes().Patch(e.t.Context(), e.node(suffix), types.MergePatchType, data, metav1.PatchOptions{}); err != nil {
		e.t.Fatalf("patch node %s: %v", e.node(suffix), err)
	}
}

// cordon sets spec.unschedulable on the nodes, then gives the schedulers'
// informers a moment to see it (setups assert where their pods landed, so
// a scheduler that had not would fail the test rather than skew it).
func (e *dsEnv) cordon(on bool, suffixes ...string) {
	e.t.Helper()
	for _, s := range suffixes {
		e.patchNode(s, map[string]any{"spec": map[string]any{"unschedulable": on}})
	}
	time.Sleep(500 * time.Millisecond)
}

// on fails the test unless every pod of placement is on one of the nodes.
func (e *dsEnv) on(placement map[string]string, suffixes ...string) {
	e.t.Helper()
	var nodes []string
	for _, s := range suffixes {
		nodes = append(nodes, e.node(s))
	}
	for p, n := range placement {
		if !slices.Contains(nodes, n) {
			e.t.Fatalf("setup: pod %s on %s, want one of %v", p, n, nodes)
		}
	}
}

// label sets (value != "") or removes a node label.
func (e *dsEnv) label(suffix, key, value string) {
	e.t.Helper()
	var v any
	if value != "" {
		v = value
	}
	e.patchNode(suffix, map[string]any{"metadata": map[string]any{"labels": map[string]any{key: v}}})
}

// replicaSet returns a ReplicaSet of pods labelled app=name with the
// scheduler, replicas and CPU request; mutate edits the pod template.
func replicaSet(name, schedulerName string, replicas int32, cpu string, mutate func(*corev1.PodSpec)) *appsv1.ReplicaSet {
	tmpl := pod(name, schedulerName, cpu, "64Mi")
	if mutate != nil {
		mutate(&tmpl.Spec)
	}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: tmpl.Labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec},
		},
	}
}

// createRS creates the ReplicaSet and waits until its replicas run; it
// returns pod name -> node.
func (e *dsEnv) createRS(rs *appsv1.ReplicaSet) map[string]string {
	e.t.Helper()
	if _, err := e.c.AppsV1().ReplicaSets(e.ns).Create(e.t.Context(), rs, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	return e.waitRunning(map[string]string{"app": rs.Name}, int(*rs.Spec.Replicas))
}

// createPod creates a bare pod and waits until it runs on the node with
// suffix on.
func (e *dsEnv) createPod(p *corev1.Pod, on string) {
	e.t.Helper()
	if _, err := e.c.CoreV1().Pods(e.ns).Create(e.t.Context(), p, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.on(e.waitRunning(map[string]string{"app": p.Labels["app"]}, 1), on)
}

// waitRunning waits until n live pods with the labels run; pod -> node.
func (e *dsEnv) waitRunning(sel map[string]string, n int) map[string]string {
	e.t.Helper()
	out := map[string]string{}
	err := waitFor(e.t.Context(), 60*time.Second, func(ctx context.Context) (bool, error) {
		pods, err := e.c.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{LabelSelector: metav1.FormatLabelSelector(&metav1.LabelSelector{MatchLabels: sel})})
		if err != nil {
			return false, err
		}
		clear(out)
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
				out[p.Name] = p.Spec.NodeName
			}
		}
		return len(out) == n, nil
	})
	if err != nil {
		e.t.Fatalf("%d pods %v never ran: %v (have %v)", n, sel, err, out)
	}
	return out
}

// createPDB creates a PodDisruptionBudget over app=app and waits until the
// disruption controller reports healthy pods and allowed disruptions.
func (e *dsEnv) createPDB(app string, minAvailable int, healthy, allowed int32) {
	e.t.Helper()
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: app},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(int32(minAvailable))),
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
		},
	}
	if _, err := e.c.PolicyV1().PodDisruptionBudgets(e.ns).Create(e.t.Context(), pdb, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	waitPDB(e.t, e.c, e.ns, app, healthy, allowed)
}

// podRec is a pod as the scenario sees it.
type podRec struct {
	Name, Owner, Node string
	Running           bool
}

// pods returns the scenario's live (not terminating) pods by UID.
func (e *dsEnv) pods(ctx context.Context) (map[types.UID]podRec, error) {
	list, err := e.c.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[types.UID]podRec{}
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		r := podRec{Name: p.Name, Node: p.Spec.NodeName, Running: p.Status.Phase == corev1.PodRunning}
		if o := metav1.GetControllerOf(&p); o != nil {
			r.Owner = o.Kind + "/" + o.Name
		}
		out[p.UID] = r
	}
	return out, nil
}

// snapshot is pods before a descheduler run.
func (e *dsEnv) snapshot() map[types.UID]podRec {
	e.t.Helper()
	m, err := e.pods(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// outcome is what one descheduler run did to a scenario.
type outcome struct {
	Evicted      []podRec // pods of before that are gone
	Replacements []podRec // pods created since, as they are at the end
	// Futile counts evictions whose replacement landed back on a node an
	// evicted pod of the same owner left, or is Pending after futileTimeout.
	Futile  int
	Pending int
}

func (o outcome) String() string {
	var ev, re []string
	for _, p := range o.Evicted {
		ev = append(ev, p.Name+"@"+p.Node)
	}
	for _, p := range o.Replacements {
		node := p.Node
		if node == "" {
			node = "<pending>"
		}
		re = append(re, p.Name+"@"+node)
	}
	return fmt.Sprintf("evicted %v, replacements %v, futile %d", ev, re, o.Futile)
}

// observe waits until every ReplicaSet of the scenario has its replicas
// again, all bound and Running, or futileTimeout passes, and says what the
// run did compared with before.
func (e *dsEnv) observe(before map[types.UID]podRec) outcome {
	e.t.Helper()
	ctx := e.t.Context()
	var now map[types.UID]podRec
	_ = waitFor(ctx, futileTimeout, func(ctx context.Context) (bool, error) {
		rss, err := e.c.AppsV1().ReplicaSets(e.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		if now, err = e.pods(ctx); err != nil {
			return false, nil
		}
		count := map[string]int{}
		for _, p := range now {
			if p.Node == "" || !p.Running {
				return false, nil
			}
			count[p.Owner]++
		}
		for _, rs := range rss.Items {
			if count["ReplicaSet/"+rs.Name] != int(*rs.Spec.Replicas) {
				return false, nil
			}
		}
		return true, nil
	})
	if now == nil {
		e.t.Fatal("could not list pods after the run")
	}
	var o outcome
	left := map[string][]string{} // owner -> nodes evicted pods left
	for uid, p := range before {
		if _, ok := now[uid]; !ok {
			o.Evicted = append(o.Evicted, p)
			left[p.Owner] = append(left[p.Owner], p.Node)
		}
	}
	for uid, p := range now {
		if _, ok := before[uid]; !ok {
			o.Replacements = append(o.Replacements, p)
		}
	}
	sort.Slice(o.Evicted, func(i, j int) bool { return o.Evicted[i].Name < o.Evicted[j].Name })
	sort.Slice(o.Replacements, func(i, j int) bool { return o.Replacements[i].Name < o.Replacements[j].Name })
	for _, p := range o.Replacements {
		nodes := left[p.Owner]
		switch i := slices.Index(nodes, p.Node); {
		case p.Node == "":
			o.Pending++
			o.Futile++
		case i >= 0:
			left[p.Owner] = slices.Delete(nodes, i, i+1)
			o.Futile++
		}
	}
	return o
}

// requireFixed asserts that the run evicted want pods (want < 0: at least
// one) and that every replacement is bound, Running and on one of the good
// nodes (suffixes).
func (e *dsEnv) requireFixed(o outcome, want int, good ...string) {
	e.t.Helper()
	if want < 0 && len(o.Evicted) == 0 || want >= 0 && len(o.Evicted) != want {
		e.t.Errorf("want %d eviction(s) (-1: some), got %s", want, o)
	}
	if len(o.Replacements) != len(o.Evicted) {
		e.t.Errorf("%d evicted but %d replacements within %v: %s", len(o.Evicted), len(o.Replacements), futileTimeout, o)
	}
	var goodNodes []string
	for _, g := range good {
		goodNodes = append(goodNodes, e.node(g))
	}
	for _, p := range o.Replacements {
		if !p.Running || !slices.Contains(goodNodes, p.Node) {
			e.t.Errorf("replacement %s on %q (running %v) within %v, want Running on one of %v", p.Name, p.Node, p.Running, futileTimeout, goodNodes)
		}
	}
	if o.Futile != 0 {
		e.t.Errorf("snug made %d futile eviction(s): %s", o.Futile, o)
	}
}

// deschedulerRun is the result of one run-once descheduler process.
type deschedulerRun struct {
	Stdout, Stderr string
	Err            error
	Took           time.Duration
}

// runDescheduler runs a descheduler binary once (no
// --descheduling-interval) with the policy and waits for it to exit (at
// most 90 s). Its output also goes to <LogDir>/<name>.log.
func runDescheduler(t *testing.T, cp *framework.ControlPlane, name, bin, kubeconfig, policy string, extra ...string) deschedulerRun {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--kubeconfig=" + kubeconfig, "--policy-config-file=" + path, "--secure-port=0", "--v=3"}, extra...)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	logFile, err := os.OpenFile(filepath.Join(cp.LogDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "### %s %s\n", bin, strings.Join(args, " "))
	var stdout, stderr bytes.Buffer
	var mu sync.Mutex // both streams share logFile
	cmd.Stdout = io.MultiWriter(&stdout, lockedWriter{&mu, logFile})
	cmd.Stderr = io.MultiWriter(&stderr, lockedWriter{&mu, logFile})
	began := time.Now()
	err = cmd.Run()
	r := deschedulerRun{Stdout: stdout.String(), Stderr: stderr.String(), Err: err, Took: time.Since(began)}
	if ctx.Err() != nil {
		t.Fatalf("%s did not exit within 90s: run-once mode expected without --descheduling-interval\n%s", name, tail(r.Stderr, 40))
	}
	return r
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// deschedulerKubeconfig returns a kubeconfig of the descheduler's
// ServiceAccount, bound by exactly the RBAC in manifests/.
func deschedulerKubeconfig(t *testing.T, cp *framework.ControlPlane) string {
	t.Helper()
	if err := cp.ApplySnugRBAC(t.Context()); err != nil {
		t.Fatal(err)
	}
	path, err := cp.ServiceAccountKubeconfig(t.Context(), framework.SnugNamespace, framework.DeschedulerAccount)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// upstreamDescheduler returns the upstream descheduler v0.36.0 binary
// ($SNUG_UPSTREAM_DESCHEDULER, else <repo>/bin/upstream-descheduler, else
// built from the module graph into the test's binary directory), or "" with
// the reason when it cannot be had.
var upstreamDescheduler = sync.OnceValues(func() (string, error) {
	if p := os.Getenv("SNUG_UPSTREAM_DESCHEDULER"); p != "" {
		return filepath.Abs(p)
	}
	root, err := framework.RepoRoot()
	if err != nil {
		return "", err
	}
	if p := filepath.Join(root, "bin", "upstream-descheduler"); isFile(p) {
		return p, nil
	}
	out := binary("upstream-descheduler")
	build := exec.Command("go", "build", "-o", out, "sigs.k8s.io/descheduler/cmd/descheduler")
	build.Dir = root
	if msg, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build sigs.k8s.io/descheduler/cmd/descheduler: %w\n%s", err, msg)
	}
	return out, nil
})

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// startKubeScheduler runs upstream kube-scheduler (default profile, for
// default-scheduler pods) with leader election on its usual lease
// kube-system/kube-scheduler, as a cluster runs it.
func startKubeScheduler(t *testing.T, cp *framework.ControlPlane) {
	t.Helper()
	ports, err := framework.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	cp.StartProcessForTest(t, "kube-scheduler", cp.BinDir+"/kube-scheduler",
		"--kubeconfig="+cp.KubeconfigPath,
		"--authentication-kubeconfig="+cp.KubeconfigPath,
		"--authorization-kubeconfig="+cp.KubeconfigPath,
		"--leader-elect=true", "--leader-elect-resource-namespace=kube-system", "--leader-elect-resource-name=kube-scheduler",
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", ports[0]))
}
