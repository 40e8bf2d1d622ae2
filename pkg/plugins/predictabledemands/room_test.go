package predictabledemands

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	kubeschedulerconfigv1 "k8s.io/kube-scheduler/config/v1"
	fwk "k8s.io/kube-scheduler/framework"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	kubeschedulerscheme "k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"
	schedcache "k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/defaultbinder"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/feature"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/names"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/noderesources"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/queuesort"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"

	"github.com/snug-sched/snug/internal/plugintest"
)

func TestHasRoom(t *testing.T) {
	alloc := rl("cpu", "4", "memory", "8Gi", "pods", "3")
	full := nodeInfo("n", alloc,
		onNode(podWith("d", "a", nil, ctr("c", rl("cpu", "3", "memory", "6Gi"), nil)), "n"))
	for _, tc := range []struct {
		name     string
		ni       fwk.NodeInfo
		cpu, mem int64
		want     bool
	}{
		{"exactly the free cpu and memory", full, 1000, 2 << 30, true},
		{"one millicore too many", full, 1001, 0, false},
		{"one byte too many", full, 0, 2<<30 + 1, false},
		{"no requests on a node with a pod slot", full, 0, 0, true},
		{"no pod slot left", nodeInfo("n", rl("cpu", "4", "memory", "8Gi", "pods", "1"),
			onNode(podWith("d", "a", nil, ctr("c", nil, nil)), "n")), 0, 0, false},
		{"NodeInfo without its node", framework.NewNodeInfo(), 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := hasRoom(tc.ni, tc.cpu, tc.mem); got != tc.want {
				t.Errorf("hasRoom(cpu %d, mem %d) = %v, want %v", tc.cpu, tc.mem, got, tc.want)
			}
		})
	}
}

// roomEnv is a real framework with NodeResourcesFit (unless withoutFit)
// and this plugin at PreFilter and Filter, over a snapshot of the nodes.
type roomEnv struct {
	ctx context.Context
	fw  framework.Framework
	pl  *Plugin
	fit *noderesources.Fit
}

func newRoomEnv(t *testing.T, withFit bool, nodes []*corev1.Node, pods []*corev1.Pod) *roomEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	fts := feature.NewSchedulerFeaturesFromGates(utilfeature.DefaultFeatureGate)
	var created *Plugin
	var fit *noderesources.Fit
	registry := frameworkruntime.Registry{
		queuesort.Name:         queuesort.New,
		defaultbinder.Name:     defaultbinder.New,
		names.NodeResourcesFit: plugintest.Capturing(frameworkruntime.FactoryAdapter(fts, noderesources.NewFit), &fit),
		Name:                   plugintest.Capturing(New, &created),
	}
	filters := []schedconfig.Plugin{{Name: Name}}
	if withFit {
		filters = append([]schedconfig.Plugin{{Name: names.NodeResourcesFit}}, filters...)
	}
	v1fit := &kubeschedulerconfigv1.NodeResourcesFitArgs{}
	kubeschedulerscheme.Scheme.Default(v1fit)
	var fitArgs schedconfig.NodeResourcesFitArgs
	if err := kubeschedulerscheme.Scheme.Convert(v1fit, &fitArgs, nil); err != nil {
		t.Fatal(err)
	}
	args := defaultArgs(t)
	args.DependencyGate.Enabled = false
	profile := &schedconfig.KubeSchedulerProfile{
		SchedulerName: "snug-test",
		Plugins: &schedconfig.Plugins{
			QueueSort: schedconfig.PluginSet{Enabled: []schedconfig.Plugin{{Name: queuesort.Name}}},
			Bind:      schedconfig.PluginSet{Enabled: []schedconfig.Plugin{{Name: defaultbinder.Name}}},
			// This plugin first: an Unschedulable PreFilter must not stop the others.
			PreFilter: schedconfig.PluginSet{Enabled: append([]schedconfig.Plugin{{Name: Name}}, filters[:len(filters)-1]...)},
			Filter:    schedconfig.PluginSet{Enabled: filters},
		},
		PluginConfig: []schedconfig.PluginConfig{{Name: Name, Args: args}, {Name: names.NodeResourcesFit, Args: &fitArgs}},
	}
	factory := informers.NewSharedInformerFactory(fake.NewClientset(), 0)
	fw := plugintest.NewFramework(t, ctx, cancel, registry, profile, factory,
		frameworkruntime.WithSnapshotSharedLister(schedcache.NewSnapshot(pods, nodes)))
	if created == nil {
		t.Fatal("plugin was not created")
	}
	return &roomEnv{ctx: ctx, fw: fw, pl: created, fit: fit}
}

