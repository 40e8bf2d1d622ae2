package quality

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	corev1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"

	"github.com/snug-sched/snug/pkg/stranding"
	"github.com/snug-sched/snug/pkg/workload"
)

// nodeInfo is a node of allocatable alloc (cpu millicores, memory bytes,
// GPUs), GPU model model ("" none), running one pod that requests used.
func nodeInfo(t *testing.T, name, model string, alloc, used Vec3) fwk.NodeInfo {
	t.Helper()
	labels := ""
	if model != "" {
		labels = workload.LabelGPUModel + "=" + model
	}
	node := nodesCSV(t, fmt.Sprintf("name,cpu,memory,gpu,labels\n%s,%.0fm,%.0f,%.0f,%s\n", name, alloc[CPU], alloc[Mem], alloc[GPU], labels))[0]
	ni := framework.NewNodeInfo()
	ni.SetNode(node)
	if used != (Vec3{}) {
		milli := 0
		if used[GPU] > 0 {
			milli = 1000
		}
		p := podsCSV(t, fmt.Sprintf("busy-%s,%.0f,%.0f,%.0f,%d,,LS,Running,0,1,0", name, used[CPU], used[Mem]/(1<<20), used[GPU], milli))[0]
		p.Spec.NodeName = name
		ni.AddPod(p)
	}
	return ni
}

// A free GPU counts as usable only by shapes that accept the node's GPU
// model: on a T4 node, a GPU that only G2-bound pods want is stranded (and
// fragmented), as on a node without a model; on a G2 node it is not.
func TestModelGPUModels(t *testing.T) {
	const gib = 1 << 30
	cpuPod := "cpu,2000,8192,0,0,,BE,Running,0,1,0" // 8 of them fill a 16-core, 64 GiB node
	g2Pod := "g2,4000,16384,1,1000,G2,LS,Running,0,1,0"
	anyGPUPod := "any,8000,32768,1,1000,,LS,Running,0,1,0"
	t4Pod := "t4,4000,16384,2,1000,T4,LS,Running,0,1,0"
	alloc := Vec3{16000, 64 * gib, 2}
	cases := []struct {
		name     string
		pods     []string
		model    string
		used     Vec3
		stranded Vec3 // cpu millicores, memory bytes, GPUs
		frag     float64
	}{
		{"T4 node, only a G2-bound pod wants GPUs", []string{cpuPod, g2Pod}, "T4", Vec3{}, Vec3{0, 0, 2}, 2},
		{"G2 node, the G2-bound pod fits", []string{cpuPod, g2Pod}, "G2", Vec3{}, Vec3{}, 0},
		{"node without a model, only a G2-bound pod wants GPUs", []string{cpuPod, g2Pod}, "", Vec3{}, Vec3{0, 0, 2}, 2},
		{"T4 node, an unconstrained GPU pod fits", []string{cpuPod, g2Pod, anyGPUPod}, "T4", Vec3{}, Vec3{}, 0},
		{"T4 node, the T4-bound pod needs both GPUs, one is taken", []string{cpuPod, g2Pod, t4Pod}, "T4", Vec3{2000, 8 * gib, 1}, Vec3{0, 0, 1}, 1},
		{"T4 node, the T4-bound pod fits", []string{cpuPod, g2Pod, t4Pod}, "T4", Vec3{2000, 8 * gib, 0}, Vec3{}, 0},
		// Every shape that wants memory is G2-bound: a T4 node's memory
		// is stranded too.
		{"T4 node, only G2-bound pods at all", []string{g2Pod}, "T4", Vec3{2000, 0, 0}, Vec3{14000, 64 * gib, 2}, 2},
		{"G2 node, only G2-bound pods at all", []string{g2Pod}, "G2", Vec3{2000, 0, 0}, Vec3{6000, 32 * gib, 0}, 0},
	}
	for _, c := range cases {
		m := NewModel(podsCSV(t, c.pods...), 64)
		got := m.Measure([]fwk.NodeInfo{nodeInfo(t, "n", c.model, alloc, c.used)})
		if got.Stranded != c.stranded || got.FragGPU != c.frag {
			t.Errorf("%s: stranded %v, GPU fragmentation %v; want %v, %v", c.name, got.Stranded, got.FragGPU, c.stranded, c.frag)
		}
	}
}

