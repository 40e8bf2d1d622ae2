//go:build !race

package throughput

const raceEnabled = false
