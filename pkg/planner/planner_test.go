package planner

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/snug-sched/snug/pkg/workload"
)

// node is a node with cpu, memory and, optionally, pods and nvidia.com/gpu
// allocatable ("" leaves a resource out; pods defaults to 110).
func node(name, cpu, mem, pods, gpu string) *corev1.Node {
	rl := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}
	if pods == "" {
		pods = "110"
	}
	rl[corev1.ResourcePods] = resource.MustParse(pods)
	if gpu != "" {
		rl[GPU] = resource.MustParse(gpu)
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Status: corev1.NodeStatus{Capacity: rl, Allocatable: rl.DeepCopy()}}
}

func nodes(n int, cpu, mem string) []*corev1.Node {
	var out []*corev1.Node
	for i := 1; i <= n; i++ {
		out = append(out, node(fmt.Sprintf("n%d", i), cpu, mem, "", ""))
	}
	return out
}

func pod(name, cpu, mem string) *corev1.Pod {
	req := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Requests: req}}}},
	}
}

// pods returns n pods name-0.. of one shape.
func pods(prefix string, n int, cpu, mem string) []*corev1.Pod {
	var out []*corev1.Pod
	for i := 0; i < n; i++ {
		out = append(out, pod(fmt.Sprintf("%s-%d", prefix, i), cpu, mem))
	}
	return out
}