// oldModel is the stranding model as it was before shapes carried GPU
// models (every shape judges every node), the reference for
// TestModelUnconstrainedUnchanged.
type oldModel struct {
	layout    stranding.Layout
	shapes    stranding.Shapes
	list      []ShapeCount
	covered   int
	distinct  int
	gpuShapes []Vec3
}

func newOldModel(pods []*corev1.Pod, max int) *oldModel {
	max = min(max, stranding.MaxShapes)
	m := &oldModel{layout: stranding.NewLayout()}
	for _, n := range ResourceNames {
		m.layout.Add(n, 1, false)
	}
	counts := map[Vec3]int{}
	for _, p := range pods {
		counts[PodVec(p)]++
	}
	m.distinct = len(counts)
	all := make([]ShapeCount, 0, len(counts))
	for v, n := range counts {
		all = append(all, ShapeCount{V: v, N: n})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].N != all[j].N {
			return all[i].N > all[j].N
		}
		for k := range all[i].V {
			if all[i].V[k] != all[j].V[k] {
				return all[i].V[k] < all[j].V[k]
			}
		}
		return false
	})
	for _, s := range all {
		if len(m.list) == max {
			break
		}
		if s.V == (Vec3{}) {
			continue
		}
		m.list = append(m.list, s)
		m.covered += s.N
		var v stranding.Vec
		copy(v[:3], s.V[:])
		m.shapes.Add(&m.layout, v)
		if s.V[GPU] > 0 {
			m.gpuShapes = append(m.gpuShapes, s.V)
		}
	}
	return m
}

func (m *oldModel) eval(alloc, used Vec3) NodeMetrics {
	var out NodeMetrics
	var free stranding.Vec
	for i := range alloc {
		out.Free[i] = math.Max(0, alloc[i]-used[i])
		free[i] = out.Free[i]
	}
	s := stranding.Stranded(&m.layout, &m.shapes, &free)
	copy(out.Stranded[:], s[:3])
	if out.Free[GPU] > 0 {
		fits := false
		for _, v := range m.gpuShapes {
			if v[CPU] <= out.Free[CPU] && v[Mem] <= out.Free[Mem] && v[GPU] <= out.Free[GPU] {
				fits = true
				break
			}
		}
		if !fits {
			out.FragGPU = out.Free[GPU]
		}
	}
	return out
}

