package quality

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/snug-sched/snug/pkg/workload"
)

// Replay is the time line of protocol B, the same for every policy: pod i
// arrives at Arrive[i] = created_i / K and is deleted at Depart[i] =
// Arrive[i] + (deleted_i - created_i), in seconds. Arrival gaps are
// compressed K times; lifetimes are the trace's, so a replay second is a
// trace second of pod lifetime.
type Replay struct {
	K              float64
	Arrive, Depart []float64
	// Zero counts pods with a zero lifetime in the trace: they are not
	// submitted (they would hold nothing for no time).
	Zero int
	// ClusterGPUs is the capacity the offered load is relative to.
	ClusterGPUs float64
	Offered     OfferedLoad
}

// OfferedLoad summarises the GPUs requested by the pods between their
// arrival and deletion (placed or not), relative to the cluster's GPUs.
type OfferedLoad struct {
	Peak float64
	// Above90 and Above100 are the seconds with offered load >= 90% and 100%.
	Above90, Above100 float64
	// Busy is the window from the first time offered load reaches
	// BusyThreshold to the last time it falls below it.
	BusyThreshold      float64
	BusyStart, BusyEnd float64
	// BusyMean is the mean offered load over the busy window.
	BusyMean                                 float64
	FirstArrival, LastArrival, LastDeparture float64
}

// BusyThreshold of the stranded GPU-hours window.
const BusyThreshold = 0.5

// NewReplay compresses the pods' trace times (workload.Times) by k.
func NewReplay(pods []*corev1.Pod, k, clusterGPUs float64) (*Replay, error) {
	r := &Replay{K: k, Arrive: make([]float64, len(pods)), Depart: make([]float64, len(pods)), ClusterGPUs: clusterGPUs}
	for i, p := range pods {
		c, d, ok := workload.Times(p)
		if !ok {
			return nil, fmt.Errorf("pod %s: no valid creation/deletion time", p.Name)
		}
		if d == workload.Never {
			return nil, fmt.Errorf("pod %s: no deletion time", p.Name)
		}
		r.Arrive[i] = float64(c) / k
		r.Depart[i] = r.Arrive[i] + float64(d-c)
		if d == c {
			r.Zero++
		}
	}
	r.Offered = offeredLoad(pods, r.Arrive, r.Depart, clusterGPUs)
	return r, nil
}

type loadEvent struct {
	t float64
	g float64
}

func offeredLoad(pods []*corev1.Pod, arrive, depart []float64, clusterGPUs float64) OfferedLoad {
	ev := make([]loadEvent, 0, 2*len(pods))
	o := OfferedLoad{BusyThreshold: BusyThreshold, FirstArrival: math.Inf(1), BusyStart: math.NaN(), BusyEnd: math.NaN()}
	for i, p := range pods {
		if depart[i] <= arrive[i] {
			continue
		}
		o.FirstArrival = math.Min(o.FirstArrival, arrive[i])
		o.LastArrival = math.Max(o.LastArrival, arrive[i])
		o.LastDeparture = math.Max(o.LastDeparture, depart[i])
		g := PodVec(p)[GPU]
		if g == 0 {
			continue
		}
		ev = append(ev, loadEvent{arrive[i], g}, loadEvent{depart[i], -g})
	}
	// Departures first at equal times, as in the replay.
	sort.Slice(ev, func(i, j int) bool {
		if ev[i].t != ev[j].t {
			return ev[i].t < ev[j].t
		}
		return ev[i].g < ev[j].g
	})
	var cur float64
	for i, e := range ev {
		cur += e.g
		load := cur / clusterGPUs
		o.Peak = math.Max(o.Peak, load)
		if i+1 < len(ev) {
			dt := ev[i+1].t - e.t
			if load >= 0.9-1e-12 {
				o.Above90 += dt
			}
			if load >= 1-1e-12 {
				o.Above100 += dt
			}
		}
		if load >= BusyThreshold {
			if math.IsNaN(o.BusyStart) {
				o.BusyStart = e.t
			}
			if i+1 < len(ev) {
				o.BusyEnd = ev[i+1].t
			}
		}
	}
	if math.IsInf(o.FirstArrival, 1) {
		o.FirstArrival = 0
	}
	if math.IsNaN(o.BusyStart) {
		o.BusyStart, o.BusyEnd = 0, 0
		return o
	}
	cur = 0
	var integral float64
	for i, e := range ev {
		cur += e.g
		if i+1 < len(ev) {
			if lo, hi := math.Max(e.t, o.BusyStart), math.Min(ev[i+1].t, o.BusyEnd); hi > lo {
				integral += cur * (hi - lo)
			}
		}
	}
	if o.BusyEnd > o.BusyStart {
		o.BusyMean = integral / (o.BusyEnd - o.BusyStart) / clusterGPUs
	}
	return o
}

