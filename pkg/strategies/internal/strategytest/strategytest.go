// Package strategytest runs a snug descheduler strategy against a fake
// cluster through the descheduler framework, as the command does, and
// reports what it evicted and planned.
package strategytest

import (
	"context"
	appsv1 "k8s.io/api/apps/v1"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	core "k8s.io/client-go/testing"
	"sigs.k8s.io/descheduler/pkg/descheduler/evictions"
	"sigs.k8s.io/descheduler/pkg/framework/plugins/defaultevictor"
	frameworktesting "sigs.k8s.io/descheduler/pkg/framework/testing"
	frameworktypes "sigs.k8s.io/descheduler/pkg/framework/types"

	"github.com/snug-sched/snug/pkg/strategies/simgate"
)

// Builder is a strategy's New.
type Builder func(ctx context.Context, args runtime.Object, h frameworktypes.Handle) (frameworktypes.Plugin, error)

// Result of one run.
type Result struct {
	Evicted []string       // namespace/name, in order
	Plan    []simgate.Move // the gate's report
	Client  *fake.Clientset
}

// Run builds the strategy with args on a fake cluster of objs, runs its
// extension point once over every node, and finishes the gate's run.
func Run(t *testing.T, build Builder, args runtime.Object, dryRun bool, objs ...runtime.Object) Result {
	t.Helper()
	ctx := t.Context()
	client := fake.NewClientset(objs...)
	h, _, err := frameworktesting.InitFrameworkHandle(ctx, client, evictions.NewOptions().WithDryRun(dryRun), defaultevictor.DefaultEvictorArgs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.PluginInstanceIDImpl = "0"
	profiles, err := simgate.LoadProfiles(nil)
	if err != nil {
		t.Fatal(err)
	}
	g := simgate.New(simgate.Options{Profiles: profiles, DryRun: dryRun})
	simgate.SetShared(g)
	t.Cleanup(func() { simgate.SetShared(nil) })
	p, err := build(ctx, args, h)
	if err != nil {
		t.Fatal(err)
	}
	// InitFrameworkHandle started the factory before the gate registered
	// its informers.
	h.SharedInformerFactory().Start(ctx.Done())
	h.SharedInformerFactory().WaitForCacheSync(ctx.Done())
	var nodes []*corev1.Node
	for _, o := range objs {
		if n, ok := o.(*corev1.Node); ok {
			nodes = append(nodes, n)
		}
	}
	var st *frameworktypes.Status
	switch x := p.(type) {
	case frameworktypes.DeschedulePlugin:
		st = x.Deschedule(ctx, nodes)
	case frameworktypes.BalancePlugin:
		st = x.Balance(ctx, nodes)
	default:
		t.Fatalf("%T is neither a deschedule nor a balance plugin", p)
	}
	if st != nil && st.Err != nil {
		t.Fatalf("%s: %v", p.Name(), st.Err)
	}
	g.Finish(ctx)
	res := Result{Plan: g.LastPlan(), Client: client}
	for _, a := range client.Actions() {
		if c, ok := a.(core.CreateAction); ok && a.GetSubresource() == "eviction" {
			res.Evicted = append(res.Evicted, a.GetNamespace()+"/"+c.GetObject().(metav1.Object).GetName())
		}
	}
	return res
}

// Node returns a ready node.
func Node(name, cpu, mem string, labels map[string]string, extra ...corev1.ResourceName) *corev1.Node {
	alloc := corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem),
		corev1.ResourcePods: resource.MustParse("110"),
	}
	for _, e := range extra {
		alloc[e] = resource.MustParse("8")
	}
	l := map[string]string{corev1.LabelHostname: name}
	for k, v := range labels {
		l[k] = v
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l},
		Status: corev1.NodeStatus{Allocatable: alloc, Capacity: alloc,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}},
	}
}

// Pod returns a running pod of ReplicaSet owner on node, scheduled by
// scheduler.
func Pod(name, owner, node, scheduler, cpu, mem string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name),
			Labels: map[string]string{"app": owner},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: owner,
				UID: types.UID("rs-" + owner), Controller: ptrTrue()}}},
		Spec: corev1.PodSpec{NodeName: node, SchedulerName: scheduler, Containers: []corev1.Container{{
			Name: "c", Image: "registry.k8s.io/pause:3.10",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}},
		}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
}

func ptrTrue() *bool { b := true; return &b }

// ReplicaSet returns the owner Pod refers to (selector app=name), which
// default spreading reads to find a pod's siblings.
func ReplicaSet(name string) *appsv1.ReplicaSet {
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("rs-" + name)},
		Spec: appsv1.ReplicaSetSpec{Selector: sel, Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: sel.MatchLabels}}}}
}