func concat(lists ...[]*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func builtins(t *testing.T, names ...string) []Profile {
	t.Helper()
	var out []Profile
	for _, n := range names {
		p, err := ProfileFlag{Name: n}.Load()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func usage(t *testing.T, pr ProfileReport, res string) ResourceUsage {
	t.Helper()
	for _, u := range pr.Resources {
		if u.Resource == res {
			return u
		}
	}
	t.Fatalf("profile %s: no resource %s in %+v", pr.Profile, res, pr.Resources)
	return ResourceUsage{}
}

const gi = 1 << 30

func TestMain(m *testing.M) {
	// The framework's informational klog lines are noise here.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	os.Exit(m.Run())
}

// Hand-checked comparisons: the default profile scores LeastAllocated and
// spreads, snug's profile packs (ties go to the first node by name).
func TestCompareHandChecked(t *testing.T) {
	for _, tc := range []struct {
		name      string
		nodes     []*corev1.Node
		pods      []*corev1.Pod
		profile   string
		placed    int
		failed    int
		nodesUsed int
		// cpu and memory: requested, allocatable, stranded (millicores, bytes)
		cpu, mem [3]int64
	}{
		{
			// Three 1-cpu pods on three empty 4-cpu nodes: one per node.
			// Each node keeps 3 cpu / 7Gi free; the only shape (1 cpu, 1Gi)
			// fits 3 more times, using 3 cpu and 3Gi: 4Gi stranded per node.
			name: "default spreads", profile: "default",
			nodes: nodes(3, "4", "8Gi"), pods: pods("p", 3, "1", "1Gi"),
			placed: 3, nodesUsed: 3,
			cpu: [3]int64{3000, 12000, 0}, mem: [3]int64{3 * gi, 24 * gi, 12 * gi},
		},
		{
			// Same input, all three on n1: n1 keeps 1 cpu / 5Gi (4Gi
			// stranded), n2 and n3 4 cpu / 8Gi (4Gi stranded each).
			name: "snug packs", profile: "snug",
			nodes: nodes(3, "4", "8Gi"), pods: pods("p", 3, "1", "1Gi"),
			placed: 3, nodesUsed: 1,
			cpu: [3]int64{3000, 12000, 0}, mem: [3]int64{3 * gi, 24 * gi, 12 * gi},
		},
		{
			// A 3-cpu and a 1-cpu/4Gi pod fill one node's cpu: its last
			// 3Gi of memory is stranded (every shape needs cpu).
			name: "cpu exhausted strands memory", profile: "snug",
			nodes: nodes(1, "4", "8Gi"), pods: []*corev1.Pod{pod("a", "3", "1Gi"), pod("b", "1", "4Gi")},
			placed: 2, nodesUsed: 1,
			cpu: [3]int64{4000, 4000, 0}, mem: [3]int64{5 * gi, 8 * gi, 3 * gi},
		},
		{
			// Too big for any node: fails with the scheduler's reason.
			name: "does not fit", profile: "default",
			nodes: nodes(2, "2", "4Gi"), pods: []*corev1.Pod{pod("small", "1", "1Gi"), pod("big", "3", "1Gi")},
			placed: 1, failed: 1, nodesUsed: 1,
			// Free: (1 cpu, 3Gi) and (2 cpu, 4Gi). Shape (1, 1Gi) uses 1/1Gi
			// and 2/2Gi; shape (3, 1Gi) fits nowhere: 2Gi + 2Gi stranded.
			cpu: [3]int64{1000, 4000, 0}, mem: [3]int64{1 * gi, 8 * gi, 4 * gi},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Run(context.Background(), Config{Nodes: tc.nodes, Pods: tc.pods, Profiles: builtins(t, tc.profile)})
			if err != nil {
				t.Fatal(err)
			}
			pr := rep.Profiles[0]
			if pr.Placed != tc.placed || pr.Failed != tc.failed || pr.NodesUsed != tc.nodesUsed || pr.Nodes != len(tc.nodes) {
				t.Errorf("placed %d failed %d nodes used %d/%d, want %d %d %d/%d",
					pr.Placed, pr.Failed, pr.NodesUsed, pr.Nodes, tc.placed, tc.failed, tc.nodesUsed, len(tc.nodes))
			}
			for _, c := range []struct {
				res  string
				want [3]int64
			}{{"cpu", tc.cpu}, {"memory", tc.mem}} {
				u := usage(t, pr, c.res)
				if got := [3]int64{u.Requested, u.Allocatable, u.Stranded}; got != c.want {
					t.Errorf("%s requested/allocatable/stranded %v, want %v", c.res, got, c.want)
				}
			}
			if len(pr.Failures) != tc.failed {
				t.Errorf("failures %v, want %d", pr.Failures, tc.failed)
			}
			for _, f := range pr.Failures {
				if !strings.Contains(f.Reason, "Insufficient cpu") {
					t.Errorf("failure %+v: want the scheduler's Insufficient cpu reason", f)
				}
			}
		})
	}
}

// The same cluster and workload through both default profiles: nodes used
// differ, allocation does not.
func TestDefaultBesideSnug(t *testing.T) {
	rep, err := Run(context.Background(), Config{Nodes: nodes(3, "4", "8Gi"), Pods: pods("p", 3, "1", "1Gi"),
		Profiles: builtins(t, "default", "snug")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range rep.Profiles {
		got = append(got, fmt.Sprintf("%s:%d", p.Profile, p.NodesUsed))
	}
	if want := []string{"default:3", "snug:1"}; !slices.Equal(got, want) {
		t.Errorf("profiles:nodes used %v, want %v", got, want)
	}
}

// A pod slot is a resource: a node with no free slot strands all it has left.
func TestPodSlotsStrand(t *testing.T) {
	rep, err := Run(context.Background(), Config{Nodes: []*corev1.Node{node("n1", "4", "8Gi", "1", "")},
		Pods: []*corev1.Pod{pod("a", "1", "1Gi")}, Profiles: builtins(t, "snug")})
	if err != nil {
		t.Fatal(err)
	}
	pr := rep.Profiles[0]
	if cpu, mem := usage(t, pr, "cpu").Stranded, usage(t, pr, "memory").Stranded; cpu != 3000 || mem != 7*gi {
		t.Errorf("stranded cpu %d, memory %d; want 3000 and 7Gi", cpu, mem)
	}
}

func TestShapesMostFrequentFirst(t *testing.T) {
	d := &dims{names: []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourcePods}, reported: 1}
	var vecs []vec
	for i := 0; i < 100; i++ { // 100 distinct shapes, shape 7 most frequent
		vecs = append(vecs, vec{int64(1000 + i), 1})
	}
	for i := 0; i < 5; i++ {
		vecs = append(vecs, vec{1007, 1})
	}
	m := newShapeModel(d, vecs)
	if m.count != 100 || m.shapes.N != 64 {
		t.Fatalf("count %d, used %d; want 100 and 64", m.count, m.shapes.N)
	}
	if m.shapes.V[0][0] != 1007 || m.shapes.V[1][0] != 1000 {
		t.Errorf("first shapes %v, %v; want 1007 (most frequent) then 1000 (first seen)", m.shapes.V[0][0], m.shapes.V[1][0])
	}
}

func TestLowerBound(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pods    []*corev1.Pod
		node    *corev1.Node
		want    int
		by      corev1.ResourceName
		wantErr string
	}{
		// 10 x 1.5 cpu = 15 cpu on 4-cpu nodes: ceil(3.75) = 4; memory 10Gi/64Gi: 1.
		{"cpu", pods("p", 10, "1500m", "1Gi"), node("s", "4", "64Gi", "", ""), 4, "cpu", ""},
		// 7 x 3Gi = 21Gi on 8Gi nodes: 3; cpu 700m/32: 1.
		{"memory", pods("p", 7, "100m", "3Gi"), node("s", "32", "8Gi", "", ""), 3, "memory", ""},
		// 5 tiny pods, 2 slots per node: 3.
		{"pods", pods("p", 5, "10m", "1Mi"), node("s", "32", "64Gi", "2", ""), 3, "pods", ""},
		// Exact division does not round up.
		{"exact", pods("p", 8, "1", "1Gi"), node("s", "4", "64Gi", "", ""), 2, "cpu", ""},
		{"gpu", func() []*corev1.Pod {
			ps := pods("p", 9, "1", "1Gi")
			for _, p := range ps {
				p.Spec.Containers[0].Resources.Requests[GPU] = resource.MustParse("1")
			}
			return ps
		}(), node("s", "96", "384Gi", "", "8"), 2, GPU, ""},
		{"node lacks a resource", func() []*corev1.Pod {
			p := pod("g", "1", "1Gi")
			p.Spec.Containers[0].Resources.Requests[GPU] = resource.MustParse("1")
			return []*corev1.Pod{p}
		}(), node("s", "4", "8Gi", "", ""), 0, GPU, "the node offers none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, by, err := LowerBound(tc.pods, tc.node)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || n != tc.want || by != tc.by {
				t.Errorf("LowerBound = %d, %s, %v; want %d, %s", n, by, err, tc.want, tc.by)
			}
		})
	}
}

