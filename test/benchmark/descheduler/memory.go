package descheduler

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"
)

// ProcStatus reads a kB field of /proc/self/status (VmHWM, VmRSS) in
// bytes; 0 where there is none.
func ProcStatus(field string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && k == field {
			var kb uint64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// Memory is what a Sampler saw.
type Memory struct {
	// BaselineHeap: live heap (after a GC) when sampling started.
	BaselineHeap uint64
	// PeakHeapInuse and PeakRSS: highest runtime.MemStats.HeapInuse and
	// VmRSS sampled; HWM: the process's VmHWM when sampling stopped.
	PeakHeapInuse, PeakRSS, HWM uint64
	// Sys: memory the Go runtime obtained from the OS, at the end.
	Sys uint64
	// Samples taken.
	Samples int
}

// Sampler samples heap and RSS every interval until Stop.
type Sampler struct {
	mu   sync.Mutex
	m    Memory
	stop chan struct{}
	done chan struct{}
}

// StartSampler runs a GC, records the baseline and starts sampling.
func StartSampler(interval time.Duration) *Sampler {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := &Sampler{stop: make(chan struct{}), done: make(chan struct{})}
	s.m.BaselineHeap = ms.HeapAlloc
	s.sample()
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *Sampler) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss := ProcStatus("VmRSS")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m.PeakHeapInuse = max(s.m.PeakHeapInuse, ms.HeapInuse)
	s.m.PeakRSS = max(s.m.PeakRSS, rss)
	s.m.Sys = ms.Sys
	s.m.Samples++
}

// Stop takes a last sample and returns what was seen.
func (s *Sampler) Stop() Memory {
	close(s.stop)
	<-s.done
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m.HWM = ProcStatus("VmHWM")
	return s.m
}
