package qosawarepreemption

import (
	"context"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/klog/v2"
	kubeschedulerconfigv1 "k8s.io/kube-scheduler/config/v1"
	fwk "k8s.io/kube-scheduler/framework"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	schedcache "k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/defaultbinder"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/feature"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/names"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/noderesources"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/queuesort"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	"k8s.io/kubernetes/pkg/scheduler/metrics"
	st "k8s.io/kubernetes/pkg/scheduler/testing"

	"github.com/snug-sched/snug/internal/plugintest"
	"github.com/snug-sched/snug/pkg/apis/config"
	_ "github.com/snug-sched/snug/pkg/apis/config/scheme"
	configv1 "github.com/snug-sched/snug/pkg/apis/config/v1"
	"github.com/snug-sched/snug/pkg/plugins/strandingawarepacking"
)

func TestMain(m *testing.M) {
	metrics.Register() // the framework records plugin metrics
	os.Exit(m.Run())
}

// qosClass selects how newPod sets container resources.
type qosClass int

const (
	bestEffort qosClass = iota // no requests or limits
	burstable                  // requests only
	guaranteed                 // requests == limits (res must name cpu and memory)
)

// newPod returns a pod wrapper in namespace default with the given priority
// and QoS class; res is ignored for BestEffort.
func newPod(name string, prio int32, q qosClass, res map[corev1.ResourceName]string) *st.PodWrapper {
	w := st.MakePod().Namespace("default").Name(name).UID(name).Priority(prio)
	switch q {
	case bestEffort:
		w.Container("registry.k8s.io/pause:3.10")
	case burstable:
		w.Req(res)
	case guaranteed:
		w.Res(res)
	}
	return w
}

// res builds a resource map from cpu and memory quantities ("" leaves one out).
func res(cpu, mem string) map[corev1.ResourceName]string {
	m := map[corev1.ResourceName]string{}
	if cpu != "" {
		m[corev1.ResourceCPU] = cpu
	}
	if mem != "" {
		m[corev1.ResourceMemory] = mem
	}
	return m
}

// at is a start time sec seconds after the epoch.
func at(sec int64) metav1.Time { return metav1.NewTime(time.Unix(sec, 0)) }

func podNames(pods []*corev1.Pod) []string {
	out := make([]string, 0, len(pods))
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func podInfoNames(pods []fwk.PodInfo) []string {
	out := make([]string, 0, len(pods))
	for _, p := range pods {
		out = append(out, p.GetPod().Name)
	}
	return out
}

func podInfos(t testing.TB, pods ...*corev1.Pod) []fwk.PodInfo {
	t.Helper()
	out := make([]fwk.PodInfo, 0, len(pods))
	for _, p := range pods {
		pi, err := framework.NewPodInfo(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pi)
	}
	return out
}

func candidateNames(cs candidates) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.pi.GetPod().Name)
	}
	return out
}

// newCandidates keys pods as SelectVictimsOnNode does.
func newCandidates(pis []fwk.PodInfo) candidates {
	cs := make(candidates, len(pis))
	for i, pi := range pis {
		cs[i] = candidate{pi: pi, imp: importanceOf(pi)}
	}
	return cs
}