// Sizing against hand-computed minima.
func TestSizingSearch(t *testing.T) {
	shape := node("shape", "4", "8Gi", "", "")
	for _, tc := range []struct {
		name        string
		pods        []*corev1.Pod
		profile     string
		lowerBound  int
		want        int
		unplaceable int
		probes      []int // node counts probed, in order
		sizeMax     int
		wantErr     string
	}{
		{
			// 5 x 3 cpu: lower bound ceil(15/4) = 4, but one such pod per
			// 4-cpu node whatever the scheduler: 5.
			name: "one per node", pods: pods("p", 5, "3", "1Gi"), profile: "default",
			lowerBound: 4, want: 5, probes: []int{4, 5},
		},
		{
			// 8 x 3 cpu, then 4 x 2 cpu: lower bound ceil(32/4) = 8. The
			// 3-cpu pods need a node each and leave 1 cpu, the 2-cpu pods
			// pair up: 10. Gallop 8, 9, 11 (hosted), then bisect [10, 11).
			name: "gallop then bisect", pods: concat(pods("three", 8, "3", "1Gi"), pods("two", 4, "2", "1Gi")), profile: "snug",
			lowerBound: 8, want: 10, probes: []int{8, 9, 11, 10},
		},
		{
			// 2,2,2,3,3 cpu (12 cpu: lower bound 3). Optimum 4: the 3-cpu
			// pods need a node each, the 2-cpu pods pair up. snug packs
			// 2+2 on one node and reaches it.
			name: "packing reaches the optimum", pods: concat(pods("two", 3, "2", "1Gi"), pods("three", 2, "3", "1Gi")), profile: "snug",
			lowerBound: 3, want: 4, probes: []int{3, 4},
		},
		{
			// The default profile spreads the 2-cpu pods over three nodes,
			// leaving 2 cpu on each: both 3-cpu pods need an empty node, 5.
			name: "spreading needs one more", pods: concat(pods("two", 3, "2", "1Gi"), pods("three", 2, "3", "1Gi")), profile: "default",
			// Gallop 3, 4, then min(3+3, 5 pods) = 5: with a node per pod
			// everything fits.
			lowerBound: 3, want: 5, probes: []int{3, 4, 5},
		},
		{
			// As above, the search capped at 4 nodes: none found.
			name: "capped", pods: concat(pods("two", 3, "2", "1Gi"), pods("three", 2, "3", "1Gi")), profile: "default",
			sizeMax: 4, lowerBound: 3, want: 0, probes: []int{3, 4}, wantErr: "not hosted even with 4 nodes (--size-max)",
		},
		{
			name: "cap below the lower bound", pods: pods("p", 5, "3", "1Gi"), profile: "snug",
			sizeMax: 3, lowerBound: 4, want: 0, probes: nil, wantErr: "the lower bound 4 exceeds 3 nodes (--size-max)",
		},
		{
			// A pod larger than the shape is left out and reported.
			name: "unplaceable pod", pods: append(pods("p", 4, "2", "1Gi"), pod("huge", "8", "1Gi")), profile: "snug",
			lowerBound: 2, want: 2, unplaceable: 1, probes: []int{2},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Run(context.Background(), Config{Pods: tc.pods, SizeNode: shape, SizeNodeSource: "test",
				SizeMax: tc.sizeMax, Profiles: builtins(t, tc.profile)})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Profiles != nil {
				t.Errorf("comparison ran without nodes: %+v", rep.Profiles)
			}
			r := rep.Sizing.Profiles[0]
			var probed []int
			for _, p := range r.Probes {
				probed = append(probed, p.Nodes)
			}
			if r.LowerBound != tc.lowerBound || r.Nodes != tc.want || r.Unplaceable != tc.unplaceable || r.Error != tc.wantErr {
				t.Errorf("lower bound %d, nodes %d, unplaceable %d, error %q; want %d, %d, %d, %q",
					r.LowerBound, r.Nodes, r.Unplaceable, r.Error, tc.lowerBound, tc.want, tc.unplaceable, tc.wantErr)
			}
			if !slices.Equal(probed, tc.probes) {
				t.Errorf("probed %v, want %v", probed, tc.probes)
			}
			if tc.wantErr != "" {
				if r.Result != nil {
					t.Errorf("a result without an answer: %+v", r.Result)
				}
				return
			}
			if r.Result == nil || r.Result.Placed != r.Pods || r.Result.Nodes != tc.want {
				t.Errorf("result at the answer %+v, want all %d pods on %d nodes", r.Result, r.Pods, tc.want)
			}
			if tc.unplaceable > 0 && (len(r.Unfit) != 1 || r.Unfit[0].Pod != "default/huge" || !strings.Contains(r.Unfit[0].Reason, "Insufficient cpu")) {
				t.Errorf("unplaceable failures %+v, want default/huge with Insufficient cpu", r.Unfit)
			}
		})
	}
}

