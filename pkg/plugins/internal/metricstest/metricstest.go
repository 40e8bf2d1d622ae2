// Package metricstest reads snug's and upstream's scheduler metrics the way
// /metrics serves them: from component-base's legacy registry, so a metric
// that is recorded but never registered there reads as absent.
package metricstest

import (
	"testing"

	dto "github.com/prometheus/client_model/go"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/component-base/metrics/testutil"
)

// Sample is one series of a gathered metric family.
type Sample struct {
	Value float64 // counter or gauge value; histogram sum
	Count uint64  // histogram sample count
}

// Get returns the series of metric name whose labels include labels, and
// whether the family and that series exist in the legacy registry.
func Get(t testing.TB, name string, labels map[string]string) (Sample, bool) {
	t.Helper()
	families, err := legacyregistry.DefaultGatherer.Gather()
	if err != nil {
		t.Fatalf("gathering the legacy registry: %v", err)
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !testutil.LabelsMatch(m, labels) {
				continue
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				return Sample{Value: m.GetCounter().GetValue()}, true
			case dto.MetricType_GAUGE:
				return Sample{Value: m.GetGauge().GetValue()}, true
			case dto.MetricType_HISTOGRAM:
				return Sample{Value: m.GetHistogram().GetSampleSum(), Count: m.GetHistogram().GetSampleCount()}, true
			default:
				t.Fatalf("%s: unexpected metric type %v", name, mf.GetType())
			}
		}
		return Sample{}, false
	}
	return Sample{}, false
}

// Value returns the counter or gauge value of the series (0 when absent).
func Value(t testing.TB, name string, labels map[string]string) float64 {
	t.Helper()
	s, _ := Get(t, name, labels)
	return s.Value
}

// Count returns the sample count of the histogram series (0 when absent).
func Count(t testing.TB, name string, labels map[string]string) uint64 {
	t.Helper()
	s, _ := Get(t, name, labels)
	return s.Count
}

// Registered reports whether the legacy registry serves a family name
// (a vector appears only once it has a series).
func Registered(t testing.TB, name string) bool {
	t.Helper()
	families, err := legacyregistry.DefaultGatherer.Gather()
	if err != nil {
		t.Fatalf("gathering the legacy registry: %v", err)
	}
	for _, mf := range families {
		if mf.GetName() == name {
			return true
		}
	}
	return false
}
