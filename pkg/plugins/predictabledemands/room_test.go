package predictabledemands

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
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
		name     string
		withFit  bool
		pod      *corev1.Pod
		wantCode fwk.Code // Success: PreFilter passes
		wantMsg  string
		// fitsEmpty: the pod passes the filters on node a without its pod.
		fitsEmpty bool
	}{
		{"fits on b by cpu, on a by memory, nowhere by both", true,
			podWith("d", "p", nil, ctr("c", rl("cpu", "1500m", "memory", "2Gi"), nil)), fwk.Unschedulable,
			"no node has the requested cpu, memory and a pod slot free together (room check: requests cpu 1500m, memory 2147483648 bytes)", true},
		{"cpu free nowhere, every node could hold it emptied", true, podWith("d", "p", nil, ctr("c", rl("cpu", "3"), nil)), fwk.Unschedulable,
			"Insufficient cpu (room check: requests cpu 3000m, memory 0 bytes)", true},
		// Above every node's allocatable: preemption must skip all nodes,
		// as after NodeResourcesFit's Unresolvable.
		{"cpu above every node's allocatable", true, podWith("d", "p", nil, ctr("c", rl("cpu", "5"), nil)), fwk.UnschedulableAndUnresolvable,
			"Insufficient cpu (room check: requests cpu 5000m, memory 0 bytes)", false},
		{"cpu and memory free nowhere", true, podWith("d", "p", nil, ctr("c", rl("cpu", "5", "memory", "8Gi"), nil)), fwk.UnschedulableAndUnresolvable,
			"Insufficient cpu, Insufficient memory (room check: requests cpu 5000m, memory 8589934592 bytes)", false},
		{"fits on a", true, podWith("d", "p", nil, ctr("c", rl("cpu", "1", "memory", "2Gi"), nil)), fwk.Success, "", true},
		{"no requests", true, podWith("d", "p", nil, ctr("c", nil, nil)), fwk.Success, "", true},
		{"profile without NodeResourcesFit: no check", false,
			podWith("d", "p", nil, ctr("c", rl("cpu", "100"), nil)), fwk.Success, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newRoomEnv(t, tc.withFit, nodes, pods)
			state := framework.NewCycleState()
			_, s, _ := e.fw.RunPreFilterPlugins(e.ctx, state, tc.pod)
			if tc.wantCode == fwk.Success {
				if !s.IsSuccess() {
					t.Fatalf("PreFilter: %v, want success", s)
				}
				return
			}
			if s.Code() != tc.wantCode || s.Plugin() != Name || s.Message() != tc.wantMsg {
				t.Fatalf("PreFilter: %v (plugin %q), want %v from %s: %q", s, s.Plugin(), tc.wantCode, Name, tc.wantMsg)
			}
			if tc.wantCode != fwk.Unschedulable {
				return // no dry run follows an unresolvable rejection
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
	// Nodes that would get different statuses from NodeResourcesFit: one
	// too small for the pod, one full. One PreFilter status cannot say both,
	// so the pod goes on to Filter.
	mixed := []*corev1.Node{nodes[0], node("small", "2", "8Gi", "110")}
	e := newRoomEnv(t, true, mixed, pods[:1])
	if _, s, _ := e.fw.RunPreFilterPlugins(e.ctx, framework.NewCycleState(), podWith("d", "p", nil, ctr("c", rl("cpu", "3"), nil))); !s.IsSuccess() {
		t.Errorf("one node too small, one full: PreFilter %v, want success (Filter judges each node)", s)
	}
	// A GPU pod when no node has cpu room: NodeResourcesFit would mark the
	// CPU-only node unresolvable (no GPU) and the GPU node not, so Filter
	// judges; a pod without a GPU gets the Unschedulable rejection.
	gpuNode := node("gpu", "4", "8Gi", "110")
	gpuNode.Status.Allocatable["nvidia.com/gpu"] = resource.MustParse("1")
	onGPU := onNode(podWith("d", "on-gpu", nil, ctr("c", rl("cpu", "3"), nil)), "gpu")
	e = newRoomEnv(t, true, []*corev1.Node{nodes[0], gpuNode}, []*corev1.Pod{pods[0], onGPU})
	if _, s, _ := e.fw.RunPreFilterPlugins(e.ctx, framework.NewCycleState(), podWith("d", "p", nil, ctr("c", rl("cpu", "2", "nvidia.com/gpu", "1"), nil))); !s.IsSuccess() {
		t.Errorf("GPU pod, a CPU-only node and a full GPU node: PreFilter %v, want success (Filter judges each node)", s)
	}
	if _, s, _ := e.fw.RunPreFilterPlugins(e.ctx, framework.NewCycleState(), podWith("d", "p", nil, ctr("c", rl("cpu", "2"), nil))); s.Code() != fwk.Unschedulable {
		t.Errorf("CPU pod on the same nodes: PreFilter %v, want Unschedulable", s)
	}
}

// The check never rejects a pod that NodeResourcesFit admits on some node,
// and its status is the one upstream's Filter gives every node: random
// clusters and pods, compared with upstream's Filter node by node.
func TestRoomCheckAgreesWithNodeResourcesFit(t *testing.T) {
	const gpu = corev1.ResourceName("nvidia.com/gpu")
	rng := rand.New(rand.NewSource(1))
	rejected, admitted, mixed := 0, 0, 0
	for trial := 0; trial < 300; trial++ {
		var nodes []*corev1.Node
		var pods []*corev1.Pod
		for i := 0; i < 1+rng.Intn(6); i++ {
			name := fmt.Sprintf("n%d", i)
			n := node(name, fmt.Sprint(1+rng.Intn(8)), fmt.Sprintf("%dGi", 1+rng.Intn(16)), fmt.Sprint(1+rng.Intn(4)))
			if rng.Intn(3) == 0 { // a GPU node among CPU-only ones
				n.Status.Allocatable[gpu] = resource.MustParse(fmt.Sprint(1 + rng.Intn(2)))
			}
			nodes = append(nodes, n)
			for j := 0; j < rng.Intn(4); j++ {
				pods = append(pods, onNode(podWith("d", fmt.Sprintf("%s-%d", name, j), nil,
					ctr("c", rl("cpu", fmt.Sprintf("%dm", rng.Intn(4000)), "memory", fmt.Sprintf("%dMi", rng.Intn(8192))), nil)), name))
			}
		}
		req := rl("cpu", fmt.Sprintf("%dm", rng.Intn(6000)), "memory", fmt.Sprintf("%dMi", rng.Intn(12288)))
		if rng.Intn(4) == 0 {
			delete(req, corev1.ResourceCPU)
		}
		if rng.Intn(4) == 0 {
			req[gpu] = resource.MustParse(fmt.Sprint(1 + rng.Intn(2)))
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
		codes := map[fwk.Code]int{}
		// Upstream's own PreFilter and Filter, on a state of their own: an
		// unresolvable PreFilter rejection stops the framework before them.
		fitState := framework.NewCycleState()
		if _, st := e.fit.PreFilter(e.ctx, fitState, pod, infos); !st.IsSuccess() {
			t.Fatalf("trial %d: NodeResourcesFit PreFilter: %v", trial, st)
		}
		for _, ni := range infos {
			st := e.fit.Filter(e.ctx, fitState, pod, ni)
			fitsSomewhere = fitsSomewhere || st.IsSuccess()
			codes[st.Code()]++
			why = append(why, fmt.Sprintf("%s: %v", ni.Node().Name, st))
		}
		switch {
		case s.IsSuccess() && fitsSomewhere:
			admitted++
		case !s.IsSuccess() && fitsSomewhere:
			t.Fatalf("trial %d: room check %v, NodeResourcesFit admits a node: %s", trial, s, strings.Join(why, "; "))
		case s.IsSuccess():
			// With cpu, memory and pod slots this is NodeResourcesFit's own
			// test, so a pass that fits nowhere must be the mixed case, or
			// a GPU request the check leaves to Filter.
			if _, wantsGPU := req[gpu]; !wantsGPU && (codes[fwk.Unschedulable] == 0 || codes[fwk.UnschedulableAndUnresolvable] == 0) {
				t.Errorf("trial %d: room check passed, NodeResourcesFit rejects every node alike: %s", trial, strings.Join(why, "; "))
			}
			mixed++
		case codes[s.Code()] == len(infos):
			// The status preemption reads is the one Filter gives every node.
			rejected++
		default:
			t.Errorf("trial %d: room check %v, NodeResourcesFit's codes %v: %s", trial, s, codes, strings.Join(why, "; "))
		}
	}
	if rejected < 30 || admitted < 30 || mixed < 5 {
		t.Errorf("%d rejected, %d admitted, %d mixed: the random cases should exercise all three", rejected, admitted, mixed)
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
	if s := e.pl.noRoomStatus(pod, small); s == nil || s.Code() != fwk.UnschedulableAndUnresolvable {
		t.Errorf("two nodes too small: %v, want UnschedulableAndUnresolvable", s)
	}
	e.pl.room.nextStart.Store(int64(len(infos)))
	if s := e.pl.noRoomStatus(pod, infos); s != nil {
		t.Errorf("all nodes, remembered index past the end: %v, want room", s)
	}
}