// Timing describes a pod list's times at trace speed: why protocol B
// compresses arrivals.
type Timing struct {
	// PeakLoad is the peak offered GPU load with arrivals uncompressed.
	PeakLoad float64
	// Arrivals99 is the span (seconds) of the last 99% of the arrivals,
	// Span the trace's (first creation to last deletion).
	Arrivals99, Span float64
	// MedianLife is the median lifetime; Life99 the lifetime that the
	// longest-lived 1% of the pods exceed (seconds).
	MedianLife, Life99 float64
}

// TraceTiming measures the pods' times (workload.Times; every pod must
// have both).
func TraceTiming(pods []*corev1.Pod, clusterGPUs float64) (Timing, error) {
	r, err := NewReplay(pods, 1, clusterGPUs)
	if err != nil || len(pods) == 0 {
		return Timing{}, err
	}
	created := slices.Clone(r.Arrive)
	life := make([]float64, len(pods))
	for i := range pods {
		life[i] = r.Depart[i] - r.Arrive[i]
	}
	slices.Sort(created)
	slices.Sort(life)
	q := func(s []float64, f float64) float64 { return s[min(len(s)-1, int(f*float64(len(s))))] }
	return Timing{PeakLoad: r.Offered.Peak, Arrivals99: created[len(created)-1] - q(created, 0.01),
		Span: slices.Max(r.Depart) - created[0], MedianLife: q(life, 0.5), Life99: q(life, 0.99)}, nil
}

// ChooseCompression returns the smallest k on a geometric grid (steps of
// 2%, rounded to three significant digits) at which the peak offered GPU
// load reaches target (1.0 = the cluster's GPUs).
func ChooseCompression(pods []*corev1.Pod, clusterGPUs, target float64) (float64, error) {
	for k := 1.0; k <= 1e8; k *= 1.02 {
		kr, _ := strconv.ParseFloat(strconv.FormatFloat(k, 'g', 3, 64), 64)
		r, err := NewReplay(pods, kr, clusterGPUs)
		if err != nil {
			return 0, err
		}
		if r.Offered.Peak >= target {
			return kr, nil
		}
	}
	return 0, fmt.Errorf("offered GPU load never reaches %.0f%% of %g GPUs", 100*target, clusterGPUs)
}

// BResult is one policy's run of protocol B.
type BResult struct {
	Policy string
	// Submitted pods (zero-lifetime pods excluded) = Placed + Dropped.
	Submitted, Placed, Dropped int
	// Immediate pods were placed on arrival; EverPending waited.
	Immediate, EverPending, MaxPending int
	// PendingPodSeconds sums, over pods, the seconds from arrival to
	// placement (or to deletion, for dropped pods); DroppedPodSeconds is
	// the dropped pods' part.
	PendingPodSeconds, DroppedPodSeconds float64
	// PendingByGPU splits PendingPodSeconds by the pods' GPU request (index
	// = GPUs, 0..8).
	PendingByGPU [9]float64
	// Integrals over the busy window, in GPU-hours: stranded GPUs,
	// fragmented GPUs (ATC'23 style) and requested GPUs.
	StrandedGPUHoursBusy, FragGPUHoursBusy, RequestedGPUHoursBusy float64
	BusyHours                                                     float64
	ScheduleCalls                                                 int
	Seconds                                                       float64
}

// MeanAllocationBusy is the mean GPU allocation over the busy window.
func (b *BResult) MeanAllocationBusy(clusterGPUs float64) float64 {
	if b.BusyHours == 0 {
		return 0
	}
	return b.RequestedGPUHoursBusy / (b.BusyHours * clusterGPUs)
}