// On pod lists without GPU-model constraints the model is the one before
// GPU models: the same shapes in the same order, and the same metrics on
// every node, whatever its model label.
func TestModelUnconstrainedUnchanged(t *testing.T) {
	lists := map[string][]*corev1.Pod{"small": smallTrace(t).Pods}
	noTimes, err := workload.LoadPods("testdata/pods_no_times.csv")
	if err != nil {
		t.Fatal(err)
	}
	lists["no times"] = noTimes
	// Many shapes, so the model keeps only the 64 most frequent.
	rng := rand.New(rand.NewPCG(1, 2))
	var rows []string
	for i := range 2000 {
		cpu := 500 * (1 + rng.IntN(40))
		mem := 1024 * (1 + rng.IntN(64))
		gpu := []int{0, 0, 1, 1, 1, 2, 4, 8}[rng.IntN(8)]
		milli := 1000
		if gpu == 0 {
			milli = 0
		}
		rows = append(rows, fmt.Sprintf("r%d,%d,%d,%d,%d,,LS,Running,0,1,0", i, cpu, mem, gpu, milli))
	}
	lists["random"] = podsCSV(t, rows...)
	dir := os.Getenv("SNUG_OPENB_DIR")
	if dir == "" {
		dir = "../../../../shared/data/alibaba-openb"
	}
	if pods, err := workload.LoadPods(filepath.Join(dir, PodFile)); err == nil {
		lists["openb"] = pods
	} else {
		t.Logf("openb trace not found (%v): synthetic lists only", err)
	}
	for name, pods := range lists {
		for _, p := range pods {
			if workload.GPUModels(p) != nil {
				t.Fatalf("%s: pod %s is bound to GPU models", name, p.Name)
			}
		}
		m, old := NewModel(pods, 64), newOldModel(pods, 64)
		if !reflect.DeepEqual(m.List, old.list) || m.Covered != old.covered || m.Distinct != old.distinct || m.Constrained != 0 {
			t.Fatalf("%s: model %d shapes (%d distinct, %d covered), was %d (%d, %d)", name, len(m.List), m.Distinct, m.Covered, len(old.list), old.distinct, old.covered)
		}
		if !reflect.DeepEqual(m.base.shapes, old.shapes) || !reflect.DeepEqual(m.base.gpuShapes, old.gpuShapes) || len(m.byModel) != 0 || !reflect.DeepEqual(m.Layout, old.layout) {
			t.Fatalf("%s: stranding shapes or layout differ", name)
		}
		for i := range 5000 {
			alloc := Vec3{float64(1000 * (1 + rng.IntN(128))), float64((1 + rng.IntN(1024)) << 30), float64(rng.IntN(9))}
			var used Vec3
			for k := range used {
				used[k] = math.Floor(alloc[k] * rng.Float64() * 1.1) // sometimes more than allocatable
			}
			if i%7 == 0 {
				used = Vec3{}
			}
			want := old.eval(alloc, used)
			for _, model := range []string{"", "G2", "T4"} {
				if got := m.Eval(model, alloc, used); got != want {
					t.Fatalf("%s: node %q alloc %v used %v: %+v, was %+v", name, model, alloc, used, got, want)
				}
			}
		}
	}
}

// Each GPU model's nodes are judged by the most frequent shapes that accept
// them, up to the model's size, so shapes bound to one model do not crowd
// out the unconstrained ones on other nodes.
func TestModelShapesPerGPUModel(t *testing.T) {
	var rows []string
	add := func(n int, name string, cpu, gpu int, spec string) {
		for i := range n {
			rows = append(rows, fmt.Sprintf("%s%d,%d,4096,%d,%d,%s,LS,Running,0,1,0", name, i, cpu, gpu, 1000*min(gpu, 1), spec))
		}
	}
	add(10, "g2-", 4000, 1, "G2")
	add(5, "u1-", 1000, 0, "")
	add(4, "u2-", 2000, 1, "")
	add(3, "t4-", 3000, 1, "T4")
	add(2, "u3-", 3000, 0, "")
	m := NewModel(podsCSV(t, rows...), 2)
	var got []string
	for _, s := range m.List {
		got = append(got, fmt.Sprintf("%g/%v", s.V[CPU]/1000, s.Models))
	}
	// G2 nodes: g2, u1; T4 nodes: u1, u2 (t4 is third); others: u1, u2.
	if want := []string{"4/[G2]", "1/[]", "2/[]"}; !reflect.DeepEqual(got, want) || m.Constrained != 1 || m.Covered != 19 || m.Distinct != 5 || m.Max != 2 {
		t.Errorf("shapes %v (%d constrained, %d covered, %d distinct)", got, m.Constrained, m.Covered, m.Distinct)
	}
	for model, want := range map[string]int{"G2": 2, "T4": 2, "": 2, "P100": 2} {
		if ns := m.forModel(model); ns.shapes.N != want {
			t.Errorf("%q: %d shapes", model, ns.shapes.N)
		}
	}
	if m.forModel("G2").shapes.V[0][CPU] != 4000 || m.forModel("T4") == m.forModel("G2") || m.forModel("P100") != m.base {
		t.Error("per-model shapes")
	}
}