func TestPreemption(t *testing.T) {
	low, high := int32(10), int32(1000)
	victim, preemptor := pod("victim", "3", "1Gi"), pod("preemptor", "3", "1Gi")
	victim.Spec.Priority, preemptor.Spec.Priority = &low, &high
	for _, tc := range []struct {
		preemption                bool
		placed, failed, preempted int
	}{{false, 1, 1, 0}, {true, 1, 0, 1}} {
		for _, prof := range []string{"default", "snug"} {
			t.Run(fmt.Sprintf("%s/%v", prof, tc.preemption), func(t *testing.T) {
				rep, err := Run(context.Background(), Config{Nodes: nodes(1, "4", "8Gi"),
					Pods: []*corev1.Pod{victim, preemptor}, Profiles: builtins(t, prof), Preemption: tc.preemption})
				if err != nil {
					t.Fatal(err)
				}
				pr := rep.Profiles[0]
				if pr.Placed != tc.placed || pr.Failed != tc.failed || pr.Preempted != tc.preempted {
					t.Errorf("placed %d failed %d preempted %d, want %d %d %d", pr.Placed, pr.Failed, pr.Preempted, tc.placed, tc.failed, tc.preempted)
				}
				if got := usage(t, pr, "cpu").Requested; got != 3000 {
					t.Errorf("cpu requested %d after the run, want 3000 (one 3-cpu pod)", got)
				}
			})
		}
	}
}

func TestCurve(t *testing.T) {
	for _, n := range []int{3, 10, 25} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			rep, err := Run(context.Background(), Config{Nodes: nodes(2, "100", "100Gi"), Pods: pods("p", n, "1", "1Gi"),
				Profiles: builtins(t, "snug")})
			if err != nil {
				t.Fatal(err)
			}
			curve := rep.Profiles[0].Curve
			if len(curve) != CurveSteps+1 {
				t.Fatalf("%d points, want %d", len(curve), CurveSteps+1)
			}
			for k, pt := range curve {
				wantSub := k * n / 10
				wantCPU := float64(int(1000*float64(wantSub)/200+0.5)) / 10 // wantSub cpu of 200, rounded to 0.1%
				if pt.SubmittedPercent != 10*k || pt.Submitted != wantSub || pt.Placed != wantSub ||
					pt.AllocatedPercent["cpu"] == nil || *pt.AllocatedPercent["cpu"] != wantCPU {
					t.Errorf("point %d = %+v (cpu %v), want %d%%, %d submitted, cpu %.1f%%", k, pt, pctString(pt.AllocatedPercent["cpu"]), 10*k, wantSub, wantCPU)
				}
			}
		})
	}
}

// The documented JSON field names, so scripts can rely on them.
var jsonFields = map[string][]string{
	"report":        {"input", "resources", "shapes", "shapesUsed", "profiles", "sizing"},
	"input":         {"nodes", "workload", "example", "nodeCount", "podCount", "preemption", "scoreAllNodes"},
	"profile":       {"profile", "source", "pods", "placed", "failed", "preempted", "nodes", "nodesUsed", "failures", "resources", "curve"},
	"failure":       {"pod", "reason"},
	"resource":      {"resource", "unit", "requested", "allocatable", "allocatedPercent", "stranded", "strandedPercent"},
	"curvePoint":    {"submittedPercent", "submitted", "placed", "allocatedPercent"},
	"sizing":        {"node", "profiles"},
	"node":          {"source", "allocatable"},
	"sizingProfile": {"profile", "pods", "unplaceable", "unplaceableFailures", "lowerBound", "boundBy", "nodes", "maxNodes", "error", "probes", "result"},
	"probe":         {"nodes", "hosted", "placed"},
}

