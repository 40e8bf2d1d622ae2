package predictabledemands

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"

	"github.com/snug-sched/snug/pkg/apis/config"
)

var cpuMem = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory}

func ratioOf(r corev1.ResourceName, ratio string) ratioSpec {
	pl := &Plugin{args: config.PredictableDemandsArgs{DeclaredDemands: config.DeclaredDemands{
		MaxLimitRequestRatio: []config.ResourceRatio{{Resource: r, Ratio: resource.MustParse(ratio)}},
	}}}
	return pl.ratios()[0]
}

func TestUndeclaredRequests(t *testing.T) {
	full := rl("cpu", "100m", "memory", "64Mi")
	tests := []struct {
		name string
		pod  *corev1.Pod
		want string
	}{
		{name: "all containers declare cpu and memory",
			pod: podWith("ns", "p", []corev1.Container{ctr("init", full, nil), sidecar("proxy", full, nil)}, ctr("a", full, nil), ctr("b", full, nil))},
		{name: "missing cpu names the container",
			pod:  podWith("ns", "p", nil, ctr("app", rl("memory", "64Mi"), nil)),
			want: `container "app" declares no cpu request`},
		{name: "missing memory names the container",
			pod:  podWith("ns", "p", nil, ctr("app", rl("cpu", "1"), nil)),
			want: `container "app" declares no memory request`},
		{name: "a limit alone is no request",
			pod:  podWith("ns", "p", nil, ctr("app", nil, rl("cpu", "1", "memory", "1Gi"))),
			want: `container "app" declares no cpu request`},
		{name: "zero request counts as missing",
			pod:  podWith("ns", "p", nil, ctr("app", rl("cpu", "0", "memory", "64Mi"), nil)),
			want: `container "app" declares no cpu request`},
		{name: "second container",
			pod:  podWith("ns", "p", nil, ctr("a", full, nil), ctr("b", rl("cpu", "1"), nil)),
			want: `container "b" declares no memory request`},
		{name: "init container checked before app containers",
			pod:  podWith("ns", "p", []corev1.Container{ctr("migrate", rl("memory", "1Gi"), nil)}, ctr("app", nil, nil)),
			want: `init container "migrate" declares no cpu request`},
		{name: "sidecar checked",
			pod:  podWith("ns", "p", []corev1.Container{sidecar("proxy", rl("cpu", "10m"), nil)}, ctr("app", full, nil)),
			want: `init container "proxy" declares no memory request`},
		{name: "pod-level requests cover every container",
			pod: func() *corev1.Pod {
				p := podWith("ns", "p", []corev1.Container{ctr("init", nil, nil)}, ctr("a", nil, nil), ctr("b", nil, nil))
				p.Spec.Resources = &corev1.ResourceRequirements{Requests: rl("cpu", "1", "memory", "1Gi")}
				return p
			}()},
		{name: "pod-level cpu only leaves memory to the containers",
			pod: func() *corev1.Pod {
				p := podWith("ns", "p", nil, ctr("a", nil, nil))
				p.Spec.Resources = &corev1.ResourceRequirements{Requests: rl("cpu", "1")}
				return p
			}(),
			want: `container "a" declares no memory request`},
		{name: "zero pod-level request covers nothing",
			pod: func() *corev1.Pod {
				p := podWith("ns", "p", nil, ctr("a", rl("memory", "1Gi"), nil))
				p.Spec.Resources = &corev1.ResourceRequirements{Requests: rl("cpu", "0", "memory", "1Gi")}
				return p
			}(),
			want: `container "a" declares no cpu request`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := undeclared(tc.pod, cpuMem, nil); got != tc.want {
				t.Errorf("undeclared = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestUndeclaredMaxLimitRequestRatio(t *testing.T) {
	tests := []struct {
		name      string
		resources []corev1.ResourceName
		ratio     ratioSpec
		pod       *corev1.Pod
		want      string
	}{
		{name: "within the ratio", ratio: ratioOf("cpu", "2"),
			pod: podWith("ns", "p", nil, ctr("app", rl("cpu", "1"), rl("cpu", "1500m")))},
		{name: "exactly the ratio passes", ratio: ratioOf("cpu", "2"),
			pod: podWith("ns", "p", nil, ctr("app", rl("cpu", "1"), rl("cpu", "2")))},
		{name: "2001m/1000m over 2 fails", ratio: ratioOf("cpu", "2"),
			pod:  podWith("ns", "p", nil, ctr("app", rl("cpu", "1000m"), rl("cpu", "2001m"))),
			want: `container "app" cpu limit/request 2001m/1 exceeds maxLimitRequestRatio 2`},
		{name: "1.5 with 3/2 passes", ratio: ratioOf("cpu", "1.5"),
			pod: podWith("ns", "p", nil, ctr("app", rl("cpu", "2"), rl("cpu", "3")))},
		{name: "1.5 with 3001m/2 fails", ratio: ratioOf("cpu", "1.5"),
			pod:  podWith("ns", "p", nil, ctr("app", rl("cpu", "2"), rl("cpu", "3001m"))),
			want: `container "app" cpu limit/request 3001m/2 exceeds maxLimitRequestRatio 1500m`},
		{name: "1500m written in millis behaves as 1.5", ratio: ratioOf("cpu", "1500m"),
			pod: podWith("ns", "p", nil, ctr("app", rl("cpu", "200m"), rl("cpu", "300m")))},
		{name: "1.16 with 116m/100m passes (no float rounding)", ratio: ratioOf("cpu", "1.16"),
			pod: podWith("ns", "p", nil, ctr("app", rl("cpu", "100m"), rl("cpu", "116m")))},
		{name: "1.16 with 117m/100m fails", ratio: ratioOf("cpu", "1.16"),
			pod:  podWith("ns", "p", nil, ctr("app", rl("cpu", "100m"), rl("cpu", "117m"))),
			want: `container "app" cpu limit/request 117m/100m exceeds maxLimitRequestRatio 1160m`},
		{name: "2.9 with 58m/20m passes (no float rounding)", ratio: ratioOf("cpu", "2.9"),
			pod: podWith("ns", "p", nil, ctr("app", rl("cpu", "20m"), rl("cpu", "58m")))},
		{name: "memory ratio 1: equal passes", ratio: ratioOf("memory", "1"),
			pod: podWith("ns", "p", nil, ctr("app", rl("memory", "1Gi"), rl("memory", "1Gi")))},
		{name: "memory ratio 1: one byte over fails", ratio: ratioOf("memory", "1"),
			pod:  podWith("ns", "p", nil, ctr("app", rl("memory", "1Gi"), rl("memory", "1073741825"))),
			want: `container "app" memory limit/request 1073741825/1Gi exceeds maxLimitRequestRatio 1`},
		{name: "limit missing", ratio: ratioOf("cpu", "2"),
			pod:  podWith("ns", "p", nil, ctr("app", rl("cpu", "1"), rl("memory", "1Gi"))),
			want: `container "app" sets no cpu limit (maxLimitRequestRatio 2 needs one)`},
		{name: "limit without a request", ratio: ratioOf("cpu", "2"),
			pod:  podWith("ns", "p", nil, ctr("app", nil, rl("cpu", "1"))),
			want: `container "app" sets a cpu limit without a request (maxLimitRequestRatio 2)`},
		{name: "zero limit without a request passes", ratio: ratioOf("cpu", "2"),
			pod: podWith("ns", "p", nil, ctr("app", nil, rl("cpu", "0")))},
		{name: "init container ratio checked", ratio: ratioOf("cpu", "2"),
			pod:  podWith("ns", "p", []corev1.Container{ctr("init", rl("cpu", "100m"), rl("cpu", "1"))}, ctr("app", rl("cpu", "1"), rl("cpu", "1"))),
			want: `init container "init" cpu limit/request 1/100m exceeds maxLimitRequestRatio 2`},
		{name: "missing request reported before the ratio", resources: cpuMem, ratio: ratioOf("cpu", "2"),
			pod:  podWith("ns", "p", nil, ctr("app", rl("cpu", "1"), rl("cpu", "10"))),
			want: `container "app" declares no memory request`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := undeclared(tc.pod, tc.resources, []ratioSpec{tc.ratio}); got != tc.want {
				t.Errorf("undeclared = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPreFilterDeclaredDemands(t *testing.T) {
	namespaces := []*corev1.Namespace{
		namespace("strict", map[string]string{"demands": "enforced"}),
		namespace("lax", nil),
	}
	bad := func(ns string) *corev1.Pod {
		return podWith(ns, "bad", nil, ctr("app", rl("memory", "64Mi"), rl("memory", "64Mi")))
	}
	good := func(ns string) *corev1.Pod {
		return podWith(ns, "good", nil, ctr("app", rl("cpu", "100m", "memory", "64Mi"), rl("cpu", "200m", "memory", "64Mi")))
	}
	labelSel := &metav1.LabelSelector{MatchLabels: map[string]string{"demands": "enforced"}}
	tests := []struct {
		name     string
		selector *metav1.LabelSelector
		pod      *corev1.Pod
		wantCode fwk.Code
		wantMsg  string
		skipped  bool // Filter skipped for this pod
	}{
		{name: "enforced namespace rejects", selector: labelSel, pod: bad("strict"),
			wantCode: fwk.UnschedulableAndUnresolvable,
			wantMsg:  `container "app" declares no cpu request; namespace "strict" requires declared demands`},
		{name: "enforced namespace admits a declared pod", selector: labelSel, pod: good("strict"), wantCode: fwk.Success},
		{name: "other namespace passes", selector: labelSel, pod: bad("lax"), wantCode: fwk.Success},
		{name: "expression selector", pod: bad("lax"),
			selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "demands", Operator: metav1.LabelSelectorOpDoesNotExist}}},
			wantCode: fwk.UnschedulableAndUnresolvable,
			wantMsg:  `container "app" declares no cpu request; namespace "lax" requires declared demands`},
		{name: "empty selector enforces everywhere", selector: &metav1.LabelSelector{}, pod: bad("lax"),
			wantCode: fwk.UnschedulableAndUnresolvable,
			wantMsg:  `container "app" declares no cpu request; namespace "lax" requires declared demands`},
		{name: "empty selector: namespace need not be known", selector: &metav1.LabelSelector{}, pod: bad("ghost"),
			wantCode: fwk.UnschedulableAndUnresolvable,
			wantMsg:  `container "app" declares no cpu request; namespace "ghost" requires declared demands`},
		{name: "nil selector enforces nowhere", selector: nil, pod: bad("strict"), wantCode: fwk.Success},
		{name: "unknown namespace is an error", selector: labelSel, pod: bad("ghost"),
			wantCode: fwk.Error, wantMsg: `namespace of pod ghost/bad`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := capsArgs(t) // Filter runs: PreFilter writes its state
			args.DeclaredDemands.NamespaceSelector = tc.selector
			e := newEnv(t, args, namespaces[0], namespaces[1])
			state := framework.NewCycleState()
			_, s, _ := e.fw.RunPreFilterPlugins(e.ctx, state, tc.pod)
			if s.Code() != tc.wantCode {
				t.Fatalf("PreFilter code = %v (%v), want %v", s.Code(), s, tc.wantCode)
			}
			if tc.wantCode == fwk.Success {
				if _, err := state.Read(stateKey); err != nil {
					t.Errorf("PreFilter state not written: %v", err)
				}
				return
			}
			if s.Plugin() != Name {
				t.Errorf("status plugin = %q, want %q", s.Plugin(), Name)
			}
			if tc.wantCode == fwk.UnschedulableAndUnresolvable {
				if got := s.Message(); got != tc.wantMsg {
					t.Errorf("message = %q, want %q", got, tc.wantMsg)
				}
			} else if got := s.Message(); !contains(got, tc.wantMsg) {
				t.Errorf("message = %q, want it to contain %q", got, tc.wantMsg)
			}
		})
	}
}

// Without caps (the default) PreFilter skips Filter; declared demands
// still apply.
func TestPreFilterWithoutCapsSkips(t *testing.T) {
	args := defaultArgs(t)
	args.DeclaredDemands.NamespaceSelector = &metav1.LabelSelector{}
	e := newEnv(t, args)
	state := framework.NewCycleState()
	pod := podWith("ns", "good", nil, ctr("app", rl("cpu", "1", "memory", "1Gi"), rl("cpu", "1", "memory", "1Gi")))
	if _, s, _ := e.fw.RunPreFilterPlugins(e.ctx, state, pod); !s.IsSuccess() {
		t.Fatalf("PreFilter: %v", s)
	}
	if !state.GetSkipFilterPlugins().Has(Name) {
		t.Errorf("Filter of %s not skipped without caps", Name)
	}
	bad := podWith("ns", "bad", nil, ctr("app", nil, nil))
	if _, s, _ := e.fw.RunPreFilterPlugins(e.ctx, framework.NewCycleState(), bad); s.Code() != fwk.UnschedulableAndUnresolvable {
		t.Errorf("PreFilter of an undeclared pod = %v, want UnschedulableAndUnresolvable", s)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
