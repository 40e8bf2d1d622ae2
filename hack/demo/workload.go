package main

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/snug-sched/snug/pkg/plugins/predictabledemands"
	"github.com/snug-sched/snug/test/integration/framework"
)

// stepAnnotation says in which step the demo applies an object (default 1);
// see hack/demo/workload/kustomization.yaml.
const stepAnnotation = "demo.snug.io/step"

// workload is the kustomize build of hack/demo/workload.
type workload struct {
	namespace *corev1.Namespace            // its Namespace, whose labels the pool namespaces get
	cluster   []*unstructured.Unstructured // cluster-scoped objects (PriorityClass), applied once
	objects   []*unstructured.Unstructured // namespaced objects, applied once per pool
	templates []template
}

// template is a pod template and how many pods of it the workload runs.
type template struct {
	pod   *corev1.Pod
	count int
	step  int
}

func loadWorkload(dir string) (*workload, error) {
	objs, err := framework.Kustomize(dir)
	if err != nil {
		return nil, err
	}
	w := &workload{}
	for _, o := range objs {
		switch {
		case o.GetKind() == "Namespace":
			w.namespace = &corev1.Namespace{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, w.namespace); err != nil {
				return nil, fmt.Errorf("%s: Namespace %s: %w", dir, o.GetName(), err)
			}
		case o.GetNamespace() == "":
			w.cluster = append(w.cluster, o)
		default:
			w.objects = append(w.objects, o)
			t, ok, err := podTemplate(o)
			if err != nil {
				return nil, fmt.Errorf("%s: %s %s: %w", dir, o.GetKind(), o.GetName(), err)
			}
			if ok {
				w.templates = append(w.templates, t)
			}
		}
	}
	if w.namespace == nil {
		return nil, fmt.Errorf("%s: no Namespace in the kustomize build", dir)
	}
	return w, nil
}

func step(o *unstructured.Unstructured) int {
	if s, err := strconv.Atoi(o.GetAnnotations()[stepAnnotation]); err == nil {
		return s
	}
	return 1
}

// podSpecPath is where a kind keeps its pod spec, nil for kinds without one.
func podSpecPath(kind string) []string {
	switch kind {
	case "Pod":
		return []string{"spec"}
	case "Deployment", "ReplicaSet", "StatefulSet", "Job", "ReplicationController":
		return []string{"spec", "template", "spec"}
	}
	return nil
}

// podTemplate returns the pods an object runs: replicas of a Deployment,
// ReplicaSet or StatefulSet, parallelism of a Job, a Pod itself.
func podTemplate(o *unstructured.Unstructured) (template, bool, error) {
	path := podSpecPath(o.GetKind())
	if path == nil {
		return template{}, false, nil
	}
	spec, _, err := unstructured.NestedMap(o.Object, path...)
	if err != nil {
		return template{}, false, err
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: o.GetName()}}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(spec, &pod.Spec); err != nil {
		return template{}, false, err
	}
	count := int64(1)
	switch o.GetKind() {
	case "Job":
		if n, ok, _ := unstructured.NestedInt64(o.Object, "spec", "parallelism"); ok {
			count = n
		}
		if n, ok, _ := unstructured.NestedInt64(o.Object, "spec", "completions"); ok {
			count = min(count, n)
		}
	case "Pod":
	default:
		if n, ok, _ := unstructured.NestedInt64(o.Object, "spec", "replicas"); ok {
			count = n
		}
	}
	return template{pod: pod, count: int(count), step: step(o)}, true, nil
}

// expectedPods is how many pods a pool runs once steps up to s are applied.
func (w *workload) expectedPods(s int) int {
	n := 0
	for _, t := range w.templates {
		if t.step <= s {
			n += t.count
		}
	}
	return n
}