func keysOf(t *testing.T, v any, what string) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: %T, want an object", what, v)
	}
	var got []string
	for k := range m {
		got = append(got, k)
	}
	sort.Strings(got)
	want := append([]string(nil), jsonFields[what]...)
	sort.Strings(want)
	// Optional fields may be absent; no field may be unknown.
	for _, k := range got {
		if !slices.Contains(want, k) {
			t.Errorf("%s: undocumented field %q", what, k)
		}
	}
	return m
}

func TestJSONShape(t *testing.T) {
	ps := append(pods("p", 3, "1", "1Gi"), pod("big", "9", "1Gi"))
	rep, err := Run(context.Background(), Config{Nodes: nodes(2, "4", "8Gi"), Pods: ps, Profiles: builtins(t, "default", "snug"),
		SizeNode: node("s", "4", "8Gi", "", ""), SizeNodeSource: "cpu=4,memory=8Gi", Input: Input{Nodes: "nodes.csv", Workload: "w.csv"}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	top := keysOf(t, doc, "report")
	in := keysOf(t, top["input"], "input")
	if in["podCount"] != 4.0 || in["nodeCount"] != 2.0 || in["nodes"] != "nodes.csv" {
		t.Errorf("input %v", in)
	}
	if !reflect.DeepEqual(top["resources"], []any{"cpu", "memory"}) {
		t.Errorf("resources %v, want [cpu memory]", top["resources"])
	}
	profs := top["profiles"].([]any)
	if len(profs) != 2 {
		t.Fatalf("%d profiles, want 2", len(profs))
	}
	for _, p := range profs {
		pm := keysOf(t, p, "profile")
		if len(pm) != len(jsonFields["profile"]) {
			t.Errorf("profile has %d fields, want all %d", len(pm), len(jsonFields["profile"]))
		}
		if pm["failed"] != 1.0 {
			t.Errorf("profile %v: failed %v, want 1 (the 9-cpu pod)", pm["profile"], pm["failed"])
		}
		for _, f := range pm["failures"].([]any) {
			keysOf(t, f, "failure")
		}
		for _, r := range pm["resources"].([]any) {
			rm := keysOf(t, r, "resource")
			if len(rm) != len(jsonFields["resource"]) {
				t.Errorf("resource %v lacks fields", rm)
			}
		}
		curve := pm["curve"].([]any)
		if len(curve) != CurveSteps+1 {
			t.Errorf("curve has %d points", len(curve))
		}
		for _, c := range curve {
			keysOf(t, c, "curvePoint")
		}
	}
	sz := keysOf(t, top["sizing"], "sizing")
	keysOf(t, sz["node"], "node")
	for _, p := range sz["profiles"].([]any) {
		pm := keysOf(t, p, "sizingProfile")
		if pm["nodes"] != 1.0 || pm["lowerBound"] != 1.0 || pm["unplaceable"] != 1.0 {
			t.Errorf("sizing %v: want 1 node, lower bound 1, 1 unplaceable", pm)
		}
		for _, pr := range pm["probes"].([]any) {
			keysOf(t, pr, "probe")
		}
		keysOf(t, pm["result"], "profile")
	}
}

func TestSVG(t *testing.T) {
	gpuPod := pod("g", "1", "1Gi")
	gpuPod.Spec.Containers[0].Resources.Requests[GPU] = resource.MustParse("1")
	cluster := []*corev1.Node{node("n1", "8", "16Gi", "", "2"), node("n2", "8", "16Gi", "", "")}
	for _, tc := range []struct {
		name     string
		profiles []string
		sizing   bool
		nodes    []*corev1.Node
	}{
		{"two profiles", []string{"default", "snug"}, false, cluster},
		{"one profile", []string{"snug"}, false, cluster},
		{"sizing only", []string{"default", "snug"}, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Nodes: tc.nodes, Pods: append(pods("p", 12, "1", "1Gi"), gpuPod), Profiles: builtins(t, tc.profiles...)}
			if tc.sizing {
				cfg.SizeNode, cfg.SizeNodeSource = node("s", "8", "16Gi", "", "1"), "s"
			}
			rep, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := WriteSVG(&buf, rep); err != nil {
				t.Fatal(err)
			}
			// Well-formed XML; count polylines per panel.
			dec := xml.NewDecoder(&buf)
			var root string
			var panels []string
			perPanel := map[string][]string{}
			cur := ""
			for {
				tok, err := dec.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("not well-formed XML: %v", err)
				}
				se, ok := tok.(xml.StartElement)
				if !ok {
					continue
				}
				if root == "" {
					root = se.Name.Space + " " + se.Name.Local
				}
				attr := map[string]string{}
				for _, a := range se.Attr {
					attr[a.Name.Local] = a.Value
				}
				switch {
				case se.Name.Local == "g" && attr["class"] == "panel":
					cur = attr["data-resource"]
					panels = append(panels, cur)
				case se.Name.Local == "polyline":
					if cur == "" {
						t.Errorf("polyline outside a panel")
					}
					perPanel[cur] = append(perPanel[cur], attr["data-profile"])
					if n := len(strings.Fields(attr["points"])); n != CurveSteps+1 {
						t.Errorf("panel %s, %s: %d points, want %d", cur, attr["data-profile"], n, CurveSteps+1)
					}
				}
			}
			if root != "http://www.w3.org/2000/svg svg" {
				t.Errorf("root element %q, want svg in the SVG namespace", root)
			}
			if want := []string{"cpu", "memory", "nvidia.com/gpu"}; !slices.Equal(panels, want) {
				t.Errorf("panels %v, want %v", panels, want)
			}
			for _, p := range panels {
				var want []string
				for i, name := range tc.profiles {
					if tc.sizing {
						name = fmt.Sprintf("%s (%d nodes)", name, rep.Sizing.Profiles[i].Nodes)
					}
					want = append(want, name)
				}
				if !slices.Equal(perPanel[p], want) {
					t.Errorf("panel %s: polylines %v, want one per profile %v", p, perPanel[p], want)
				}
			}
		})
	}
}

