package mix

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/snug-sched/snug/pkg/workload"
)

func load(t *testing.T) (nodes, pods *Table) {
	t.Helper()
	nodes, err := ReadTableFile("testdata/nodes.csv")
	if err != nil {
		t.Fatal(err)
	}
	pods, err = ReadTableFile("testdata/pods.csv")
	if err != nil {
		t.Fatal(err)
	}
	return nodes, pods
}

// bigPods is a pod list of n 1-GPU pods, every tenth a CPU-only one and
// every 50th an 8-GPU one (only model A's nodes fit it).
func bigPods(t *testing.T, n int, spec func(i int) string) *Table {
	t.Helper()
	var b strings.Builder
	b.WriteString("name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,creation_time,deletion_time\n")
	for i := range n {
		gpus := 1
		switch {
		case i%50 == 0:
			gpus = 8
		case i%10 == 0:
			gpus = 0
		}
		s := ""
		if spec != nil && gpus > 0 {
			s = spec(i)
		}
		fmt.Fprintf(&b, "p-%05d,%d,%d,%d,%d,%s,%d,%d\n", i, 1000+i%7*500, 2048+i%5*1024, gpus, 1000*min(gpus, 1), s, i, i+100)
	}
	tab, err := ReadTable("big.csv", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func generate(t *testing.T, m Mix, seed uint64, nodes, pods *Table) *Generated {
	t.Helper()
	g, err := m.Generate(seed, nodes, pods)
	if err != nil {
		t.Fatalf("%s: %v", m.Name, err)
	}
	// The output is a valid openb trace.
	if _, err := workload.ReadNodes("nodes.csv", g.Nodes.Bytes()); err != nil {
		t.Fatalf("%s: nodes: %v", m.Name, err)
	}
	if _, err := workload.ReadPods("pods.csv", g.Pods.Bytes()); err != nil {
		t.Fatalf("%s: pods: %v", m.Name, err)
	}
	return g
}

func TestDeterminism(t *testing.T) {
	nodes, _ := load(t)
	pods := bigPods(t, 400, nil) // 2% multi-GPU pods, no gpu_spec
	nodesBefore, podsBefore := nodes.Bytes(), pods.Bytes()
	random := map[string]bool{"multi-gpu": true, "gpu-spec": true}
	for _, m := range Family() {
		a := generate(t, m, 1, nodes, pods)
		b := generate(t, m, 1, nodes, pods)
		if !bytes.Equal(a.Pods.Bytes(), b.Pods.Bytes()) || !bytes.Equal(a.Nodes.Bytes(), b.Nodes.Bytes()) || !reflect.DeepEqual(a.Notes, b.Notes) {
			t.Errorf("%s: same seed, different output", m.Name)
		}
		c := generate(t, m, 2, nodes, pods)
		if same := bytes.Equal(a.Pods.Bytes(), c.Pods.Bytes()); same == random[m.Name] {
			t.Errorf("%s: seeds 1 and 2 give the same output: %v (want %v)", m.Name, same, !random[m.Name])
		}
	}
	if !bytes.Equal(nodes.Bytes(), nodesBefore) || !bytes.Equal(pods.Bytes(), podsBefore) {
		t.Error("Generate modified its input")
	}
	if m := (Mix{Name: "openb"}); !bytes.Equal(generate(t, m, 1, nodes, pods).Pods.Bytes(), podsBefore) {
		t.Error("the baseline mix changed the pods")
	}
}

func TestCPUScale(t *testing.T) {
	nodes, pods := load(t)
	g := generate(t, Mix{Name: "x", CPUScale: 2.5}, 1, nodes, pods)
	for i := range pods.Rows {
		gpu := pods.Get(i, "num_gpu") != "0" || pods.Get(i, "gpu_milli") != "0"
		for _, c := range []string{"cpu_milli", "memory_mib"} {
			before, _ := pods.Int(i, c)
			after, _ := g.Pods.Int(i, c)
			want := before
			if !gpu {
				want = int64(math.Round(2.5 * float64(before)))
			}
			if after != want {
				t.Errorf("%s %s: %d, want %d", pods.Get(i, "name"), c, after, want)
			}
		}
	}
}

func TestMultiGPUShare(t *testing.T) {
	nodes, pods := load(t)
	// 12 GPU pods, 2 multi-GPU (p-03 with 2 GPUs, p-06 with 8).
	g := generate(t, Mix{Name: "x", MultiGPUShare: 0.5}, 1, nodes, pods)
	ps, err := readPods(g.Pods)
	if err != nil {
		t.Fatal(err)
	}
	multi, gpuPods := 0, 0
	donors := map[string]bool{"12000/32768/2": true, "16000/65536/8": true}
	for i, p := range ps {
		if p.v[2] > 0 {
			gpuPods++
		}
		if p.v[2] > 1 {
			multi++
			if k := fmt.Sprintf("%d/%d/%d", p.v[0], p.v[1], p.v[2]); !donors[k] {
				t.Errorf("%s: multi-GPU shape %s is not one of the list's", g.Pods.Get(i, "name"), k)
			}
		}
		for _, c := range []string{"name", "creation_time", "deletion_time", "qos"} {
			if g.Pods.Get(i, c) != pods.Get(i, c) {
				t.Errorf("row %d: %s changed", i, c)
			}
		}
	}
	if gpuPods != 12 || multi != 6 {
		t.Errorf("%d multi-GPU of %d GPU pods, want 6 of 12", multi, gpuPods)
	}
}

func TestConstrainedProportions(t *testing.T) {
	nodes, _ := load(t) // model A: 24 GPUs on 8-GPU nodes, B: 4 GPUs on 2-GPU nodes
	pods := bigPods(t, 3000, nil)
	const share = 1.0 / 3
	for _, seed := range []uint64{1, 2, 3} {
		g := generate(t, Mix{Name: "x", ConstrainedShare: share}, seed, nodes, pods)
		loaded, err := workload.ReadPods("pods.csv", g.Pods.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		constrained, gpuPods := 0, 0
		for _, p := range loaded {
			models := workload.GPUModels(p)
			gpus := p.Spec.Containers[0].Resources.Requests[workload.GPUResource]
			if gpus.Value() > 0 {
				gpuPods++
			}
			if models == nil {
				continue
			}
			constrained++
			if len(models) != 1 || gpus.Value() == 0 {
				t.Fatalf("%s: models %v, %d GPUs", p.Name, models, gpus.Value())
			}
			count[models[0]]++
			if gpus.Value() == 8 && models[0] != "A" {
				t.Errorf("%s: 8 GPUs constrained to %s, whose nodes have 2", p.Name, models[0])
			}
		}
		if want := int(math.Round(share * float64(gpuPods))); constrained != want {
			t.Errorf("seed %d: %d of %d GPU pods constrained, want %d", seed, constrained, gpuPods, want)
		}
		// The trace's own proportions: A has 24 of the 28 GPUs. (The 8-GPU
		// pods, 2% of the list, can only take A.)
		if got := float64(count["A"]) / float64(constrained); math.Abs(got-24.0/28) > 0.03 {
			t.Errorf("seed %d: %.3f of the constrained pods on A, want %.3f ± 0.03 (%v)", seed, got, 24.0/28, count)
		}
	}
}

// A pod list with gpu_spec values sets the proportions itself.
func TestConstrainedFromPodSpecs(t *testing.T) {
	nodes, _ := load(t)
	// Every 20th GPU pod already has a spec: three "B" for one "A|B".
	pods := bigPods(t, 4000, func(i int) string {
		switch {
		case i%20 != 1:
			return ""
		case i%80 == 1:
			return "B|A"
		}
		return "B"
	})
	g := generate(t, Mix{Name: "x", ConstrainedShare: 0.5}, 1, nodes, pods)
	count := map[string]int{}
	for i := range g.Pods.Rows {
		if s := g.Pods.Get(i, "gpu_spec"); s != "" {
			count[s]++
		}
	}
	// The 8-GPU pods fit no B node, so they all take "A|B".
	if got := float64(count["B"]) / float64(count["A|B"]+count["B"]); math.Abs(got-0.75) > 0.04 || count["A"] != 0 {
		t.Errorf("specs %v: %.3f B, want 0.75 ± 0.04", count, got)
	}
}

func TestPools(t *testing.T) {
	nodes, pods := load(t)
	g := generate(t, Mix{Name: "x", Pool: Pool{HomogeneousGPU: true, CPUNodeCopies: 2}}, 1, nodes, pods)
	ns, err := readNodes(g.Nodes)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var gpus int64
	for i, n := range ns {
		names = append(names, g.Nodes.Get(i, "sn"))
		gpus += n.v[2]
		if n.v[2] > 0 && (n.model != "A" || n.v[2] != 8) {
			t.Errorf("GPU node %v is not the most common shape", n)
		}
	}
	// 28 GPUs on 8-GPU nodes: 4 nodes.
	want := []string{"n-cpu-0", "n-cpu-0-c1", "n-cpu-1", "n-cpu-1-c1", "hgpu-node-0000", "hgpu-node-0001", "hgpu-node-0002", "hgpu-node-0003"}
	if !slices.Equal(names, want) || gpus != 32 {
		t.Errorf("nodes %v with %d GPUs, want %v with 32", names, gpus, want)
	}
}

func TestParse(t *testing.T) {
	m, err := Parse("cpu-x2.5")
	if err != nil || m.CPUScale != 2.5 {
		t.Errorf("family mix: %+v %v", m, err)
	}
	m, err = Parse("cpu=3,multi=0.2,constrained=0.5,homogeneous=true,cpu-copies=2,name=mine")
	want := Mix{Name: "mine", CPUScale: 3, MultiGPUShare: 0.2, ConstrainedShare: 0.5, Pool: Pool{HomogeneousGPU: true, CPUNodeCopies: 2}}
	if err != nil || m != want {
		t.Errorf("settings: %+v %v", m, err)
	}
	for _, bad := range []string{"nope", "cpu=x", "share=1", "constrained=2"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