// sortByImportance sorts pods through candidates, as SelectVictimsOnNode does.
func sortByImportance(pis []fwk.PodInfo, reverse bool) {
	cs := newCandidates(pis)
	cs.sort(reverse)
	for i, c := range cs {
		pis[i] = c.pi
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// defaultArgs returns internal args with the v1 defaults applied, as the
// scheduler builds them from an empty pluginConfig entry, with pdbMode set
// when mode is not empty.
func defaultArgs(t testing.TB, mode config.PDBMode) *config.QoSAwarePreemptionArgs {
	t.Helper()
	out := plugintest.Defaulted[config.QoSAwarePreemptionArgs](t, &configv1.QoSAwarePreemptionArgs{})
	if mode != "" {
		out.PDBMode = mode
	}
	return out
}

// defaultFitArgs returns NodeResourcesFit's defaulted internal args.
func defaultFitArgs(t testing.TB) *schedconfig.NodeResourcesFitArgs {
	t.Helper()
	return plugintest.Defaulted[schedconfig.NodeResourcesFitArgs](t, &kubeschedulerconfigv1.NodeResourcesFitArgs{})
}

// noNominations is a PodNominator with no nominated pods.
type noNominations struct{}

func (noNominations) AddNominatedPod(klog.Logger, fwk.PodInfo, *fwk.NominatingInfo) {}
func (noNominations) DeleteNominatedPodIfExists(*corev1.Pod)                        {}
func (noNominations) UpdateNominatedPod(klog.Logger, *corev1.Pod, fwk.PodInfo)      {}
func (noNominations) NominatedPodsForNode(string) []fwk.PodInfo                     { return nil }

// env is a real framework (PrioritySort, NodeResourcesFit at PreFilter and
// Filter, DefaultBinder, this plugin at PostFilter) over a snapshot of nodes
// and bound pods.
type env struct {
	ctx      context.Context
	fw       framework.Framework
	pl       *Plugin
	snapshot *schedcache.Snapshot
}

func newEnv(t testing.TB, args *config.QoSAwarePreemptionArgs, nodes []*corev1.Node, pods []*corev1.Pod, opts ...frameworkruntime.Option) *env {
	t.Helper()
	return newEnvWithPacking(t, args, nil, nodes, pods, opts...)
}

// newEnvWithPacking is newEnv with StrandingAwarePacking at PreScore and
// Score under packing's args too, unless packing is nil.
func newEnvWithPacking(t testing.TB, args *config.QoSAwarePreemptionArgs, packing *config.StrandingAwarePackingArgs,
	nodes []*corev1.Node, pods []*corev1.Pod, opts ...frameworkruntime.Option) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	fts := feature.NewSchedulerFeaturesFromGates(utilfeature.DefaultFeatureGate)
	var created *Plugin
	registry := frameworkruntime.Registry{
		queuesort.Name:         queuesort.New,
		defaultbinder.Name:     defaultbinder.New,
		names.NodeResourcesFit: frameworkruntime.FactoryAdapter(fts, noderesources.NewFit),
		Name:                   plugintest.Capturing(New, &created),
	}
	enable := func(names ...string) schedconfig.PluginSet {
		var ps schedconfig.PluginSet
		for _, n := range names {
			ps.Enabled = append(ps.Enabled, schedconfig.Plugin{Name: n})
		}
		return ps
	}
	profile := &schedconfig.KubeSchedulerProfile{
		SchedulerName: "snug-test",
		Plugins: &schedconfig.Plugins{
			QueueSort:  enable(queuesort.Name),
			PreFilter:  enable(names.NodeResourcesFit),
			Filter:     enable(names.NodeResourcesFit),
			PostFilter: enable(Name),
			Bind:       enable(defaultbinder.Name),
		},
		PluginConfig: []schedconfig.PluginConfig{
			{Name: names.NodeResourcesFit, Args: defaultFitArgs(t)},
			{Name: Name, Args: args},
		},
	}
	if packing != nil {
		registry[strandingawarepacking.Name] = strandingawarepacking.New
		profile.Plugins.PreScore = enable(strandingawarepacking.Name)
		profile.Plugins.Score = schedconfig.PluginSet{Enabled: []schedconfig.Plugin{{Name: strandingawarepacking.Name, Weight: 1}}}
		profile.PluginConfig = append(profile.PluginConfig, schedconfig.PluginConfig{Name: strandingawarepacking.Name, Args: packing})
	}
	snapshot := schedcache.NewSnapshot(pods, nodes)
	// The informer factory (over an empty clientset, so the shape learner
	// sees only what the tests feed it) is what upstream's Executor and the
	// plugin's watches need; it is never started.
	factory := informers.NewSharedInformerFactory(fake.NewClientset(), 0)
	fw := plugintest.NewFramework(t, ctx, cancel, registry, profile, factory,
		append([]frameworkruntime.Option{frameworkruntime.WithSnapshotSharedLister(snapshot),
			frameworkruntime.WithPodNominator(noNominations{})}, opts...)...)
	if created == nil {
		t.Fatal("plugin was not created")
	}
	return &env{ctx: ctx, fw: fw, pl: created, snapshot: snapshot}
}

// nodeInfo returns a clone of the snapshot's NodeInfo of name, safe to
// hand to SelectVictimsOnNode (which mutates it).
func (e *env) nodeInfo(t testing.TB, name string) fwk.NodeInfo {
	t.Helper()
	ni, err := e.snapshot.NodeInfos().Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return ni.Snapshot()
}

// preFilter returns a CycleState on which the framework's PreFilter ran for pod.
func (e *env) preFilter(t testing.TB, pod *corev1.Pod) fwk.CycleState {
	t.Helper()
	state := framework.NewCycleState()
	if _, s, _ := e.fw.RunPreFilterPlugins(e.ctx, state, pod); !s.IsSuccess() {
		t.Fatalf("PreFilter: %v", s)
	}
	return state
}

func makeNode(name string, capacity map[corev1.ResourceName]string) *corev1.Node {
	return st.MakeNode().Name(name).Capacity(capacity).Obj()
}
