package quality

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"math"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	fwk "k8s.io/kube-scheduler/framework"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"

	"github.com/snug-sched/snug/pkg/resourcemodel"
	"github.com/snug-sched/snug/pkg/workload"
)

// Names of the reference heuristics, as score plugins. They exist only for
// this benchmark and are passed to the simulator through Options.Registry.
const (
	BestFitName = "BenchBestFit"
	TetrisName  = "BenchTetris"
	RandomName  = "BenchRandom"
)

// heuristicResources are the dimensions the heuristics weigh, each by the
// node's capacity of it (dimensions a node lacks are left out).
var heuristicResources = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, workload.GPUResource}

// HeuristicRegistry returns the out-of-tree registry of the reference
// heuristics; seed drives the random policy.
func HeuristicRegistry(seed uint64) frameworkruntime.Registry {
	return frameworkruntime.Registry{
		BestFitName: func(context.Context, runtime.Object, fwk.Handle) (fwk.Plugin, error) {
			return &heuristic{name: BestFitName, score: bestFit}, nil
		},
		TetrisName: func(context.Context, runtime.Object, fwk.Handle) (fwk.Plugin, error) {
			return &heuristic{name: TetrisName, score: tetris}, nil
		},
		RandomName: func(context.Context, runtime.Object, fwk.Handle) (fwk.Plugin, error) {
			return &heuristic{name: RandomName, score: func(pod *corev1.Pod, ni fwk.NodeInfo) float64 {
				return random(seed, pod, ni.Node().Name)
			}}, nil
		},
	}
}

// heuristic is a score plugin around a float score (higher is better).
// Score returns it in millionths; NormalizeScore gives the best node(s)
// exactly MaxNodeScore and every other node at most MaxNodeScore-1, so the
// simulator's choice is the heuristic's argmax (ties to the first node by
// name) whatever the rounding.
type heuristic struct {
	name  string
	score func(pod *corev1.Pod, ni fwk.NodeInfo) float64
}

var (
	_ fwk.ScorePlugin     = &heuristic{}
	_ fwk.ScoreExtensions = &heuristic{}
)

func (h *heuristic) Name() string { return h.name }

func (h *heuristic) Score(_ context.Context, _ fwk.CycleState, pod *corev1.Pod, ni fwk.NodeInfo) (int64, *fwk.Status) {
	return int64(math.Round(h.score(pod, ni) * 1e6)), nil
}

func (h *heuristic) ScoreExtensions() fwk.ScoreExtensions { return h }

func (h *heuristic) NormalizeScore(_ context.Context, _ fwk.CycleState, _ *corev1.Pod, scores fwk.NodeScoreList) *fwk.Status {
	normalizeBestFirst(scores)
	return nil
}

// normalizeBestFirst maps raw scores onto [0, 100]: the maximum to 100,
// the others linearly onto [0, 99].
func normalizeBestFirst(scores fwk.NodeScoreList) {
	if len(scores) == 0 {
		return
	}
	lo, hi := scores[0].Score, scores[0].Score
	for _, s := range scores {
		lo, hi = min(lo, s.Score), max(hi, s.Score)
	}
	for i := range scores {
		switch {
		case scores[i].Score == hi:
			scores[i].Score = fwk.MaxScore
		default:
			scores[i].Score = int64(float64(fwk.MaxScore-1) * float64(scores[i].Score-lo) / float64(hi-lo))
		}
	}
}

// vectors returns, per heuristic resource the node has, the pod's request,
// the node's free capacity (allocatable minus requested, before the pod)
// and its allocatable.
func vectors(pod *corev1.Pod, ni fwk.NodeInfo) (req, free, alloc [3]float64) {
	r := resourcemodel.Requests(pod)
	a, u := ni.GetAllocatable(), ni.GetRequested()
	alloc[0], free[0] = float64(a.GetMilliCPU()), float64(a.GetMilliCPU()-u.GetMilliCPU())
	alloc[1], free[1] = float64(a.GetMemory()), float64(a.GetMemory()-u.GetMemory())
	alloc[2], free[2] = float64(a.GetScalarResources()[workload.GPUResource]), float64(a.GetScalarResources()[workload.GPUResource]-u.GetScalarResources()[workload.GPUResource])
	for i, name := range heuristicResources {
		req[i] = float64(resourcemodel.Value(name, r))
	}
	return req, free, alloc
}

// bestFit: the node left with the least free capacity after the placement,
// summed over resources as fractions of the node's capacity (resources the
// node lacks count 0). Higher score = less left over.
func bestFit(pod *corev1.Pod, ni fwk.NodeInfo) float64 {
	req, free, alloc := vectors(pod, ni)
	var left float64
	for i := range req {
		if alloc[i] > 0 {
			left += math.Max(0, free[i]-req[i]) / alloc[i]
		}
	}
	return float64(len(req)) - left
}

// tetris is the alignment score of Tetris (Grandl et al., SIGCOMM'14): the
// dot product of the pod's demand and the node's free vector, both as
// fractions of the node's capacity.
func tetris(pod *corev1.Pod, ni fwk.NodeInfo) float64 {
	req, free, alloc := vectors(pod, ni)
	var dot float64
	for i := range req {
		if alloc[i] > 0 {
			dot += (req[i] / alloc[i]) * (math.Max(0, free[i]) / alloc[i])
		}
	}
	return dot
}

// random is a uniform score in [0, 1) from a hash of seed, pod UID and node
// name: deterministic, and independent of the order nodes are scored in.
func random(seed uint64, pod *corev1.Pod, node string) float64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	h.Write([]byte(pod.UID))
	h.Write([]byte{0})
	h.Write([]byte(node))
	// Finalise (splitmix64) so nearby inputs do not give nearby outputs.
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}
