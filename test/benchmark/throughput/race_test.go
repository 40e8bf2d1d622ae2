//go:build race

package throughput

// raceEnabled: the race detector slows the in-process apiserver and
// scheduler several times over; TestThroughputSmoke then runs fewer workloads.
const raceEnabled = true