func TestTable(t *testing.T) {
	nodes, ps, err := workload.Example(workload.ExampleKubernetesPatternsTable22)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), Config{Nodes: nodes, Pods: ps, Profiles: builtins(t, "default", "snug"),
		Input: Input{Example: workload.ExampleKubernetesPatternsTable22}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, rep); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"Workload: 10 pods, 3 distinct shapes (example kubernetes-patterns-table-2-2)",
		"PROFILE  SOURCE    PODS  PLACED  FAILED  NODES USED",
		"default  built-in  10    10      0",
		"snug     built-in  10    10      0",
		// Table 2-2's requests: 4500m cpu and 6000Mi memory of 6 cpu, 12Gi.
		"cpu       4.5        6            75.0%",
		"memory    5.9Gi      12Gi         48.8%",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestFormatQuantity(t *testing.T) {
	for _, tc := range []struct {
		name corev1.ResourceName
		v    int64
		want string
	}{
		{corev1.ResourceCPU, 4500, "4.5"},
		{corev1.ResourceCPU, 250, "0.25"},
		{corev1.ResourceCPU, 73610532, "73610.5"},
		{corev1.ResourceCPU, 125514000, "125514"},
		{corev1.ResourceMemory, 6000 << 20, "5.9Gi"},
		{corev1.ResourceMemory, 12 << 30, "12Gi"},
		{corev1.ResourceMemory, 512, "512"},
		{GPU, 8, "8"},
	} {
		if got := formatQuantity(tc.name, tc.v); got != tc.want {
			t.Errorf("formatQuantity(%s, %d) = %q, want %q", tc.name, tc.v, got, tc.want)
		}
	}
}

func TestParseNodeSpec(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		want    map[corev1.ResourceName]string
		wantErr string
	}{
		{"cpu=96,memory=384Gi,nvidia.com/gpu=8", map[corev1.ResourceName]string{"cpu": "96", "memory": "384Gi", GPU: "8", "pods": "110"}, ""},
		{" cpu = 4 , memory=8Gi, pods=20 ", map[corev1.ResourceName]string{"cpu": "4", "memory": "8Gi", "pods": "20"}, ""},
		{"cpu=abc", nil, `cpu="abc": invalid quantity`},
		{"cpu=-1", nil, "must be >= 0"},
		{"cpu", nil, "want resource=quantity"},
		{"cpu=1,cpu=2", nil, "given twice"},
		{"bad name!=1", nil, "invalid resource name"},
		{",", nil, "no resources given"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			n, err := ParseNodeSpec(tc.spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[corev1.ResourceName]string{}
			for k, q := range n.Status.Allocatable {
				got[k] = q.String()
			}
			if !reflect.DeepEqual(got, tc.want) || !reflect.DeepEqual(n.Status.Capacity, n.Status.Allocatable) {
				t.Errorf("allocatable %v (capacity %v), want %v", got, n.Status.Capacity, tc.want)
			}
		})
	}
}