// BConfig is protocol B.
type BConfig struct {
	Nodes  []*corev1.Node
	Pods   []*corev1.Pod
	Model  *Model
	Replay *Replay
	// StopAt, if > 0, ends the replay before the first event later than
	// StopAt replay seconds; State (if set) then receives the cluster at
	// that moment (the descheduler benchmark starts from it). A stopped
	// replay's counts cover only the replayed part.
	StopAt float64
	State  *BState
}

// BState is the cluster where a stopped replay left it.
type BState struct {
	// Running pods (the trace's objects, unbound) and their nodes, in
	// order of placement.
	Running []Placement
	// Pending pods, in FIFO order.
	Pending []*corev1.Pod
}

// Placement is a pod and the node it runs on.
type Placement struct {
	Pod  *corev1.Pod
	Node string
}

type departure struct {
	t   float64
	seq int
	pod *corev1.Pod
	// node the pod runs on
	node string
}

type departures []departure

func (h departures) Len() int { return len(h) }
func (h departures) Less(i, j int) bool {
	if h[i].t != h[j].t {
		return h[i].t < h[j].t
	}
	return h[i].seq < h[j].seq
}
func (h departures) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *departures) Push(x any)   { *h = append(*h, x.(departure)) }
func (h *departures) Pop() (x any) { old := *h; x = old[len(old)-1]; *h = old[:len(old)-1]; return x }

