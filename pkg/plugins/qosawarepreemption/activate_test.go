package qosawarepreemption

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestWaitThenActivate(t *testing.T) {
	tests := []struct {
		name          string
		runningChecks int // how many checks report the preemption still running
		closeDone     bool
		limit         time.Duration
		wantActivated bool
	}{
		{name: "activates once the preemption has finished", runningChecks: 3, limit: time.Minute, wantActivated: true},
		{name: "activates at once when nothing runs", runningChecks: 0, limit: time.Minute, wantActivated: true},
		{name: "gives up at the limit", runningChecks: 1 << 30, limit: 20 * time.Millisecond},
		{name: "stops with the scheduler", runningChecks: 1 << 30, closeDone: true, limit: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan struct{})
			if tt.closeDone {
				close(done)
			}
			var checks, activations atomic.Int32
			running := func() bool { return checks.Add(1) <= int32(tt.runningChecks) }
			waitThenActivate(done, running, func() { activations.Add(1) }, time.Millisecond, tt.limit)
			want := int32(0)
			if tt.wantActivated {
				want = 1
			}
			if got := activations.Load(); got != want {
				t.Errorf("activated %d times, want %d", got, want)
			}
			if tt.wantActivated && checks.Load() != int32(tt.runningChecks)+1 {
				t.Errorf("checked %d times, want %d", checks.Load(), tt.runningChecks+1)
			}
		})
	}
}