func TestParseProfileFlag(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    ProfileFlag
		wantErr string
	}{
		{"default", ProfileFlag{Name: "default"}, ""},
		{"snug", ProfileFlag{Name: "snug"}, ""},
		{"mine=cfg.yaml", ProfileFlag{Name: "mine", Path: "cfg.yaml"}, ""},
		{"mine=dir/cfg.yaml:my-scheduler", ProfileFlag{Name: "mine", Path: "dir/cfg.yaml", ProfileName: "my-scheduler"}, ""},
		{"mine=./a:b/cfg.yaml", ProfileFlag{Name: "mine", Path: "./a:b/cfg.yaml"}, ""},
		{"other", ProfileFlag{}, "not a built-in profile"},
		{"=cfg.yaml", ProfileFlag{}, "empty profile name"},
		{"mine=", ProfileFlag{}, "empty path"},
		{"mine=cfg.yaml:", ProfileFlag{}, "empty profile name after ':'"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseProfileFlag(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Command-line errors name the flag and, for input files, the file, line
// and field.
func TestMainErrors(t *testing.T) {
	dir := t.TempDir()
	nodesCSV := writeFile(t, dir, "nodes.csv", "name,cpu,memory\nn1,4,8Gi\n")
	podsCSV := writeFile(t, dir, "pods.csv", "name,cpu,memory\na,1,1Gi\n")
	badPods := writeFile(t, dir, "bad.csv", "name,cpu,memory\na,1,1Gi\nb,x1,1Gi\n")
	badNodes := writeFile(t, dir, "badnodes.yaml", "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\nstatus:\n  allocatable:\n    cpu: -1\n")
	twoNodes := writeFile(t, dir, "two.csv", "name,cpu,memory\nn1,4,8Gi\nn2,4,8Gi\n")
	badProfile := writeFile(t, dir, "sched.yaml", "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- schedulerName: a\n- schedulerName: b\n")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"unknown flag", []string{"--bogus"}, 2, []string{"-bogus"}},
		{"no workload", []string{"--nodes", nodesCSV}, 2, []string{"--workload", "--example"}},
		{"no cluster", []string{"--workload", podsCSV}, 2, []string{"--nodes", "--size-node"}},
		{"bad output", []string{"--example", "kubernetes-patterns-table-2-2", "--output", "xml"}, 2, []string{"--output", `"xml"`}},
		{"unknown example", []string{"--example", "nope"}, 2, []string{"--example", `"nope"`, "kubernetes-patterns-table-2-2"}},
		{"example and nodes", []string{"--example", "kubernetes-patterns-table-2-2", "--nodes", nodesCSV}, 2, []string{"--example", "--nodes"}},
		{"unknown built-in profile", []string{"--example", "kubernetes-patterns-table-2-2", "--profile", "fast"}, 2, []string{"-profile", `"fast"`}},
		{"duplicate profile", []string{"--example", "kubernetes-patterns-table-2-2", "--profile", "snug", "--profile", "snug"}, 2, []string{"-profile", "given twice"}},
		{"missing profile file", []string{"--example", "kubernetes-patterns-table-2-2", "--profile", "mine=" + filepath.Join(dir, "none.yaml")}, 1, []string{"--profile mine", "none.yaml"}},
		{"ambiguous profile file", []string{"--example", "kubernetes-patterns-table-2-2", "--profile", "mine=" + badProfile}, 1, []string{"--profile mine", "sched.yaml", `no profile ""`}},
		{"bad workload line", []string{"--nodes", nodesCSV, "--workload", badPods}, 1, []string{"--workload", "bad.csv:3", `field "cpu"`}},
		{"bad nodes field", []string{"--nodes", badNodes, "--workload", podsCSV}, 1, []string{"--nodes", "badnodes.yaml", "status.allocatable"}},
		{"missing nodes file", []string{"--nodes", filepath.Join(dir, "none.csv"), "--workload", podsCSV}, 1, []string{"--nodes", "none.csv"}},
		{"bad size spec", []string{"--workload", podsCSV, "--size-node", "cpu=lots"}, 1, []string{"--size-node", "cpu", `"lots"`}},
		{"size-node neither file nor spec", []string{"--workload", podsCSV, "--size-node", "big-node"}, 1, []string{"--size-node", "big-node", "no such file"}},
		{"size-node file with two nodes", []string{"--workload", podsCSV, "--size-node", twoNodes}, 1, []string{"--size-node", "two.csv", "2 nodes"}},
		{"chart in a missing directory", []string{"--example", "kubernetes-patterns-table-2-2", "--chart", filepath.Join(dir, "no", "c.svg")}, 1, []string{"--chart"}},
		{"bad size-max", []string{"--workload", podsCSV, "--size-node", "cpu=1,memory=1Gi", "--size-max", "-1"}, 2, []string{"--size-max"}},
		{"bad parallelism", []string{"--example", "kubernetes-patterns-table-2-2", "--parallelism", "0"}, 2, []string{"--parallelism"}},
		{"stray argument", []string{"--example", "kubernetes-patterns-table-2-2", "extra"}, 2, []string{`"extra"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), tc.args, &stdout, &stderr, false)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout not empty on error: %s", stdout.String())
			}
		})
	}
}

func TestMainOutputs(t *testing.T) {
	dir := t.TempDir()
	chart := filepath.Join(dir, "c.svg")
	var stdout, stderr bytes.Buffer
	args := []string{"--example", "kubernetes-patterns-table-2-2", "--size-node", "cpu=2,memory=4Gi", "--output", "json", "--chart", chart}
	if code := Main(context.Background(), args, &stdout, &stderr, false); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var rep Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Profiles) != 2 || rep.Profiles[0].Profile != "default" || rep.Profiles[1].Profile != "snug" {
		t.Errorf("profiles %+v, want default then snug", rep.Profiles)
	}
	// 4.5 cpu on 2-cpu nodes: 3.
	if rep.Sizing == nil || rep.Sizing.Profiles[0].LowerBound != 3 || rep.Sizing.Profiles[0].Nodes != 3 {
		t.Errorf("sizing %+v, want lower bound and answer 3", rep.Sizing)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr %q, want nothing (no terminal, no --progress)", stderr.String())
	}
	data, err := os.ReadFile(chart)
	if err != nil || !bytes.Contains(data, []byte("<polyline")) {
		t.Errorf("chart %s: %v", chart, err)
	}
	stdout.Reset()
	if code := Main(context.Background(), []string{"--list-examples"}, &stdout, &stderr, false); code != 0 || stdout.String() != "kubernetes-patterns-table-2-2\n" {
		t.Errorf("--list-examples: exit %d, %q", code, stdout.String())
	}
	stdout.Reset()
	if code := Main(context.Background(), []string{"--help"}, &stdout, &stderr, false); code != 0 || !strings.Contains(stdout.String(), "-size-node") {
		t.Errorf("--help: exit %d, %q", code, stdout.String())
	}
}

// The table says which node sampling ran; --score-all-nodes reaches the
// report.
func TestMainSaysWhichNodesWereScored(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "Nodes scored: a sample above 100 nodes"},
		{[]string{"--score-all-nodes"}, "Nodes scored: every feasible node in each cycle (--score-all-nodes)"},
	} {
		var stdout, stderr bytes.Buffer
		args := append([]string{"--example", "kubernetes-patterns-table-2-2"}, tc.args...)
		if code := Main(context.Background(), args, &stdout, &stderr, false); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
		}
		if !strings.Contains(stdout.String(), tc.want) {
			t.Errorf("%v: output lacks %q:\n%s", args, tc.want, stdout.String())
		}
	}
}

// fakeClock advances by step on every reading.
type fakeClock struct {
	t    time.Time
	step time.Duration
}

func (c *fakeClock) now() time.Time { c.t = c.t.Add(c.step); return c.t }

func TestBar(t *testing.T) {
	for _, tc := range []struct {
		name  string
		step  time.Duration // clock advance per reading
		pods  int
		draws int // lines drawn (carriage returns)
		want  []string
	}{
		// 1000 pods at 10ms each: 10s; nothing in the first second, then at
		// most one redraw per 100ms, plus the final line.
		{"long", 10 * time.Millisecond, 1000, 91, []string{"1000/1000 pods 100 pods/s in 10s", "~"}},
		// A short phase draws nothing at all.
		{"short", time.Millisecond, 100, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			clk := &fakeClock{t: time.Unix(0, 0), step: tc.step}
			b := &Bar{W: &buf, Delay: time.Second, Interval: 100 * time.Millisecond, Now: clk.now}
			b.Start("snug", tc.pods)
			for i := 0; i < tc.pods; i++ {
				b.Add(1)
			}
			b.Done()
			out := buf.String()
			if n := strings.Count(out, "\r"); n < tc.draws-2 || n > tc.draws+2 {
				t.Errorf("%d draws, want about %d", n, tc.draws)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q: %q", w, out[max(0, len(out)-300):])
				}
			}
			if tc.draws > 0 && !strings.HasSuffix(out, "\n") {
				t.Errorf("a drawn phase must end its line")
			}
		})
	}
}

// A profile from a KubeSchedulerConfiguration file: MostAllocated packs like
// snug on the hand-checked cluster.
func TestProfileFromFile(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "sched.yaml", `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: spread
- schedulerName: pack
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resources: [{name: cpu, weight: 1}, {name: memory, weight: 1}]
`)
	nodesCSV := writeFile(t, dir, "nodes.csv", "name,cpu,memory\nn1,4,8Gi\nn2,4,8Gi\nn3,4,8Gi\n")
	podsCSV := writeFile(t, dir, "pods.csv", "name,cpu,memory\na,1,1Gi\nb,1,1Gi\nc,1,1Gi\n")
	var stdout, stderr bytes.Buffer
	args := []string{"--nodes", nodesCSV, "--workload", podsCSV, "--output", "json",
		"--profile", "spread=" + cfg + ":spread", "--profile", "pack=" + cfg + ":pack"}
	if code := Main(context.Background(), args, &stdout, &stderr, false); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var rep Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range rep.Profiles {
		got = append(got, fmt.Sprintf("%s %s %d", p.Profile, filepath.Base(p.Source), p.NodesUsed))
	}
	if want := []string{"spread sched.yaml:spread 3", "pack sched.yaml:pack 1"}; !slices.Equal(got, want) {
		t.Errorf("profiles %q, want %q", got, want)
	}
}