// forPool returns the namespaced objects of step s for a pool: in its
// namespace, with its scheduler and a nodeSelector on its pool label.
func (w *workload) forPool(p pool, s int) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, o := range w.objects {
		if step(o) != s {
			continue
		}
		o = o.DeepCopy()
		o.SetNamespace(p.namespace)
		if path := podSpecPath(o.GetKind()); path != nil {
			if err := unstructured.SetNestedField(o.Object, p.scheduler, append(slices.Clone(path), "schedulerName")...); err != nil {
				return nil, err
			}
			sel, _, err := unstructured.NestedStringMap(o.Object, append(slices.Clone(path), "nodeSelector")...)
			if err != nil {
				return nil, err
			}
			if sel == nil {
				sel = map[string]string{}
			}
			sel[poolLabel] = p.name
			if err := unstructured.SetNestedStringMap(o.Object, sel, append(slices.Clone(path), "nodeSelector")...); err != nil {
				return nil, err
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// apply applies step s in both pools and waits until both have settled.
func (d *demo) apply(ctx context.Context, s int) error {
	var names []string
	for _, p := range pools {
		objs, err := d.workload.forPool(p, s)
		if err != nil {
			return err
		}
		if err := d.cp.Apply(ctx, objs); err != nil {
			return err
		}
		if names == nil {
			for _, o := range objs {
				names = append(names, o.GetKind()+" "+o.GetName())
			}
		}
	}
	d.p.logf("step %d: applied %s in %s and %s", s, strings.Join(names, ", "), pools[0].namespace, pools[1].namespace)
	return d.settle(ctx, d.workload.expectedPods(s), fmt.Sprintf("step %d", s))
}

// settle waits until both pools run want live pods each, every pod is bound
// or marked unschedulable by its scheduler (PodScheduled=False), none is
// terminating or nominated for a node it waits for (a preemption under
// way), and nothing changed for a second.
func (d *demo) settle(ctx context.Context, want int, what string) error {
	began, told := time.Now(), time.Now()
	var last, why string
	stable := 0
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, d.timeout, true, func(ctx context.Context) (bool, error) {
		if why != "" && time.Since(told) > 20*time.Second {
			d.p.logf("  still waiting: %s", why)
			told = time.Now()
		}
		var state strings.Builder
		cur := ""
		for _, p := range pools {
			pods, err := d.c.CoreV1().Pods(p.namespace).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, nil // transient; the poll's timeout bounds it
			}
			live := 0
			for _, pod := range pods.Items {
				fmt.Fprintf(&state, "%s/%s@%s;", pod.UID, pod.Spec.NodeName, pod.Status.Phase)
				switch {
				case pod.DeletionTimestamp != nil:
					cur = fmt.Sprintf("pod %s/%s is terminating", p.namespace, pod.Name)
				case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
					continue
				case pod.Spec.NodeName == "" && pod.Status.NominatedNodeName != "":
					cur = fmt.Sprintf("pod %s/%s waits for preemption victims on %s", p.namespace, pod.Name, pod.Status.NominatedNodeName)
				case pod.Spec.NodeName == "" && scheduledCondition(&pod) == nil:
					cur = fmt.Sprintf("pod %s/%s not decided on by %s", p.namespace, pod.Name, p.scheduler)
				case pod.Spec.NodeName != "" && pod.Status.Phase != corev1.PodRunning:
					cur = fmt.Sprintf("pod %s/%s bound, not Running yet", p.namespace, pod.Name)
				}
				if pod.DeletionTimestamp == nil {
					live++
				}
			}
			if live != want && cur == "" {
				cur = fmt.Sprintf("%s has %d of %d pods", p.namespace, live, want)
			}
		}
		why = cur
		if why != "" || state.String() != last {
			last, stable = state.String(), 0
			return false, nil
		}
		stable++
		return stable >= 2, nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s did not settle within %v (last: %s); see the schedulers' logs", what, d.timeout, why)
	}
	d.p.logf("%s settled after %v", what, time.Since(began).Round(100*time.Millisecond))
	return nil
}

// scheduledCondition returns a pending pod's PodScheduled=False condition.
func scheduledCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// missingDependencies returns the ConfigMaps, Secrets and PVCs a pod refers
// to (predictabledemands.Dependencies, the dependency gate's own list) that
// do not exist.
func (d *demo) missingDependencies(ctx context.Context, pod *corev1.Pod) ([]string, error) {
	var missing []string
	for _, dep := range predictabledemands.Dependencies(pod, predictabledemands.Selection{ConfigMaps: true, Secrets: true, PVCs: true}) {
		var err error
		switch dep.Kind {
		case predictabledemands.ConfigMap:
			_, err = d.c.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, dep.Name, metav1.GetOptions{})
		case predictabledemands.Secret:
			_, err = d.c.CoreV1().Secrets(pod.Namespace).Get(ctx, dep.Name, metav1.GetOptions{})
		case predictabledemands.PVC:
			_, err = d.c.CoreV1().PersistentVolumeClaims(pod.Namespace).Get(ctx, dep.Name, metav1.GetOptions{})
		}
		if apierrors.IsNotFound(err) {
			missing = append(missing, dep.String())
		} else if err != nil {
			return nil, err
		}
	}
	sort.Strings(missing)
	return slices.Compact(missing), nil
}

// placeWorkload applies the workload's steps and reports after each.
func (d *demo) placeWorkload(ctx context.Context) error {
	for _, o := range d.workload.cluster {
		d.p.logf("applying %s %s (cluster-scoped, shared by both copies)", o.GetKind(), o.GetName())
	}
	if err := d.cp.Apply(ctx, d.workload.cluster); err != nil {
		return err
	}
	if err := d.apply(ctx, 1); err != nil {
		return err
	}
	held, err := d.dependencyReport(ctx)
	if err != nil {
		return err
	}
	if _, err := d.applyAndReport(ctx, 2, held, "Services and batch placed (steps 1 and 2)"); err != nil {
		return err
	}
	d.lastMeasure, err = d.applyAndReport(ctx, 3, held,
		"The training job arrived (step 3): two pods of 14 cpu, 56Gi, 4 GPUs, at the priority of cache")
	return err
}

// applyAndReport applies step s and prints the report after it.
func (d *demo) applyAndReport(ctx context.Context, s int, held heldCounts, title string) ([]column, error) {
	if err := d.apply(ctx, s); err != nil {
		return nil, err
	}
	cols, err := d.measure(ctx, held)
	if err != nil {
		return nil, err
	}
	printReport(title, cols)
	return cols, nil
}

// heldCounts is what step 1 showed per pool: pods the dependency gate held,
// and pods bound although a dependency was missing.
type heldCounts map[string]struct{ held, boundMissing int }

// dependencyReport prints, after step 1, which pods wait for web-config.
func (d *demo) dependencyReport(ctx context.Context) (heldCounts, error) {
	out := heldCounts{}
	fmt.Println()
	for _, p := range pools {
		pods, err := d.c.CoreV1().Pods(p.namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		var h struct{ held, boundMissing int }
		var example string
		for i := range pods.Items {
			pod := &pods.Items[i]
			if c := scheduledCondition(pod); c != nil && c.Reason == predictabledemands.ReasonMissingDependency {
				h.held++
				example = fmt.Sprintf("PodScheduled=False, %s: %s", c.Reason, c.Message)
				continue
			}
			if pod.Spec.NodeName == "" {
				continue
			}
			missing, err := d.missingDependencies(ctx, pod)
			if err != nil {
				return nil, err
			}
			if len(missing) > 0 {
				h.boundMissing++
				example = fmt.Sprintf("bound to %s without %s", pod.Spec.NodeName, strings.Join(missing, ", "))
			}
		}
		out[p.name] = h
		switch {
		case h.held > 0:
			fmt.Printf("  %-17s holds %d pod(s) until their dependency exists (%s)\n", p.scheduler+":", h.held, example)
		case h.boundMissing > 0:
			fmt.Printf("  %-17s bound %d pod(s) whose dependency is missing (%s);\n  %17s a kubelet keeps them in CreateContainerConfigError, their requests taken\n",
				p.scheduler+":", h.boundMissing, example, "")
		default:
			fmt.Printf("  %-17s no pod with a missing dependency\n", p.scheduler+":")
		}
	}
	fmt.Println()
	return out, nil
}
