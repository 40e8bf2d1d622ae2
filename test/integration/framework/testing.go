package framework

import (
	"testing"
)

// logTailLines is how much of each component log a failed test prints.
const logTailLines = 60

// StartForTest starts a control plane for t and stops it in t.Cleanup. If
// the test failed, the tail of every component log is printed first.
// opts.Logf defaults to t.Logf.
func StartForTest(t testing.TB, opts Options) *ControlPlane {
	t.Helper()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	cp, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("start control plane: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range cp.Processes() {
				t.Logf("=== tail of %s (%s):\n%s", p.Name, p.LogPath, p.LogTail(logTailLines))
			}
		}
		cp.Stop()
	})
	return cp
}

// StartProcessForTest starts an extra process with the control plane's
// cleanup guarantees and stops it in t.Cleanup (before the control plane,
// since cleanups run last-in first-out). If t failed, its log tail is
// printed by the StartForTest cleanup together with the others.
func (cp *ControlPlane) StartProcessForTest(t testing.TB, name, bin string, args ...string) *Process {
	t.Helper()
	p, err := cp.StartProcess(name, bin, args...)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(p.Stop)
	return p
}
