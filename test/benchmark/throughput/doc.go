// Package throughput benchmarks snug's shipped scheduler profile against the
// default profile on upstream's scheduler_perf
// (k8s.io/kubernetes/test/integration/scheduler_perf).
//
// The benchmarks live in the package's tests: BenchmarkPerfSchedulingDefault
// and BenchmarkPerfSchedulingSnug run the same workloads (config/*.yaml)
// under the two profiles, and TestThroughputSmoke runs a few-hundred-node
// version of them as part of `go test`. This file's package reads
// scheduler_perf's JSON output and renders the Throughput section of
// docs/benchmarks.md; cmd report (./report) drives it after
// `make bench-throughput`.
package throughput
