package predictabledemands

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/component-base/configz"
	"k8s.io/component-base/metrics"
	kubeschedulerconfigv1 "k8s.io/kube-scheduler/config/v1"
	"k8s.io/utils/ptr"
)

// leaderGauge is client-go's leader-election gauge as component-base
// registers it, in a registry of its own.
func leaderGauge(t *testing.T) (*metrics.GaugeVec, metrics.KubeRegistry) {
	t.Helper()
	g := metrics.NewGaugeVec(&metrics.GaugeOpts{Name: leaderMetric, StabilityLevel: metrics.ALPHA}, []string{"name"})
	r := metrics.NewKubeRegistry()
	r.MustRegister(g)
	return g, r
}

func TestSchedulerLeadership(t *testing.T) {
	for _, tc := range []struct {
		name          string
		known, on     bool
		series, value bool // series: the elector exists; value: it leads
		want          bool
	}{
		{name: "not kube-scheduler (no /configz)", want: true},
		{name: "leader election off", known: true, want: true},
		{name: "elector not created yet", known: true, on: true, want: false},
		{name: "standby", known: true, on: true, series: true, want: false},
		{name: "leader", known: true, on: true, series: true, value: true, want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, r := leaderGauge(t)
			if tc.series {
				v := 0.0
				if tc.value {
					v = 1
				}
				g.WithLabelValues("kube-scheduler").Set(v)
			}
			l := &schedulerLeadership{electing: func() (bool, bool) { return tc.on, tc.known }, gatherer: r, now: time.Now}
			if got := l.leading(); got != tc.want {
				t.Errorf("leading() = %v, want %v", got, tc.want)
			}
		})
	}
}

// The gauge is read at most once per leaderRecheck; a standby that acquires
// the lease leads from the next check on.
func TestSchedulerLeadershipTakeover(t *testing.T) {
	g, r := leaderGauge(t)
	g.WithLabelValues("kube-scheduler").Set(0)
	now := time.Unix(1000, 0)
	l := &schedulerLeadership{electing: func() (bool, bool) { return true, true }, gatherer: r, now: func() time.Time { return now }}
	if l.leading() {
		t.Fatal("standby leads")
	}
	g.WithLabelValues("kube-scheduler").Set(1)
	now = now.Add(leaderRecheck / 2)
	if l.leading() {
		t.Error("answer not reused within leaderRecheck")
	}
	now = now.Add(leaderRecheck)
	if !l.leading() {
		t.Error("does not lead after the elector acquired the lease")
	}
}

// kube-scheduler publishes its configuration on /configz as
// "componentconfig"; the gate reads leaderElection.leaderElect from it.
func TestConfigzLeaderElect(t *testing.T) {
	if on, known := configzLeaderElect(); known {
		t.Fatalf("configzLeaderElect() = %v, known before any configuration is published", on)
	}
	for _, elect := range []bool{true, false} {
		cz, err := configz.New("componentconfig")
		if err != nil {
			t.Fatal(err)
		}
		cfg := &kubeschedulerconfigv1.KubeSchedulerConfiguration{TypeMeta: metav1.TypeMeta{
			APIVersion: kubeschedulerconfigv1.SchemeGroupVersion.String(), Kind: "KubeSchedulerConfiguration"}}
		cfg.LeaderElection.LeaderElect = ptr.To(elect)
		if err := cz.Set(cfg); err != nil {
			t.Fatal(err)
		}
		on, known := configzLeaderElect()
		configz.Delete("componentconfig")
		if !known || on != elect {
			t.Errorf("leaderElect %v: configzLeaderElect() = %v, %v; want %v, true", elect, on, known, elect)
		}
	}
}

func TestParseLeaderElect(t *testing.T) {
	for _, tc := range []struct {
		data      string
		on, known bool
	}{
		{data: `{}`},
		{data: `not json`},
		{data: `{"other":{"leaderElection":{"leaderElect":true}}}`},
		{data: `{"componentconfig":{"leaderElection":{"leaderElect":true}}}`, on: true, known: true},
		{data: `{"componentconfig":{"leaderElection":{"leaderElect":false}}}`, known: true},
		{data: `{"componentconfig":{"leaderElection":{}}}`, known: true},
	} {
		if on, known := parseLeaderElect([]byte(tc.data)); on != tc.on || known != tc.known {
			t.Errorf("parseLeaderElect(%s) = %v, %v; want %v, %v", tc.data, on, known, tc.on, tc.known)
		}
	}
}
