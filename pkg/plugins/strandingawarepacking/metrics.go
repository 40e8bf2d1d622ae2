package strandingawarepacking

import (
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/snug-sched/snug/pkg/stranding"
)

// Metrics on the scheduler's /metrics (component-base's legacy registry,
// which kube-scheduler serves). The resource label takes the names of the
// cycle's layout: the configured resources and the extended resources nodes
// expose, pods request or the learned shapes ask for (at most
// stranding.MaxDims), never pod or node names.
var (
	strandedCapacity = metrics.NewGaugeVec(&metrics.GaugeOpts{
		Namespace: "snug", Name: "stranded_capacity",
		Help: "Capacity no known pod shape can use (pkg/stranding's single-shape relaxation), summed over the nodes " +
			"StrandingAwarePacking scored in the last sampled scheduling cycle, by resource, in the resource's base " +
			"unit (cpu in cores, memory and ephemeral-storage in bytes, extended resources in their own units).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"resource"})
	strandedRatio = metrics.NewGaugeVec(&metrics.GaugeOpts{
		Namespace: "snug", Name: "stranded_capacity_ratio",
		Help:           "snug_stranded_capacity divided by the same nodes' allocatable of the resource (0 when they have none).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"resource"})
	strandedNodes = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace: "snug", Name: "stranded_capacity_nodes",
		Help:           "Nodes StrandingAwarePacking scored in the last sampled scheduling cycle (those snug_stranded_capacity sums over).",
		StabilityLevel: metrics.ALPHA,
	})

	registerOnce sync.Once
)

func registerMetrics() {
	registerOnce.Do(func() {
		legacyregistry.MustRegister(strandedCapacity, strandedRatio, strandedNodes)
	})
}

// strandedSampleInterval: at most one scheduling cycle in this interval
// computes the stranded-capacity gauges, in PreScore (one pass over the
// cycle's nodes, about as costly as scoring them). Score is never touched.
var strandedSampleInterval = 10 * time.Second

// stranded is the sampling state, shared by every profile's plugin (the
// gauges are global).
var stranded struct {
	last atomic.Int64 // UnixNano of the last sample
	mu   sync.Mutex   // serialises the gauges' updates
	set  map[corev1.ResourceName]bool
}

// maybeRecordStranded records the stranded-capacity gauges for nodes if no
// cycle did within strandedSampleInterval.
func maybeRecordStranded(s *preScoreState, nodes []fwk.NodeInfo) {
	now := time.Now().UnixNano()
	last := stranded.last.Load()
	if last != 0 && now-last < int64(strandedSampleInterval) {
		return
	}
	if !stranded.last.CompareAndSwap(last, now) {
		return // another cycle claimed this sample
	}
	recordStranded(s, nodes)
}

// recordStranded sets the gauges to the stranded capacity of nodes before
// the cycle's pod is placed, in the cycle's layout and shapes.
func recordStranded(s *preScoreState, nodes []fwk.NodeInfo) {
	l := &s.layout
	var sum, alloc, none stranding.Vec
	for _, ni := range nodes {
		var a, u stranding.Vec
		nodeVectors(l, &s.kinds, ni, false, &a, &u)
		free := stranding.Free(l, &a, &u, &none)
		st := stranding.Stranded(l, s.models.For(ni.Node()), &free)
		for i := 0; i < l.N; i++ {
			sum[i] += st[i]
			alloc[i] += a[i]
		}
	}
	stranded.mu.Lock()
	defer stranded.mu.Unlock()
	seen := make(map[corev1.ResourceName]bool, l.N)
	for i := 0; i < l.N; i++ {
		if i == l.PodsDim {
			continue // a free pod slot is not capacity
		}
		name := l.Names[i]
		seen[name] = true
		v := sum[i]
		if s.kinds[i] == dimCPU {
			v /= 1000 // millicores
		}
		strandedCapacity.WithLabelValues(string(name)).Set(v)
		ratio := 0.0
		if alloc[i] > 0 {
			ratio = sum[i] / alloc[i]
		}
		strandedRatio.WithLabelValues(string(name)).Set(ratio)
	}
	// A resource gone from the layout (its last node or shape is gone)
	// leaves no stale series.
	for name := range stranded.set {
		if !seen[name] {
			strandedCapacity.DeleteLabelValues(string(name))
			strandedRatio.DeleteLabelValues(string(name))
		}
	}
	stranded.set = seen
	strandedNodes.Set(float64(len(nodes)))
}