func node(name, cpu, mem, pods string) *corev1.Node {
	return nodeInfo(name, rl("cpu", cpu, "memory", mem, "pods", pods)).Node()
}

func TestRoomCheckThroughFramework(t *testing.T) {
	nodes := []*corev1.Node{node("a", "4", "8Gi", "110"), node("b", "4", "8Gi", "110")}
	pods := []*corev1.Pod{
		onNode(podWith("d", "on-a", nil, ctr("c", rl("cpu", "3", "memory", "1Gi"), nil)), "a"),
		onNode(podWith("d", "on-b", nil, ctr("c", rl("cpu", "2", "memory", "7Gi"), nil)), "b"),
	}
	for _, tc := range []struct {
		name    string
		withFit bool
		pod     *corev1.Pod
		wantMsg string // "" : PreFilter passes
		// fitsEmpty: the pod passes the filters on node a without its pod.
		fitsEmpty bool
	}{
		{"fits on b by cpu, on a by memory, nowhere by both", true,
			podWith("d", "p", nil, ctr("c", rl("cpu", "1500m", "memory", "2Gi"), nil)),
			"no node has the requested cpu, memory and a pod slot free together (room check: requests cpu 1500m, memory 2147483648 bytes)", true},
		{"cpu free nowhere", true, podWith("d", "p", nil, ctr("c", rl("cpu", "5"), nil)),
			"Insufficient cpu (room check: requests cpu 5000m, memory 0 bytes)", false},
		{"cpu and memory free nowhere", true, podWith("d", "p", nil, ctr("c", rl("cpu", "5", "memory", "8Gi"), nil)),
			"Insufficient cpu, Insufficient memory (room check: requests cpu 5000m, memory 8589934592 bytes)", false},
		{"fits on a", true, podWith("d", "p", nil, ctr("c", rl("cpu", "1", "memory", "2Gi"), nil)), "", true},
		{"no requests", true, podWith("d", "p", nil, ctr("c", nil, nil)), "", true},
		{"profile without NodeResourcesFit: no check", false,
			podWith("d", "p", nil, ctr("c", rl("cpu", "100"), nil)), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newRoomEnv(t, tc.withFit, nodes, pods)
			state := framework.NewCycleState()
			_, s, _ := e.fw.RunPreFilterPlugins(e.ctx, state, tc.pod)
			if tc.wantMsg == "" {
				if !s.IsSuccess() {
					t.Fatalf("PreFilter: %v, want success", s)
				}
				return
			}
			if s.Code() != fwk.Unschedulable || s.Plugin() != Name || s.Message() != tc.wantMsg {
				t.Fatalf("PreFilter: %v (plugin %q), want Unschedulable from %s: %q", s, s.Plugin(), Name, tc.wantMsg)
			}
			// NodeResourcesFit's PreFilter ran after the rejection, so
			// preemption's dry run can filter: on a node without the
			// others' pods the filters judge the pod (no missing state).
			empty := framework.NewNodeInfo()
			empty.SetNode(nodes[0])
			st := e.fw.RunFilterPlugins(e.ctx, state, tc.pod, empty)
			if st.Code() == fwk.Error || st.IsSuccess() != tc.fitsEmpty {
				t.Errorf("Filter on an empty node after the rejection: %v, want success %v", st, tc.fitsEmpty)
			}
		})
	}
}

