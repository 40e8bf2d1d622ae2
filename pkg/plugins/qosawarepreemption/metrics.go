package qosawarepreemption

import (
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/kubernetes/pkg/apis/core/v1/helper/qos"
)

// Metrics on the scheduler's /metrics (the legacy registry it serves).
// Upstream's scheduler_preemption_attempts_total is counted in PostFilter
// (DefaultPreemption counts it in the PostFilter this plugin replaces) and
// scheduler_preemption_victims by the shared Executor; docs/metrics.md.
var (
	attempts = metrics.NewCounter(&metrics.CounterOpts{
		Subsystem: "snug", Name: "preemption_attempts_total",
		Help: "Preemption attempts by the QoSAwarePreemption plugin.", StabilityLevel: metrics.ALPHA,
	})
	failures = metrics.NewCounter(&metrics.CounterOpts{
		Subsystem: "snug", Name: "preemption_failures_total",
		Help: "Preemption attempts that found no node to free.", StabilityLevel: metrics.ALPHA,
	})
	victimsTotal = metrics.NewCounterVec(&metrics.CounterOpts{
		Subsystem: "snug", Name: "preemption_victims_total",
		Help: "Pods chosen as preemption victims, by QoS class and priority.", StabilityLevel: metrics.ALPHA,
	}, []string{"qos_class", "priority"})
	registerOnce sync.Once
)

func registerMetrics() {
	registerOnce.Do(func() {
		legacyregistry.MustRegister(attempts, failures, victimsTotal)
	})
}

func recordVictims(victims []*corev1.Pod) {
	for _, v := range victims {
		victimsTotal.WithLabelValues(string(qos.GetPodQOS(v)), strconv.Itoa(int(corev1helpers.PodPriority(v)))).Inc()
	}
}
