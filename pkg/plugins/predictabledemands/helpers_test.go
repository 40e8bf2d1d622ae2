package predictabledemands

import (
	"context"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	schedulerconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	schedcache "k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/defaultbinder"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/queuesort"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	"k8s.io/kubernetes/pkg/scheduler/metrics"
	"k8s.io/utils/ptr"

	"github.com/snug-sched/snug/internal/plugintest"
	"github.com/snug-sched/snug/pkg/apis/config"
	_ "github.com/snug-sched/snug/pkg/apis/config/scheme"
	configv1 "github.com/snug-sched/snug/pkg/apis/config/v1"
)

func TestMain(m *testing.M) {
	metrics.Register() // the framework records plugin metrics
	os.Exit(m.Run())
}

const gpu corev1.ResourceName = "nvidia.com/gpu"

// defaultArgs returns internal args with the v1 defaults applied, as the
// scheduler builds them from an empty pluginConfig entry.
func defaultArgs(t testing.TB) *config.PredictableDemandsArgs {
	t.Helper()
	return plugintest.Defaulted[config.PredictableDemandsArgs](t, &configv1.PredictableDemandsArgs{})
}

// rl builds a ResourceList from name/quantity pairs.
func rl(kv ...string) corev1.ResourceList {
	if len(kv) == 0 {
		return nil
	}
	out := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

// ctr is a container with the given requests and limits.
func ctr(name string, req, lim corev1.ResourceList) corev1.Container {
	return corev1.Container{Name: name, Image: "img", Resources: corev1.ResourceRequirements{Requests: req, Limits: lim}}
}

// sidecar is a restartable init container.
func sidecar(name string, req, lim corev1.ResourceList) corev1.Container {
	c := ctr(name, req, lim)
	c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
	return c
}

// podWith is a pod in namespace ns with the given init and app containers.
func podWith(ns, name string, init []corev1.Container, app ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(ns + "/" + name)},
		Spec:       corev1.PodSpec{InitContainers: init, Containers: app},
	}
}

// onNode returns a copy of pod bound to node.
func onNode(pod *corev1.Pod, node string) *corev1.Pod {
	p := pod.DeepCopy()
	p.Spec.NodeName = node
	return p
}

// nodeInfo is a NodeInfo for node name with the given allocatable, holding pods.
func nodeInfo(name string, alloc corev1.ResourceList, pods ...*corev1.Pod) *framework.NodeInfo {
	ni := framework.NewNodeInfo(pods...)
	ni.SetNode(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Allocatable: alloc, Capacity: alloc}})
	return ni
}

// newPlugin builds the plugin from args without a framework (no informers:
// the gate is off and a non-empty namespace selector enforces nowhere).
func newPlugin(t testing.TB, args *config.PredictableDemandsArgs) *Plugin {
	t.Helper()
	args = args.DeepCopy()
	args.DependencyGate.Enabled = false
	p, err := New(context.Background(), args, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p.(*Plugin)
}

// env is a real framework with this plugin at PreEnqueue, PreFilter and
// Filter, over a fake clientset's informers.
type env struct {
	ctx context.Context
	fw  framework.Framework
	pl  *Plugin
	cs  *fake.Clientset // behind the informers
}

func newEnv(t testing.TB, args *config.PredictableDemandsArgs, objs ...runtime.Object) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var created *Plugin
	registry := frameworkruntime.Registry{
		queuesort.Name:     queuesort.New,
		defaultbinder.Name: defaultbinder.New,
		Name:               plugintest.Capturing(New, &created),
	}
	profile := &schedulerconfig.KubeSchedulerProfile{
		SchedulerName: "snug-test",
		Plugins: &schedulerconfig.Plugins{
			QueueSort:  schedulerconfig.PluginSet{Enabled: []schedulerconfig.Plugin{{Name: queuesort.Name}}},
			Bind:       schedulerconfig.PluginSet{Enabled: []schedulerconfig.Plugin{{Name: defaultbinder.Name}}},
			PreEnqueue: schedulerconfig.PluginSet{Enabled: []schedulerconfig.Plugin{{Name: Name}}},
			PreFilter:  schedulerconfig.PluginSet{Enabled: []schedulerconfig.Plugin{{Name: Name}}},
			Filter:     schedulerconfig.PluginSet{Enabled: []schedulerconfig.Plugin{{Name: Name}}},
		},
		PluginConfig: []schedulerconfig.PluginConfig{{Name: Name, Args: args}},
	}
	cs := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(cs, 0)
	fw := plugintest.NewFramework(t, ctx, cancel, registry, profile, factory,
		frameworkruntime.WithSnapshotSharedLister(schedcache.NewEmptySnapshot()))
	if created == nil {
		t.Fatal("plugin was not created")
	}
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("informer for %v did not sync", typ)
		}
	}
	return &env{ctx: ctx, fw: fw, pl: created, cs: cs}
}

func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}
