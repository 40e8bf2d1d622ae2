package quality

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// AConfig is protocol A: pods arrive in creation order, the list repeated,
// until the GPUs requested reach MaxOffered x the cluster's GPUs; metrics
// every Step of offered load. No pod leaves; a pod that fits nowhere fails
// and is not retried.
type AConfig struct {
	Nodes []*corev1.Node
	Pods  []*corev1.Pod // in creation order
	Model *Model
	// Steps is the number of checkpoints, Step the offered load between them
	// (13 and 0.1: 10%, 20%, ..., 130%).
	Steps int
	Step  float64
	// BreakdownAt are checkpoints (1-based) at which per-node-class
	// breakdowns and failed-pod breakdowns are kept.
	BreakdownAt []int
}

// APoint is the state when offered load first reaches a checkpoint.
type APoint struct {
	// Target is the checkpoint's offered load (0.1, 0.2, ...); Offered the
	// actual one (requested GPUs submitted / cluster GPUs).
	Target, Offered           float64
	Submitted, Placed, Failed int
	// FailedGPUs is the GPUs the failed pods asked for.
	FailedGPUs float64
	Cluster    Cluster
}

// FailedPod describes the failed pods of one request vector.
type FailedPod struct {
	V     Vec3
	Count int
	// Example is the first failed pod of the vector and Reason the
	// scheduler's message for it.
	Example string
	Reason  string
}

// ABreakdown is kept at the checkpoints in AConfig.BreakdownAt.
type ABreakdown struct {
	Target  float64
	Classes []NodeClass
	// Failed pods so far by request vector, most frequent first.
	Failed []FailedPod
}

// AResult is one policy's run of protocol A.
type AResult struct {
	Policy      string
	ClusterGPUs float64
	Points      []APoint
	Breakdowns  []ABreakdown
	Seconds     float64
}

// RunA runs protocol A for one policy.
func RunA(ctx context.Context, pol Policy, cfg AConfig) (*AResult, error) {
	start := time.Now()
	sim, err := pol.NewSimulator(ctx)
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	var clusterGPUs float64
	for _, n := range cfg.Nodes {
		if err := sim.AddNode(n); err != nil {
			return nil, err
		}
	}
	for _, ni := range sim.Nodes() {
		a, _, _, _ := NodeVecs(ni)
		clusterGPUs += a[GPU]
	}
	if clusterGPUs == 0 || len(cfg.Pods) == 0 {
		return nil, fmt.Errorf("protocol A needs GPUs and pods")
	}
	res := &AResult{Policy: pol.Name, ClusterGPUs: clusterGPUs}
	breakdownAt := map[int]bool{}
	for _, k := range cfg.BreakdownAt {
		breakdownAt[k] = true
	}
	failed := map[Vec3]*FailedPod{}
	var failOrder []Vec3
	var pt APoint
	next := 1
	for i := 0; next <= cfg.Steps; i++ {
		pod := Repeat(cfg.Pods[i%len(cfg.Pods)], i/len(cfg.Pods))
		v := PodVec(pod)
		r, err := sim.Schedule(ctx, pod)
		if err != nil {
			return nil, fmt.Errorf("%s: pod %s: %w", pol.Name, pod.Name, err)
		}
		pt.Submitted++
		pt.Offered += v[GPU] / clusterGPUs
		if r.Node == "" {
			pt.Failed++
			pt.FailedGPUs += v[GPU]
			f := failed[v]
			if f == nil {
				f = &FailedPod{V: v, Example: pod.Name, Reason: r.Reason}
				failed[v] = f
				failOrder = append(failOrder, v)
			}
			f.Count++
		} else {
			pt.Placed++
		}
		for next <= cfg.Steps && pt.Offered >= float64(next)*cfg.Step-1e-9 {
			p := pt
			p.Target = float64(next) * cfg.Step
			p.Cluster = cfg.Model.Measure(sim.Nodes())
			res.Points = append(res.Points, p)
			if breakdownAt[next] {
				b := ABreakdown{Target: p.Target, Classes: cfg.Model.Breakdown(sim.Nodes())}
				for _, v := range failOrder {
					b.Failed = append(b.Failed, *failed[v])
				}
				sortFailed(b.Failed)
				res.Breakdowns = append(res.Breakdowns, b)
			}
			next++
		}
		if i > 100*len(cfg.Pods) {
			return nil, fmt.Errorf("protocol A: offered load does not grow (pods without GPUs?)")
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

func sortFailed(f []FailedPod) {
	sort.SliceStable(f, func(i, j int) bool { return f[i].Count > f[j].Count })
}

// Repeat returns pod for repetition r of the list: the pod itself for r = 0,
// else a copy named <name>-r<r> with a UID to match.
func Repeat(pod *corev1.Pod, r int) *corev1.Pod {
	if r == 0 {
		return pod
	}
	p := pod.DeepCopy()
	p.Name = fmt.Sprintf("%s-r%d", p.Name, r)
	p.UID = types.UID(fmt.Sprintf("%s-r%d", p.UID, r))
	return p
}
