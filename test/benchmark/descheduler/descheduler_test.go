package descheduler

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// TestScaleSmall runs all six strategies in dry-run mode over a small
// synthetic cluster (SNUG_DESCHED_NODES / SNUG_DESCHED_PODS override the
// size) and checks functional facts only, never timing: every strategy
// plans moves (the cluster plants candidates for each), no move lands on
// the node it leaves, every eviction
// that reaches the (sandbox) client was planned.
func TestScaleSmall(t *testing.T) {
	nodes, pods := envInt("SNUG_DESCHED_NODES", 500), envInt("SNUG_DESCHED_PODS", 5000)
	c, err := Synthetic(nodes, pods)
	if err != nil {
		t.Fatal(err)
	}
	strategies := AllStrategies()
	res, err := RunStrategies(t.Context(), c.Objects(), strategies, Options{DryRun: true,
		Progress: func(name string, d time.Duration) { t.Logf("%s: %v", name, d) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d nodes, %d pods: setup %.1fs, run %.1fs", nodes, pods, res.SetupSeconds, res.RunSeconds)
	moves := res.Moves()
	for _, s := range strategies {
		t.Logf("%s: %d moves", s.Name, moves[s.Name])
		if moves[s.Name] == 0 {
			t.Errorf("%s planned no move; the cluster has candidates for it", s.Name)
		}
	}
	for _, m := range res.Plan {
		if m.To == m.From || m.To == "" {
			t.Errorf("bad move %+v", m)
		}
		if m.Status != "planned" {
			t.Errorf("dry run: move %s/%s has status %q", m.Namespace, m.Name, m.Status)
		}
	}
	// Upstream's dry run still calls the (sandbox) client: every approved
	// move, and only those, reaches it.
	planned := map[string]bool{}
	for _, m := range res.Plan {
		planned[m.Namespace+"/"+m.Name] = true
	}
	if len(res.Evicted) != len(planned) {
		t.Errorf("%d evictions reached the client, %d moves planned", len(res.Evicted), len(planned))
	}
	for _, e := range res.Evicted {
		if !planned[e] {
			t.Errorf("%s evicted without a planned move", e)
		}
	}
}

func TestMain(m *testing.M) {
	QuietLogs()
	os.Exit(m.Run())
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
