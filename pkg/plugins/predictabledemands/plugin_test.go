package predictabledemands

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/snug-sched/snug/pkg/apis/config"
)

func TestNew(t *testing.T) {
	t.Run("wrong args type", func(t *testing.T) {
		_, err := New(context.Background(), &config.StrandingAwarePackingArgs{}, nil)
		if err == nil || !strings.Contains(err.Error(), "want args of type PredictableDemandsArgs") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("invalid args name the field", func(t *testing.T) {
		a := capsArgs(t)
		a.OvercommitCaps.Caps[0].Ratio = resource.MustParse("0")
		_, err := New(context.Background(), a, nil)
		if err == nil || !strings.Contains(err.Error(), "PredictableDemandsArgs.overcommitCaps.caps[0].ratio") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("more than maxCaps caps", func(t *testing.T) {
		a := capsArgs(t)
		for _, r := range []corev1.ResourceName{"ephemeral-storage", "pods", "hugepages-2Mi", "hugepages-1Gi", "a.example.com/x", "b.example.com/x", "c.example.com/x"} {
			a.OvercommitCaps.Caps = append(a.OvercommitCaps.Caps, config.ResourceRatio{Resource: r, Ratio: resource.MustParse("1")})
		}
		_, err := New(context.Background(), a, nil)
		if err == nil || !strings.Contains(err.Error(), "at most 8 overcommit caps") {
			t.Errorf("err = %v", err)
		}
		a.OvercommitCaps.Caps = a.OvercommitCaps.Caps[:maxCaps]
		a.DependencyGate.Enabled = false // the gate needs a handle
		if _, err := New(context.Background(), a, nil); err != nil {
			t.Errorf("New with %d caps: %v", maxCaps, err)
		}
	})
	t.Run("defaults", func(t *testing.T) {
		e := newEnv(t, defaultArgs(t))
		pl := e.pl
		if pl.gate != nil {
			t.Error("gate on without an API server connection")
		}
		if pl.nsSelector != nil {
			t.Error("declared demands enforced by default")
		}
		if len(pl.caps) != 0 {
			t.Errorf("caps on by default: %+v", pl.caps)
		}
	})
	t.Run("caps", func(t *testing.T) {
		pl := newEnv(t, capsArgs(t)).pl
		want := []struct {
			r      corev1.ResourceName
			reason string
		}{
			{corev1.ResourceMemory, memCapReason},
			{corev1.ResourceCPU, cpuCapReason},
		}
		if len(pl.caps) != len(want) {
			t.Fatalf("caps = %+v", pl.caps)
		}
		for i, w := range want {
			if pl.caps[i].resource != w.r || pl.caps[i].reason != w.reason {
				t.Errorf("cap %d = %s %q, want %s %q", i, pl.caps[i].resource, pl.caps[i].reason, w.r, w.reason)
			}
		}
	})
	t.Run("args are copied", func(t *testing.T) {
		a := defaultArgs(t)
		a.DependencyGate.Enabled = false
		a.DeclaredDemands.MaxLimitRequestRatio = []config.ResourceRatio{{Resource: corev1.ResourceCPU, Ratio: resource.MustParse("2")}}
		p, err := New(context.Background(), a, nil)
		if err != nil {
			t.Fatal(err)
		}
		a.DeclaredDemands.MaxLimitRequestRatio[0].Ratio = resource.MustParse("100")
		if got := p.(*Plugin).ratios()[0].text; got != "2" {
			t.Errorf("ratio after mutating the caller's args = %s, want 2", got)
		}
	})
}