// The check never rejects a pod that NodeResourcesFit admits on some node:
// random clusters and pods, compared with upstream's Filter node by node.
func TestRoomCheckAgreesWithNodeResourcesFit(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	rejected, admitted := 0, 0
	for trial := 0; trial < 300; trial++ {
		var nodes []*corev1.Node
		var pods []*corev1.Pod
		for i := 0; i < 1+rng.Intn(6); i++ {
			name := fmt.Sprintf("n%d", i)
			nodes = append(nodes, node(name, fmt.Sprint(1+rng.Intn(8)), fmt.Sprintf("%dGi", 1+rng.Intn(16)), fmt.Sprint(1+rng.Intn(4))))
			for j := 0; j < rng.Intn(4); j++ {
				pods = append(pods, onNode(podWith("d", fmt.Sprintf("%s-%d", name, j), nil,
					ctr("c", rl("cpu", fmt.Sprintf("%dm", rng.Intn(4000)), "memory", fmt.Sprintf("%dMi", rng.Intn(8192))), nil)), name))
			}
		}
		req := rl("cpu", fmt.Sprintf("%dm", rng.Intn(6000)), "memory", fmt.Sprintf("%dMi", rng.Intn(12288)))
		if rng.Intn(4) == 0 {
			delete(req, corev1.ResourceCPU)
		}
		pod := podWith("d", "p", []corev1.Container{ctr("init", rl("cpu", fmt.Sprintf("%dm", rng.Intn(3000))), nil)}, ctr("c", req, nil))
		e := newRoomEnv(t, true, nodes, pods)
		state := framework.NewCycleState()
		_, s, _ := e.fw.RunPreFilterPlugins(e.ctx, state, pod)
		fitsSomewhere := false
		infos, err := e.fw.SnapshotSharedLister().NodeInfos().List()
		if err != nil {
			t.Fatal(err)
		}
		var why []string
		for _, ni := range infos {
			st := e.fit.Filter(e.ctx, state, pod, ni)
			fitsSomewhere = fitsSomewhere || st.IsSuccess()
			why = append(why, fmt.Sprintf("%s: %v", ni.Node().Name, st))
		}
		switch {
		case s.IsSuccess() && fitsSomewhere:
			admitted++
		case s.Code() == fwk.Unschedulable && !fitsSomewhere:
			rejected++
		case s.IsSuccess():
			// Allowed (a necessary condition may pass), but with cpu,
			// memory and pod slots it is NodeResourcesFit's own test.
			t.Errorf("trial %d: room check passed, NodeResourcesFit rejects every node: %s", trial, strings.Join(why, "; "))
		default:
			t.Fatalf("trial %d: room check %v, NodeResourcesFit admits a node: %s", trial, s, strings.Join(why, "; "))
		}
	}
	if rejected < 30 || admitted < 30 {
		t.Errorf("%d rejected, %d admitted: the random cases should exercise both", rejected, admitted)
	}
}

// A pod that fits starts its scan where the last one found room.
func TestRoomCheckStartsWhereRoomWasFound(t *testing.T) {
	nodes := []*corev1.Node{node("a", "1", "1Gi", "110"), node("b", "1", "1Gi", "110"), node("c", "4", "8Gi", "110")}
	e := newRoomEnv(t, true, nodes, nil)
	pod := podWith("d", "p", nil, ctr("c", rl("cpu", "2"), nil))
	infos, err := e.fw.SnapshotSharedLister().NodeInfos().List()
	if err != nil {
		t.Fatal(err)
	}
	if s := e.pl.noRoomStatus(pod, infos); s != nil {
		t.Fatalf("noRoomStatus: %v", s)
	}
	at := int(e.pl.room.nextStart.Load())
	if got := infos[at].Node().Name; got != "c" {
		t.Fatalf("next scan starts at %q, want c", got)
	}
	// Fewer nodes than the remembered index: the scan starts over.
	var small []fwk.NodeInfo
	for _, ni := range infos {
		if ni.Node().Name != "c" {
			small = append(small, ni)
		}
	}
	e.pl.room.nextStart.Store(int64(len(infos) - 1))
	if s := e.pl.noRoomStatus(pod, small); s == nil || s.Code() != fwk.Unschedulable {
		t.Errorf("two small nodes: %v, want Unschedulable", s)
	}
	e.pl.room.nextStart.Store(int64(len(infos)))
	if s := e.pl.noRoomStatus(pod, infos); s != nil {
		t.Errorf("all nodes, remembered index past the end: %v, want room", s)
	}
}