// RunB runs protocol B (churn) for one policy.
//
// Events are processed in time order; at one instant: departures, then
// pending pods whose deletion time has come are dropped, then the pending
// pods are retried in FIFO order, then the arrivals are tried once each
// (and queued if they fit nowhere). A pending pod is only handed to the
// scheduler again when a node freed since its last attempt has room for
// its requests (cpu, memory, GPUs, a pod slot): nothing else can make it
// fit, so this saves scheduling cycles without changing the outcome.
func RunB(ctx context.Context, pol Policy, cfg BConfig) (*BResult, error) {
	start := time.Now()
	sim, err := pol.NewSimulator(ctx)
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	for _, n := range cfg.Nodes {
		if err := sim.AddNode(n); err != nil {
			return nil, err
		}
	}
	rp := cfg.Replay
	res := &BResult{Policy: pol.Name}
	nodes := map[string]fwk.NodeInfo{}
	metrics := map[string]NodeMetrics{}
	var stranded, frag, requested float64
	for _, ni := range sim.Nodes() {
		name := ni.Node().Name
		nodes[name] = ni
		_, used, _, _ := NodeVecs(ni)
		m := cfg.Model.EvalNode(ni)
		metrics[name] = m
		stranded += m.Stranded[GPU]
		frag += m.FragGPU
		requested += used[GPU]
	}
	refresh := func(name string) {
		ni := nodes[name]
		old := metrics[name]
		m := cfg.Model.EvalNode(ni)
		metrics[name] = m
		stranded += m.Stranded[GPU] - old.Stranded[GPU]
		frag += m.FragGPU - old.FragGPU
		requested += (old.Free[GPU] - m.Free[GPU])
	}

	order := make([]int, 0, len(cfg.Pods))
	for i := range cfg.Pods {
		if rp.Depart[i] > rp.Arrive[i] {
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return rp.Arrive[order[a]] < rp.Arrive[order[b]] })
	res.Submitted = len(order)

	type pending struct {
		i   int
		pod *corev1.Pod
		v   Vec3
	}
	var queue []pending
	var deps departures
	seq := 0
	place := func(i int, pod *corev1.Pod, t float64) (bool, error) {
		res.ScheduleCalls++
		r, err := sim.Schedule(ctx, pod)
		if err != nil {
			return false, fmt.Errorf("%s: pod %s: %w", pol.Name, pod.Name, err)
		}
		if r.Node == "" {
			return false, nil
		}
		if len(r.Victims) > 0 {
			return false, fmt.Errorf("%s: unexpected preemption", pol.Name)
		}
		heap.Push(&deps, departure{t: rp.Depart[i], seq: seq, pod: pod, node: r.Node})
		seq++
		refresh(r.Node)
		return true, nil
	}
	wait := func(p pending, until float64) {
		s := until - rp.Arrive[p.i]
		res.PendingPodSeconds += s
		g := int(p.v[GPU])
		if g >= 0 && g < len(res.PendingByGPU) {
			res.PendingByGPU[g] += s
		}
	}
	busy0, busy1 := rp.Offered.BusyStart, rp.Offered.BusyEnd
	res.BusyHours = (busy1 - busy0) / 3600
	last := math.Inf(-1)
	integrate := func(t float64) {
		if math.IsInf(last, -1) {
			last = t
			return
		}
		if lo, hi := math.Max(last, busy0), math.Min(t, busy1); hi > lo {
			h := (hi - lo) / 3600
			res.StrandedGPUHoursBusy += stranded * h
			res.FragGPUHoursBusy += frag * h
			res.RequestedGPUHoursBusy += requested * h
		}
		last = t
	}

	dirty := map[string]bool{}
	ai := 0
	stopped := false
	for ai < len(order) || deps.Len() > 0 {
		t := math.Inf(1)
		if ai < len(order) {
			t = rp.Arrive[order[ai]]
		}
		if deps.Len() > 0 && deps[0].t < t {
			t = deps[0].t
		}
		if cfg.StopAt > 0 && t > cfg.StopAt {
			stopped = true
			break
		}
		integrate(t)
		for deps.Len() > 0 && deps[0].t <= t {
			d := heap.Pop(&deps).(departure)
			if err := sim.RemovePod(d.pod); err != nil {
				return nil, err
			}
			dirty[d.node] = true
			refresh(d.node)
		}
		kept := queue[:0]
		for _, p := range queue {
			if rp.Depart[p.i] <= t {
				sim.Forget([]*corev1.Pod{p.pod})
				res.Dropped++
				wait(p, rp.Depart[p.i])
				res.DroppedPodSeconds += rp.Depart[p.i] - rp.Arrive[p.i]
				continue
			}
			kept = append(kept, p)
		}
		queue = kept
		if len(dirty) > 0 && len(queue) > 0 {
			kept := queue[:0]
			for _, p := range queue {
				if fitsSome(nodes, dirty, p.v) {
					ok, err := place(p.i, p.pod, t)
					if err != nil {
						return nil, err
					}
					if ok {
						res.Placed++
						wait(p, t)
						continue
					}
				}
				kept = append(kept, p)
			}
			queue = kept
		}
		clear(dirty)
		for ai < len(order) && rp.Arrive[order[ai]] <= t {
			i := order[ai]
			ai++
			pod := cfg.Pods[i]
			ok, err := place(i, pod, t)
			if err != nil {
				return nil, err
			}
			if ok {
				res.Placed++
				res.Immediate++
				continue
			}
			queue = append(queue, pending{i: i, pod: pod, v: PodVec(pod)})
			res.EverPending++
		}
		res.MaxPending = max(res.MaxPending, len(queue))
	}
	if stopped {
		if cfg.State != nil {
			running := append(departures(nil), deps...)
			sort.Slice(running, func(a, b int) bool { return running[a].seq < running[b].seq })
			*cfg.State = BState{}
			for _, d := range running {
				cfg.State.Running = append(cfg.State.Running, Placement{Pod: d.pod, Node: d.node})
			}
			for _, p := range queue {
				cfg.State.Pending = append(cfg.State.Pending, p.pod)
			}
		}
		res.Seconds = time.Since(start).Seconds()
		return res, nil
	}
	// No departures left: whatever still waits can never fit.
	for _, p := range queue {
		sim.Forget([]*corev1.Pod{p.pod})
		res.Dropped++
		wait(p, rp.Depart[p.i])
		res.DroppedPodSeconds += rp.Depart[p.i] - rp.Arrive[p.i]
	}
	if res.Placed+res.Dropped != res.Submitted {
		return nil, fmt.Errorf("%s: placed %d + dropped %d != submitted %d", pol.Name, res.Placed, res.Dropped, res.Submitted)
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// fitsSome reports whether some node in names has room for v and a pod slot.
func fitsSome(nodes map[string]fwk.NodeInfo, names map[string]bool, v Vec3) bool {
	for name := range names {
		alloc, used, slots, pods := NodeVecs(nodes[name])
		if pods < slots && v[CPU] <= alloc[CPU]-used[CPU] && v[Mem] <= alloc[Mem]-used[Mem] && v[GPU] <= alloc[GPU]-used[GPU] {
			return true
		}
	}
	return false
}
