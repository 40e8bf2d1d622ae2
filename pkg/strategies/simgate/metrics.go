package simgate

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus/push"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

// Counters beside upstream's descheduler_pods_evicted_total, in the same
// registry the descheduler serves on /metrics and pushes at the end of a run.
var (
	planned = metrics.NewCounterVec(&metrics.CounterOpts{
		Subsystem: "descheduler", Name: "snug_planned_total", StabilityLevel: metrics.ALPHA,
		Help: "Evictions the simulation gate approved (a replacement lands on a better node), by strategy.",
	}, []string{"strategy"})
	skipped = metrics.NewCounterVec(&metrics.CounterOpts{
		Subsystem: "descheduler", Name: "snug_skipped_by_simulation_total", StabilityLevel: metrics.ALPHA,
		Help: "Eviction candidates the simulation gate refused (the replacement would stay Pending, come back, or not serve the strategy), by strategy.",
	}, []string{"strategy"})
	evicted = metrics.NewCounterVec(&metrics.CounterOpts{
		Subsystem: "descheduler", Name: "snug_evicted_total", StabilityLevel: metrics.ALPHA,
		Help: "Approved evictions the API server accepted (planned evictions in dry-run mode), by strategy.",
	}, []string{"strategy"})
	registerOnce sync.Once
)

// RegisterMetrics adds the gate's counters to the legacy registry.
func RegisterMetrics() {
	registerOnce.Do(func() {
		legacyregistry.MustRegister(planned, skipped, evicted)
	})
}

func recordPlanned(s string) { planned.WithLabelValues(s).Inc() }
func recordSkipped(s string) { skipped.WithLabelValues(s).Inc() }
func recordEvicted(s string) { evicted.WithLabelValues(s).Inc() }

// Push sends every metric of the descheduler's registry to a Prometheus
// Pushgateway under job: a CronJob's process exits before a scrape.
func Push(url, job string) error {
	if err := push.New(url, job).Gatherer(legacyregistry.DefaultGatherer).Push(); err != nil {
		return fmt.Errorf("pushing metrics to %s: %w", url, err)
	}
	return nil
}
