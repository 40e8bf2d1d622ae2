package quality

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/snug-sched/snug/pkg/apis/config"
	"github.com/snug-sched/snug/pkg/simulator"
	"github.com/snug-sched/snug/pkg/workload"
)

// These tests run tiny synthetic versions of the protocols (no trace) and
// check the harness's bookkeeping, not the policies' quality.

func nodesCSV(t *testing.T, csv string) []*corev1.Node {
	t.Helper()
	nodes, err := workload.ReadNodes("nodes.csv", []byte(csv))
	if err != nil {
		t.Fatal(err)
	}
	return nodes
}

const openbHeader = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n"

func podsCSV(t *testing.T, rows ...string) []*corev1.Pod {
	t.Helper()
	pods, err := workload.ReadPods("pods.csv", []byte(openbHeader+strings.Join(rows, "\n")+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	return pods
}

// smallTrace: 4 nodes (8 GPUs) and 12 pods of mixed shapes over time.
func smallTrace(t *testing.T) *Trace {
	nodes := nodesCSV(t, `name,cpu,memory,gpu,labels
n0,8,32Gi,2,snug.io/gpu-model=A
n1,8,32Gi,2,snug.io/gpu-model=A
n2,16,64Gi,4,snug.io/gpu-model=B
n3,16,64Gi,0,
`)
	pods := podsCSV(t,
		"p00,2000,4096,1,1000,,LS,Running,0,500,0",
		"p01,4000,8192,1,500,,LS,Running,10,300,10",
		"p02,6000,16384,2,1000,,LS,Running,20,900,20",
		"p03,8000,16384,0,0,,BE,Running,30,400,30",
		"p04,2000,4096,1,1000,,LS,Running,40,1000,40",
		"p05,12000,32768,4,1000,,LS,Running,50,600,50",
		"p06,1000,2048,0,0,,BE,Running,60,70,60",
		"p07,2000,4096,1,1000,,LS,Running,70,800,70",
		"p08,6000,8192,1,1000,,LS,Running,80,200,80",
		"p09,4000,8192,0,0,,BE,Running,90,95,90",
		"p10,2000,4096,1,1000,,LS,Running,100,700,100",
		"p11,7000,30000,1,1000,,LS,Running,110,900,110",
	)
	return NewTrace(nodes, pods, 1)
}

func TestPolicies(t *testing.T) {
	pols, err := Policies(1)
	if err != nil {
		t.Fatal(err)
	}
	if len(pols) != 8 || pols[len(pols)-1].Name != SnugPolicy {
		t.Fatalf("got %d policies, want 8 ending with snug", len(pols))
	}
	seen := map[string]bool{}
	for _, p := range pols {
		if seen[p.Name] {
			t.Errorf("duplicate policy %s", p.Name)
		}
		seen[p.Name] = true
		sim, err := p.NewSimulator(t.Context())
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		sim.Close()
	}
	def, err := simulator.DefaultProfile()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pols[0].Profile.Plugins, def.Plugins) || !reflect.DeepEqual(pols[0].Profile.PluginConfig, def.PluginConfig) {
		t.Errorf("least-allocated.yaml is not the default profile")
	}
}

func TestReplaceSnugProfile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, cfg string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	head := "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n"
	good := write("good.yaml", head+`- schedulerName: snug-scheduler
  pluginConfig:
  - name: StrandingAwarePacking
    args:
      strandedLevelWeight: 0
`)
	other := write("other.yaml", head+"- schedulerName: someone-else\n")
	pols, err := Policies(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := replaceSnugProfile(pols, other); err == nil || !strings.Contains(err.Error(), `no profile "snug-scheduler"`) {
		t.Errorf("config without snug-scheduler: got %v", err)
	}
	if err := replaceSnugProfile(pols, good); err != nil {
		t.Fatal(err)
	}
	snug := pols[len(pols)-1]
	if snug.Source != good {
		t.Errorf("source %q, want %q", snug.Source, good)
	}
	found := false
	for _, pc := range snug.Profile.PluginConfig {
		if a, ok := pc.Args.(*config.StrandingAwarePackingArgs); ok {
			found = true
			if a.StrandedLevelWeight != 0 {
				t.Errorf("strandedLevelWeight %v, want the file's 0", a.StrandedLevelWeight)
			}
		}
	}
	if !found {
		t.Errorf("no StrandingAwarePacking args in the replaced profile")
	}
}

// Hand-checked placements of the heuristics.
func TestHeuristics(t *testing.T) {
	pols, err := Policies(1)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Policy{}
	for _, p := range pols {
		byName[p.Name] = p
	}
	// a has 6 of 8 cores used, b is empty: best fit takes a (less left
	// over), Tetris b (free 8/8 x demand 1/8 > 2/8 x 1/8).
	for name, want := range map[string]string{"best-fit": "a", "tetris": "b"} {
		sim, err := byName[name].NewSimulator(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodesCSV(t, "name,cpu,memory\na,8,16Gi\nb,8,16Gi\n") {
			if err := sim.AddNode(n); err != nil {
				t.Fatal(err)
			}
		}
		busy := podsCSV(t, "busy,6000,1024,0,0,,LS,Running,0,1,0")[0]
		busy.Spec.NodeName = "a"
		if err := sim.AddPod(busy); err != nil {
			t.Fatal(err)
		}
		r, err := sim.Schedule(context.Background(), podsCSV(t, "x,1000,1024,0,0,,LS,Running,0,1,0")[0])
		sim.Close()
		if err != nil {
			t.Fatal(err)
		}
		if r.Node != want {
			t.Errorf("%s placed on %q, want %q", name, r.Node, want)
		}
	}
	pod := podsCSV(t, "x,1000,1024,0,0,,LS,Running,0,1,0")[0]
	if random(1, pod, "a") != random(1, pod, "a") || random(1, pod, "a") == random(2, pod, "a") {
		t.Error("random score is not a deterministic function of the seed")
	}
}

func TestModel(t *testing.T) {
	tr := smallTrace(t)
	m := NewModel(tr.Pods, 64)
	if len(m.List) != m.Distinct || m.Covered != len(tr.Pods) {
		t.Fatalf("model: %d shapes of %d distinct, covers %d of %d", len(m.List), m.Distinct, m.Covered, len(tr.Pods))
	}
	if small := NewModel(tr.Pods, 2); len(small.List) != 2 || small.List[0].N < small.List[1].N {
		t.Fatalf("top-2 model: %+v", small.List)
	}
	// A node with 2 GPUs free and 1 core: no GPU shape fits, so both GPUs
	// are stranded and fragmented.
	nm := m.Eval("", Vec3{8000, 32 << 30, 2}, Vec3{7000, 1 << 30, 0})
	if nm.Stranded[GPU] != 2 || nm.FragGPU != 2 {
		t.Errorf("stranded %v frag %v, want 2 GPUs both", nm.Stranded, nm.FragGPU)
	}
	// An empty node strands nothing a shape can use entirely... at least
	// stranded never exceeds free.
	for _, used := range []Vec3{{}, {2000, 4 << 30, 1}, {8000, 0, 0}, {0, 32 << 30, 2}} {
		nm := m.Eval("", Vec3{8000, 32 << 30, 2}, used)
		for i := range nm.Free {
			if nm.Stranded[i] < 0 || nm.Stranded[i] > nm.Free[i]+1e-9 {
				t.Errorf("used %v: stranded %v not within free %v", used, nm.Stranded, nm.Free)
			}
		}
		if nm.FragGPU > nm.Stranded[GPU]+1e-9 {
			t.Errorf("used %v: frag %v > stranded GPUs %v", used, nm.FragGPU, nm.Stranded[GPU])
		}
	}
}

func TestProtocolA(t *testing.T) {
	tr := smallTrace(t)
	tr.Pods = tr.Pods[:6] // 9 GPUs: 130% of 8 takes more than one pass
	m := NewModel(tr.Pods, 64)
	pols, err := Policies(1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := AConfig{Nodes: tr.Nodes, Pods: tr.Pods, Model: m, Steps: 13, Step: 0.1, BreakdownAt: []int{10, 13}}
	for _, pol := range pols {
		r, err := RunA(t.Context(), pol, cfg)
		if err != nil {
			t.Fatalf("%s: %v", pol.Name, err)
		}
		if r.ClusterGPUs != 8 || len(r.Points) != 13 || len(r.Breakdowns) != 2 {
			t.Fatalf("%s: %v GPUs, %d points, %d breakdowns", pol.Name, r.ClusterGPUs, len(r.Points), len(r.Breakdowns))
		}
		prev := APoint{}
		for _, pt := range r.Points {
			c := pt.Cluster
			switch {
			case pt.Placed+pt.Failed != pt.Submitted:
				t.Errorf("%s @%.0f%%: placed %d + failed %d != submitted %d", pol.Name, 100*pt.Target, pt.Placed, pt.Failed, pt.Submitted)
			case pt.Offered < pt.Target-1e-9 || pt.Submitted < prev.Submitted || pt.Failed < prev.Failed:
				t.Errorf("%s @%.0f%%: offered %v, submitted %d (before %d), failed %d (before %d)", pol.Name, 100*pt.Target, pt.Offered, pt.Submitted, prev.Submitted, pt.Failed, prev.Failed)
			case c.Requested[GPU] > c.Allocatable[GPU] || c.Requested[GPU]+pt.FailedGPUs > pt.Offered*r.ClusterGPUs+1e-9:
				t.Errorf("%s @%.0f%%: requested %v GPUs, failed %v, offered %v", pol.Name, 100*pt.Target, c.Requested[GPU], pt.FailedGPUs, pt.Offered*r.ClusterGPUs)
			case math.Abs(c.Requested[GPU]+pt.FailedGPUs-pt.Offered*r.ClusterGPUs) > 1e-9:
				t.Errorf("%s @%.0f%%: placed + failed GPUs %v != offered %v", pol.Name, 100*pt.Target, c.Requested[GPU]+pt.FailedGPUs, pt.Offered*r.ClusterGPUs)
			}
			for i := range c.Free {
				if c.Stranded[i] < 0 || c.Stranded[i] > c.Free[i]+1e-6 || math.Abs(c.Free[i]-(c.Allocatable[i]-c.Requested[i])) > 1e-6 {
					t.Errorf("%s @%.0f%%: resource %d: stranded %v, free %v, allocatable %v, requested %v", pol.Name, 100*pt.Target, i, c.Stranded[i], c.Free[i], c.Allocatable[i], c.Requested[i])
				}
			}
			if c.FragGPU > c.Stranded[GPU]+1e-9 {
				t.Errorf("%s: GPU fragmentation %v > stranded %v", pol.Name, c.FragGPU, c.Stranded[GPU])
			}
			prev = pt
		}
		last := r.Points[12]
		failed := 0
		for _, f := range r.Breakdowns[1].Failed {
			failed += f.Count
		}
		if failed != last.Failed {
			t.Errorf("%s: breakdown lists %d failed pods, want %d", pol.Name, failed, last.Failed)
		}
		if last.Submitted <= len(tr.Pods) {
			t.Errorf("%s: %d pods submitted, want the list repeated", pol.Name, last.Submitted)
		}
	}
}

// One node, one GPU: a waits nothing; b arrives at 10 and waits for a to
// leave at 100 (90 s); c arrives at 20 and is deleted at 50 while pending
// (dropped, 30 s).
func TestProtocolBExact(t *testing.T) {
	nodes := nodesCSV(t, "name,cpu,memory,gpu\nn,4,8Gi,1\n")
	pods := podsCSV(t,
		"a,1000,1024,1,1000,,LS,Running,0,100,0",
		"b,1000,1024,1,1000,,LS,Running,10,200,10",
		"c,1000,1024,1,1000,,LS,Running,20,50,20",
		"d,1000,1024,0,0,,BE,Running,30,30,30", // zero lifetime
	)
	tr := NewTrace(nodes, pods, 1)
	rp, err := NewReplay(tr.Pods, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if rp.Zero != 1 || rp.Offered.Peak != 3 {
		t.Fatalf("zero %d, peak %v; want 1 and 3", rp.Zero, rp.Offered.Peak)
	}
	pols, err := Policies(1)
	if err != nil {
		t.Fatal(err)
	}
	for _, pol := range pols {
		r, err := RunB(t.Context(), pol, BConfig{Nodes: tr.Nodes, Pods: tr.Pods, Model: NewModel(tr.Pods, 64), Replay: rp})
		if err != nil {
			t.Fatal(err)
		}
		want := BResult{Policy: pol.Name, Submitted: 3, Placed: 2, Dropped: 1, Immediate: 1, EverPending: 2, MaxPending: 2,
			PendingPodSeconds: 120, DroppedPodSeconds: 30}
		want.PendingByGPU[1] = 120
		got := *r
		got.StrandedGPUHoursBusy, got.FragGPUHoursBusy, got.RequestedGPUHoursBusy, got.BusyHours, got.ScheduleCalls, got.Seconds = 0, 0, 0, 0, 0, 0
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", pol.Name, got, want)
		}
		// Busy window (offered >= 50% of 1 GPU): 0 to 200; 1 GPU requested
		// throughout, except none between... a 0-100, b 100-200.
		if math.Abs(r.RequestedGPUHoursBusy-200.0/3600) > 1e-9 || r.ScheduleCalls != 4 {
			t.Errorf("%s: requested %v GPU-h, %d scheduling cycles; want %v and 4", pol.Name, r.RequestedGPUHoursBusy, r.ScheduleCalls, 200.0/3600)
		}
	}
}

func TestProtocolB(t *testing.T) {
	tr := smallTrace(t)
	k, err := ChooseCompression(tr.Pods, 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	rp, err := NewReplay(tr.Pods, k, 8)
	if err != nil {
		t.Fatal(err)
	}
	if rp.Offered.Peak < 1 {
		t.Fatalf("compression %v: peak %v < 1", k, rp.Offered.Peak)
	}
	if k > 1 {
		lower, err := NewReplay(tr.Pods, k/1.03, 8)
		if err != nil {
			t.Fatal(err)
		}
		if lower.Offered.Peak >= 1 {
			t.Errorf("compression %v is not the smallest: %v reaches peak %v", k, k/1.03, lower.Offered.Peak)
		}
	}
	pols, err := Policies(1)
	if err != nil {
		t.Fatal(err)
	}
	for _, pol := range pols {
		r, err := RunB(t.Context(), pol, BConfig{Nodes: tr.Nodes, Pods: tr.Pods, Model: NewModel(tr.Pods, 64), Replay: rp})
		if err != nil {
			t.Fatal(err)
		}
		var byGPU float64
		for _, s := range r.PendingByGPU {
			byGPU += s
		}
		switch {
		case r.Placed+r.Dropped != r.Submitted || r.Submitted != len(tr.Pods):
			t.Errorf("%s: placed %d + dropped %d != submitted %d", pol.Name, r.Placed, r.Dropped, r.Submitted)
		case r.Immediate > r.Placed || r.Immediate+r.EverPending != r.Submitted:
			t.Errorf("%s: immediate %d, ever pending %d, submitted %d", pol.Name, r.Immediate, r.EverPending, r.Submitted)
		case r.PendingPodSeconds < r.DroppedPodSeconds || math.Abs(byGPU-r.PendingPodSeconds) > 1e-6:
			t.Errorf("%s: pending %v, dropped %v, by GPU %v", pol.Name, r.PendingPodSeconds, r.DroppedPodSeconds, byGPU)
		case r.StrandedGPUHoursBusy < 0 || r.FragGPUHoursBusy > r.StrandedGPUHoursBusy+1e-9 || r.StrandedGPUHoursBusy > 8*r.BusyHours+1e-9:
			t.Errorf("%s: stranded %v GPU-h, frag %v, busy %v h", pol.Name, r.StrandedGPUHoursBusy, r.FragGPUHoursBusy, r.BusyHours)
		case r.MeanAllocationBusy(8) > 1:
			t.Errorf("%s: mean allocation %v", pol.Name, r.MeanAllocationBusy(8))
		}
	}
}

func TestLowerBound(t *testing.T) {
	shape := NodeShape{CPUMilli: 4000, MemBytes: 16 << 30, GPUs: 2, Pods: 3}
	// 5 GPUs -> 3 nodes; 9 cores -> 3; 20 GiB -> 2; 7 pods -> 3 ... and
	// one pod too large for the shape.
	pods := podsCSV(t,
		"a,2000,4096,1,1000,,LS,Running,0,1,0",
		"b,2000,4096,1,1000,,LS,Running,1,2,1",
		"c,2000,4096,1,1000,,LS,Running,2,3,2",
		"d,1000,4096,1,1000,,LS,Running,3,4,3",
		"e,1000,2048,1,1000,,LS,Running,4,5,4",
		"f,500,1024,0,0,,BE,Running,5,6,5",
		"g,500,1024,0,0,,BE,Running,6,7,6",
		"big,5000,1024,0,0,,BE,Running,7,8,7",
	)
	fit, over := SplitOversize(pods, shape)
	if len(fit) != 7 || len(over) != 1 || over[0].Name != "big" {
		t.Fatalf("split: %d fit, %d oversize", len(fit), len(over))
	}
	lb := ComputeLowerBound(fit, shape)
	if want := [4]int{3, 2, 3, 3}; lb.PerResource != want || lb.Nodes != 3 {
		t.Fatalf("lower bound %+v, want per resource %v, 3 nodes", lb, want)
	}
	pols, err := Policies(1)
	if err != nil {
		t.Fatal(err)
	}
	m := NewModel(fit, 64)
	for _, pol := range pols {
		r, err := RunC(t.Context(), pol, CConfig{Pods: fit, Shape: shape, MaxFactor: 3, ExactFactor: 3}, m)
		if err != nil {
			t.Fatal(err)
		}
		if r.Nodes < lb.Nodes || r.Nodes > 9 || r.Used > r.Nodes || r.Used < lb.Nodes {
			t.Fatalf("%s: %d nodes (%d used), lower bound %d", pol.Name, r.Nodes, r.Used, lb.Nodes)
		}
		// The answer was probed and succeeded; one node fewer failed unless
		// it is the lower bound.
		ok := map[int]bool{}
		for _, p := range r.Probes {
			ok[p.Nodes] = p.OK
			if !p.OK && (p.Placed >= len(fit) || p.FirstFailed != fit[p.Placed].Name) {
				t.Errorf("%s: probe %+v", pol.Name, p)
			}
			if p.OK && p.Placed != len(fit) {
				t.Errorf("%s: successful probe placed %d of %d", pol.Name, p.Placed, len(fit))
			}
		}
		if !ok[r.Nodes] {
			t.Errorf("%s: answer %d not probed successfully", pol.Name, r.Nodes)
		}
		if v, probed := ok[r.Nodes-1]; r.Nodes > lb.Nodes && (!probed || v) {
			t.Errorf("%s: %d nodes, but %d was not a failed probe", pol.Name, r.Nodes, r.Nodes-1)
		}
		if got, want := r.AboveLowerBound(), float64(r.Nodes)/3-1; got != want {
			t.Errorf("%s: above lower bound %v, want %v", pol.Name, got, want)
		}
	}
}

func TestRunAndReport(t *testing.T) {
	tr := smallTrace(t)
	opts := DefaultOptions()
	opts.Parallel = 2
	opts.Shape = NodeShape{CPUMilli: 16000, MemBytes: 64 << 30, GPUs: 4, Pods: 110, Model: "B"}
	res, err := Run(t.Context(), tr, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.A) != 8 || len(res.B) != 8 || len(res.C) != 8 || res.BInfo == nil || res.CInfo == nil {
		t.Fatalf("results incomplete")
	}
	meta := Meta{Command: "make bench-quality", Every: 1, Chart: "quality-protocol-a.svg", Analysis: "Hand-written."}
	section := Render(res, meta)
	if !strings.HasPrefix(section, SectionHeading+"\n") || !strings.Contains(section, "Hand-written.") {
		t.Fatalf("section:\n%s", section)
	}
	for _, l := range strings.Split(section, "\n")[1:] {
		if strings.HasPrefix(l, "# ") || strings.HasPrefix(l, "## ") {
			t.Errorf("section has a level 1-2 heading %q: Replace would cut it there", l)
		}
	}
	if n := len(Verdicts(res)); n != 2*4+1+2 {
		t.Errorf("%d verdicts, want 11", n)
	}
	d := xml.NewDecoder(strings.NewReader(ChartA(res)))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("chart is not well-formed XML: %v", err)
		}
	}
}

func TestReplace(t *testing.T) {
	sec := SectionHeading + "\n\nnew\n"
	other := "## Throughput\n\nthroughput table\n\n```sh\n## not a heading\n```\n"
	cases := []struct{ doc, want string }{
		{"", "# Benchmarks\n\n" + sec},
		{"# Benchmarks\n\n" + other, "# Benchmarks\n\n" + other + "\n" + sec},
		{"# Benchmarks\n\n" + SectionHeading + "\n\nold\n\n" + other, "# Benchmarks\n\n" + sec + "\n" + other},
		{"# Benchmarks\n\n" + other + "\n" + SectionHeading + "\n\nold\n### sub\nold\n", "# Benchmarks\n\n" + other + "\n" + sec},
	}
	for i, c := range cases {
		got := Replace(c.doc, sec)
		if got != c.want {
			t.Errorf("case %d:\n got %q\nwant %q", i, got, c.want)
		}
		if again := Replace(got, sec); again != got {
			t.Errorf("case %d: not idempotent:\n%q\n%q", i, got, again)
		}
	}
}

func TestMain(m *testing.M) {
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	os.Exit(m.Run())
}

// TestProtocolBStop stops the replay of TestProtocolBExact's trace between
// b's arrival (queued: a holds the only GPU) and c's.
func TestProtocolBStop(t *testing.T) {
	nodes := nodesCSV(t, "name,cpu,memory,gpu\nn,4,8Gi,1\n")
	pods := podsCSV(t,
		"a,1000,1024,1,1000,,LS,Running,0,100,0",
		"b,1000,1024,1,1000,,LS,Running,10,200,10",
		"c,1000,1024,1,1000,,LS,Running,20,50,20",
	)
	tr := NewTrace(nodes, pods, 1)
	rp, err := NewReplay(tr.Pods, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	pols, err := Policies(1)
	if err != nil {
		t.Fatal(err)
	}
	state := &BState{}
	if _, err := RunB(t.Context(), pols[0], BConfig{Nodes: tr.Nodes, Pods: tr.Pods, Model: NewModel(tr.Pods, 64), Replay: rp, StopAt: 15, State: state}); err != nil {
		t.Fatal(err)
	}
	if len(state.Running) != 1 || state.Running[0].Pod.Name != "a" || state.Running[0].Node != "n" {
		t.Errorf("running %+v, want a on n", state.Running)
	}
	if len(state.Pending) != 1 || state.Pending[0].Name != "b" {
		t.Errorf("pending %v, want b", state.Pending)
	}
}
