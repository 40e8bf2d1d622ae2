package qosawarepreemption

import (
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policy "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/apis/core/v1/helper/qos"
	st "k8s.io/kubernetes/pkg/scheduler/testing"
	"k8s.io/utils/ptr"

	"github.com/snug-sched/snug/pkg/apis/config"
)

var (
	daemonSetKind  = appsv1.SchemeGroupVersion.WithKind("DaemonSet")
	replicaSetKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
)

func TestEligibleVictim(t *testing.T) {
	preemptor := newPod("preemptor", 1000, burstable, res("1", "1Gi")).Obj()
	tests := []struct {
		name string
		pod  *corev1.Pod
		want bool
	}{
		{
			name: "ordinary pod",
			pod:  newPod("p", 0, burstable, res("1", "")).Obj(),
			want: true,
		},
		{
			name: "pod controlled by a DaemonSet",
			pod:  newPod("p", 0, burstable, res("1", "")).OwnerReference("ds", daemonSetKind).Obj(),
			want: false,
		},
		{
			name: "mirror pod",
			pod:  newPod("p", 0, guaranteed, res("1", "1Gi")).Annotation(corev1.MirrorPodAnnotationKey, "abc").Obj(),
			want: false,
		},
		{
			name: "mirror pod with an empty annotation value",
			pod:  newPod("p", 0, bestEffort, nil).Annotation(corev1.MirrorPodAnnotationKey, "").Obj(),
			want: false,
		},
		{
			// As upstream: its room is counted on the node until it is
			// gone, so the preemptor may wait for it instead of evicting
			// a running pod.
			name: "terminating pod",
			pod:  newPod("p", 0, bestEffort, nil).Terminating().Obj(),
			want: true,
		},
		{
			name: "pod owned but not controlled by a DaemonSet",
			pod: func() *corev1.Pod {
				p := newPod("p", 0, burstable, res("1", "")).Obj()
				p.OwnerReferences = []metav1.OwnerReference{{
					APIVersion: "apps/v1", Kind: "DaemonSet", Name: "ds", Controller: ptr.To(false),
				}}
				return p
			}(),
			want: true,
		},
		{
			name: "pod owned by a DaemonSet with no controller flag",
			pod: func() *corev1.Pod {
				p := newPod("p", 0, burstable, res("1", "")).Obj()
				p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "ds"}}
				return p
			}(),
			want: true,
		},
		{
			name: "pod controlled by a ReplicaSet",
			pod:  newPod("p", 0, burstable, res("1", "")).OwnerReference("rs", replicaSetKind).Obj(),
			want: true,
		},
		{
			name: "pod controlled by a ReplicaSet and also owned by a DaemonSet",
			pod: func() *corev1.Pod {
				p := newPod("p", 0, burstable, res("1", "")).OwnerReference("rs", replicaSetKind).Obj()
				p.OwnerReferences = append(p.OwnerReferences, metav1.OwnerReference{
					APIVersion: "apps/v1", Kind: "DaemonSet", Name: "ds", Controller: ptr.To(false),
				})
				return p
			}(),
			want: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pi := podInfos(t, tt.pod)[0]
			if got := eligibleVictim(nil, pi, preemptor); got != tt.want {
				t.Errorf("eligibleVictim() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestQoSRankAndSize(t *testing.T) {
	tests := []struct {
		name     string
		pod      *corev1.Pod
		wantQoS  corev1.PodQOSClass
		wantRank int
		wantSize float64
	}{
		{"best effort", newPod("p", 0, bestEffort, nil).Obj(), corev1.PodQOSBestEffort, 0, 0},
		{"burstable cpu only", newPod("p", 0, burstable, res("1500m", "")).Obj(), corev1.PodQOSBurstable, 1, 1.5},
		{"burstable cpu and memory", newPod("p", 0, burstable, res("1", "2Gi")).Obj(), corev1.PodQOSBurstable, 1, 3},
		{"guaranteed", newPod("p", 0, guaranteed, res("2", "512Mi")).Obj(), corev1.PodQOSGuaranteed, 2, 2.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := qos.GetPodQOS(tt.pod); got != tt.wantQoS {
				t.Fatalf("test pod has QoS %s, want %s", got, tt.wantQoS)
			}
			if got := qosRank(tt.pod); got != tt.wantRank {
				t.Errorf("qosRank() = %d, want %d", got, tt.wantRank)
			}
			if got := size(podInfos(t, tt.pod)[0]); got != tt.wantSize {
				t.Errorf("size() = %v, want %v", got, tt.wantSize)
			}
		})
	}
}

func TestImportanceOrder(t *testing.T) {
	t1, t2 := at(100), at(200)
	tests := []struct {
		name string
		a, b *corev1.Pod
		// want is a.moreThan(b); unless equal, b.moreThan(a) must be its
		// negation.
		want  bool
		equal bool
	}{
		{
			name: "higher priority BestEffort beats lower priority Guaranteed",
			a:    newPod("a", 10, bestEffort, nil).StartTime(t2).Obj(),
			b:    newPod("b", 9, guaranteed, res("1", "1Gi")).StartTime(t1).Obj(),
			want: true,
		},
		{
			name: "lower priority small Guaranteed loses to higher priority big Burstable",
			a:    newPod("a", -1, guaranteed, res("100m", "1Mi")).StartTime(t1).Obj(),
			b:    newPod("b", 0, burstable, res("8", "32Gi")).StartTime(t2).Obj(),
			want: false,
		},
		{
			name: "unset priority counts as 0, above a negative priority",
			a:    st.MakePod().Namespace("default").Name("a").Container("pause").StartTime(t2).Obj(),
			b:    newPod("b", -5, guaranteed, res("1", "1Gi")).StartTime(t1).Obj(),
			want: true,
		},
		{
			name: "equal priority: Guaranteed beats Burstable",
			a:    newPod("a", 5, guaranteed, res("4", "4Gi")).StartTime(t2).Obj(),
			b:    newPod("b", 5, burstable, res("100m", "")).StartTime(t1).Obj(),
			want: true,
		},
		{
			name: "equal priority: Burstable beats BestEffort although bigger and younger",
			a:    newPod("a", 5, burstable, res("4", "4Gi")).StartTime(t2).Obj(),
			b:    newPod("b", 5, bestEffort, nil).StartTime(t1).Obj(),
			want: true,
		},
		{
			name: "equal priority: BestEffort loses to Guaranteed",
			a:    newPod("a", 5, bestEffort, nil).StartTime(t1).Obj(),
			b:    newPod("b", 5, guaranteed, res("1", "1Gi")).StartTime(t2).Obj(),
			want: false,
		},
		{
			name: "equal priority and QoS: smaller pod is more important",
			a:    newPod("a", 0, burstable, res("1", "1Gi")).StartTime(t2).Obj(),
			b:    newPod("b", 0, burstable, res("2", "1Gi")).StartTime(t1).Obj(),
			want: true,
		},
		{
			name: "size adds cores and GiB: 4 cores is smaller than 1 core + 4GiB",
			a:    newPod("a", 0, guaranteed, res("4", "1Mi")).StartTime(t2).Obj(),
			b:    newPod("b", 0, guaranteed, res("1", "4Gi")).StartTime(t1).Obj(),
			want: true,
		},
		{
			name: "size: 1500m cpu is smaller than 2 cpu",
			a:    newPod("a", 0, burstable, res("2", "")).StartTime(t1).Obj(),
			b:    newPod("b", 0, burstable, res("1500m", "")).StartTime(t2).Obj(),
			want: false,
		},
		{
			name: "same priority, QoS and size: earlier start is more important",
			a:    newPod("a", 0, burstable, res("1", "1Gi")).StartTime(t1).Obj(),
			b:    newPod("b", 0, burstable, res("1", "1Gi")).StartTime(t2).Obj(),
			want: true,
		},
		{
			name: "same priority, QoS and size: later start is less important",
			a:    newPod("a", 0, bestEffort, nil).StartTime(t2).Obj(),
			b:    newPod("b", 0, bestEffort, nil).StartTime(t1).Obj(),
			want: false,
		},
		{
			name: "equal priority: a running pod beats a terminating one, whatever its QoS, size or start",
			a:    newPod("a", 5, bestEffort, nil).StartTime(t2).Obj(),
			b:    newPod("b", 5, guaranteed, res("1", "1Gi")).Terminating().StartTime(t1).Obj(),
			want: true,
		},
		{
			name: "priority before terminating: a higher-priority terminating pod beats a running one",
			a:    newPod("a", 6, burstable, res("1", "")).Terminating().StartTime(t2).Obj(),
			b:    newPod("b", 5, guaranteed, res("1", "1Gi")).StartTime(t1).Obj(),
			want: true,
		},
		{
			name:  "identical keys: neither is more important",
			a:     newPod("a", 3, guaranteed, res("1", "1Gi")).StartTime(t1).Obj(),
			b:     newPod("b", 3, guaranteed, res("1", "1Gi")).StartTime(t1).Obj(),
			equal: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pis := podInfos(t, tt.a, tt.b)
			a, b := importanceOf(pis[0]), importanceOf(pis[1])
			if got := a.moreThan(b); got != tt.want {
				t.Errorf("a.moreThan(b) = %v, want %v", got, tt.want)
			}
			wantRev := !tt.want
			if tt.equal {
				wantRev = false
			}
			if got := b.moreThan(a); got != wantRev {
				t.Errorf("b.moreThan(a) = %v, want %v", got, wantRev)
			}
		})
	}
}

func TestSortByImportance(t *testing.T) {
	t1, t2 := at(100), at(200)
	// Most important first.
	ordered := []*corev1.Pod{
		newPod("g-hi", 100, guaranteed, res("8", "8Gi")).StartTime(t2).Obj(),
		newPod("be-hi", 100, bestEffort, nil).StartTime(t1).Obj(),
		newPod("g-small", 0, guaranteed, res("1", "1Gi")).StartTime(t2).Obj(),
		newPod("g-big", 0, guaranteed, res("2", "2Gi")).StartTime(t1).Obj(),
		newPod("bu-small", 0, burstable, res("500m", "")).StartTime(t2).Obj(),
		newPod("bu-old", 0, burstable, res("1", "")).StartTime(t1).Obj(),
		newPod("bu-new", 0, burstable, res("1", "")).StartTime(t2).Obj(),
		newPod("be-old", 0, bestEffort, nil).StartTime(t1).Obj(),
		newPod("be-new", 0, bestEffort, nil).StartTime(t2).Obj(),
		newPod("g-neg", -10, guaranteed, res("1", "1Gi")).StartTime(t1).Obj(),
	}
	want := podNames(ordered)
	var wantRev []string
	for i := len(want) - 1; i >= 0; i-- {
		wantRev = append(wantRev, want[i])
	}
	// Every rotation and the reversal of the list as input.
	var inputs [][]*corev1.Pod
	for r := range ordered {
		rot := append(append([]*corev1.Pod(nil), ordered[r:]...), ordered[:r]...)
		inputs = append(inputs, rot)
		var rev []*corev1.Pod
		for i := len(rot) - 1; i >= 0; i-- {
			rev = append(rev, rot[i])
		}
		inputs = append(inputs, rev)
	}
	for i, in := range inputs {
		for _, reverse := range []bool{false, true} {
			t.Run(fmt.Sprintf("input%d/reverse=%v", i, reverse), func(t *testing.T) {
				pis := podInfos(t, in...)
				sortByImportance(pis, reverse)
				w := want
				if reverse {
					w = wantRev
				}
				if got := podInfoNames(pis); !equalStrings(got, w) {
					t.Errorf("sortByImportance(%v, %v) =\n %v\nwant\n %v", podNames(in), reverse, got, w)
				}
			})
		}
	}
}

func TestSortByImportanceStableOnTies(t *testing.T) {
	mk := func(name string) *corev1.Pod {
		return newPod(name, 0, burstable, res("1", "1Gi")).StartTime(at(5)).Obj()
	}
	low := newPod("low", -1, guaranteed, res("1", "1Gi")).StartTime(at(5)).Obj()
	tests := []struct {
		name    string
		in      []*corev1.Pod
		reverse bool
		want    []string
	}{
		{"most important first", []*corev1.Pod{mk("x"), low, mk("y"), mk("z")}, false, []string{"x", "y", "z", "low"}},
		{"least important first keeps tie order", []*corev1.Pod{mk("x"), low, mk("y"), mk("z")}, true, []string{"low", "x", "y", "z"}},
		{"other tie order", []*corev1.Pod{mk("z"), mk("x"), low, mk("y")}, true, []string{"low", "z", "x", "y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pis := podInfos(t, tt.in...)
			sortByImportance(pis, tt.reverse)
			if got := podInfoNames(pis); !equalStrings(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestSortByImportanceStableLongList uses a list long enough for sort.Slice
// to leave insertion sort, so only a stable sort keeps tie order.
func TestSortByImportanceStableLongList(t *testing.T) {
	var in []*corev1.Pod
	var wantTies []string
	for i := range 40 {
		name := fmt.Sprintf("tie-%02d", (i*17)%40) // a fixed shuffle
		in = append(in, newPod(name, 0, burstable, res("1", "1Gi")).StartTime(at(5)).Obj())
		wantTies = append(wantTies, name)
		if i%8 == 0 {
			in = append(in, newPod(fmt.Sprintf("low-%02d", i), -1, burstable, res(fmt.Sprintf("%d", i+1), "")).StartTime(at(5)).Obj())
		}
	}
	wantLow := []string{"low-32", "low-24", "low-16", "low-08", "low-00"} // bigger first
	for _, reverse := range []bool{false, true} {
		pis := podInfos(t, in...)
		sortByImportance(pis, reverse)
		want := append(append([]string(nil), wantTies...), "low-00", "low-08", "low-16", "low-24", "low-32")
		if reverse {
			want = append(append([]string(nil), wantLow...), wantTies...)
		}
		if got := podInfoNames(pis); !equalStrings(got, want) {
			t.Errorf("reverse=%v: got\n %v\nwant\n %v", reverse, got, want)
		}
	}
}

func pdb(name, ns string, allowed int32, selector *metav1.LabelSelector, disrupted ...string) *policy.PodDisruptionBudget {
	p := &policy.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       policy.PodDisruptionBudgetSpec{Selector: selector, MinAvailable: ptr.To(intstr.FromInt32(1))},
		Status:     policy.PodDisruptionBudgetStatus{DisruptionsAllowed: allowed},
	}
	if len(disrupted) > 0 {
		p.Status.DisruptedPods = map[string]metav1.Time{}
		for _, d := range disrupted {
			p.Status.DisruptedPods[d] = metav1.Now()
		}
	}
	return p
}

func matchLabels(kv ...string) *metav1.LabelSelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &metav1.LabelSelector{MatchLabels: m}
}

func TestBudgetsSplit(t *testing.T) {
	web := func(name string) *corev1.Pod {
		return newPod(name, 0, bestEffort, nil).Label("app", "web").Obj()
	}
	tests := []struct {
		name             string
		pods             []*corev1.Pod
		pdbs             []*policy.PodDisruptionBudget
		wantViolating    []string
		wantNonViolating []string
	}{
		{
			name:             "no PDBs",
			pods:             []*corev1.Pod{web("a"), web("b")},
			wantNonViolating: []string{"a", "b"},
		},
		{
			name:             "budget of 1 is spent on the first pod in the given order",
			pods:             []*corev1.Pod{web("a"), web("b"), web("c")},
			pdbs:             []*policy.PodDisruptionBudget{pdb("p", "default", 1, matchLabels("app", "web"))},
			wantViolating:    []string{"b", "c"},
			wantNonViolating: []string{"a"},
		},
		{
			name:             "budget of 1, other order",
			pods:             []*corev1.Pod{web("c"), web("b"), web("a")},
			pdbs:             []*policy.PodDisruptionBudget{pdb("p", "default", 1, matchLabels("app", "web"))},
			wantViolating:    []string{"b", "a"},
			wantNonViolating: []string{"c"},
		},
		{
			name:             "budget of 2 with a non-matching pod in between",
			pods:             []*corev1.Pod{web("a"), newPod("other", 0, bestEffort, nil).Label("app", "db").Obj(), web("b"), web("c")},
			pdbs:             []*policy.PodDisruptionBudget{pdb("p", "default", 2, matchLabels("app", "web"))},
			wantViolating:    []string{"c"},
			wantNonViolating: []string{"a", "other", "b"},
		},
		{
			name:          "budget of 0: every matching pod violates",
			pods:          []*corev1.Pod{web("a"), web("b")},
			pdbs:          []*policy.PodDisruptionBudget{pdb("p", "default", 0, matchLabels("app", "web"))},
			wantViolating: []string{"a", "b"},
		},
		{
			name:             "PDB in another namespace does not apply",
			pods:             []*corev1.Pod{web("a"), web("b")},
			pdbs:             []*policy.PodDisruptionBudget{pdb("p", "other", 0, matchLabels("app", "web"))},
			wantNonViolating: []string{"a", "b"},
		},
		{
			name:             "empty selector matches nothing",
			pods:             []*corev1.Pod{web("a"), web("b")},
			pdbs:             []*policy.PodDisruptionBudget{pdb("p", "default", 0, &metav1.LabelSelector{})},
			wantNonViolating: []string{"a", "b"},
		},
		{
			name:             "nil selector matches nothing",
			pods:             []*corev1.Pod{web("a")},
			pdbs:             []*policy.PodDisruptionBudget{pdb("p", "default", 0, nil)},
			wantNonViolating: []string{"a"},
		},
		{
			name: "invalid selector matches nothing",
			pods: []*corev1.Pod{web("a")},
			pdbs: []*policy.PodDisruptionBudget{pdb("p", "default", 0, &metav1.LabelSelector{
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Bogus", Values: []string{"web"}}},
			})},
			wantNonViolating: []string{"a"},
		},
		{
			name:             "pods in DisruptedPods are not counted",
			pods:             []*corev1.Pod{web("a"), web("b"), web("c")},
			pdbs:             []*policy.PodDisruptionBudget{pdb("p", "default", 1, matchLabels("app", "web"), "a")},
			wantViolating:    []string{"c"},
			wantNonViolating: []string{"a", "b"},
		},
		{
			name:             "a pod in DisruptedPods does not violate a spent budget",
			pods:             []*corev1.Pod{web("a"), web("b")},
			pdbs:             []*policy.PodDisruptionBudget{pdb("p", "default", 0, matchLabels("app", "web"), "b")},
			wantViolating:    []string{"a"},
			wantNonViolating: []string{"b"},
		},
		{
			name: "terminating pods spend no budget",
			pods: []*corev1.Pod{
				newPod("t", 0, bestEffort, nil).Label("app", "web").Terminating().Obj(),
				web("a"), web("b"),
			},
			pdbs:             []*policy.PodDisruptionBudget{pdb("p", "default", 1, matchLabels("app", "web"))},
			wantViolating:    []string{"b"},
			wantNonViolating: []string{"t", "a"},
		},
		{
			name: "unlabeled pods never violate, even a selector matching them",
			pods: []*corev1.Pod{
				newPod("unlabeled", 0, bestEffort, nil).Obj(),
				newPod("labeled", 0, bestEffort, nil).Label("tier", "x").Obj(),
			},
			pdbs: []*policy.PodDisruptionBudget{pdb("p", "default", 0, &metav1.LabelSelector{
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpDoesNotExist}},
			})},
			wantViolating:    []string{"labeled"},
			wantNonViolating: []string{"unlabeled"},
		},
		{
			name: "a pod matched by two PDBs spends both budgets and violates if either is exceeded",
			pods: []*corev1.Pod{
				newPod("both", 0, bestEffort, nil).Label("app", "web").Label("tier", "front").Obj(),
				web("web-only"),
				newPod("front-only", 0, bestEffort, nil).Label("tier", "front").Obj(),
			},
			pdbs: []*policy.PodDisruptionBudget{
				pdb("by-app", "default", 1, matchLabels("app", "web")),
				pdb("by-tier", "default", 1, matchLabels("tier", "front")),
			},
			wantViolating:    []string{"web-only", "front-only"},
			wantNonViolating: []string{"both"},
		},
		{
			name: "a pod matched by two PDBs violates when one of them has no budget",
			pods: []*corev1.Pod{
				newPod("both", 0, bestEffort, nil).Label("app", "web").Label("tier", "front").Obj(),
				web("web-only"),
			},
			pdbs: []*policy.PodDisruptionBudget{
				pdb("by-app", "default", 2, matchLabels("app", "web")),
				pdb("by-tier", "default", 0, matchLabels("tier", "front")),
			},
			wantViolating:    []string{"both"},
			wantNonViolating: []string{"web-only"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pdbStatus := make([]int32, len(tt.pdbs))
			for i, p := range tt.pdbs {
				pdbStatus[i] = p.Status.DisruptionsAllowed
			}
			violating, nonViolating := compileBudgets(tt.pdbs).split(newCandidates(podInfos(t, tt.pods...)))
			if got := candidateNames(violating); !equalStrings(got, tt.wantViolating) {
				t.Errorf("violating = %v, want %v", got, tt.wantViolating)
			}
			if got := candidateNames(nonViolating); !equalStrings(got, tt.wantNonViolating) {
				t.Errorf("nonViolating = %v, want %v", got, tt.wantNonViolating)
			}
			for i, p := range tt.pdbs {
				if p.Status.DisruptionsAllowed != pdbStatus[i] {
					t.Errorf("PDB %s: DisruptionsAllowed changed to %d", p.Name, p.Status.DisruptionsAllowed)
				}
			}
		})
	}
}

func TestSelectVictimsOnNode(t *testing.T) {
	const node = "n1"
	// Three pods of equal low priority; the node has room for three pods,
	// so a preemptor needs exactly one slot.
	threeSlots := makeNode(node, map[corev1.ResourceName]string{corev1.ResourceCPU: "8", corev1.ResourceMemory: "16Gi", corev1.ResourcePods: "3"})
	mixed := func(labels ...string) []*corev1.Pod {
		pods := []*corev1.Pod{
			newPod("be", 0, bestEffort, nil).Node(node).StartTime(at(3)).Obj(),
			newPod("bu", 0, burstable, res("1", "1Gi")).Node(node).StartTime(at(2)).Obj(),
			newPod("g", 0, guaranteed, res("1", "1Gi")).Node(node).StartTime(at(1)).Obj(),
		}
		for _, p := range pods {
			for i := 0; i+1 < len(labels); i += 2 {
				p.Labels = map[string]string{labels[i]: labels[i+1]}
			}
		}
		return pods
	}
	preemptor := newPod("preemptor", 1000, burstable, res("500m", "512Mi")).Obj()
	webPDB := func(allowed int32) []*policy.PodDisruptionBudget {
		return []*policy.PodDisruptionBudget{pdb("web", "default", allowed, matchLabels("app", "web"))}
	}
	tests := []selectVictimsCase{
		{
			name:        "one slot needed: BestEffort is the victim, not Burstable or Guaranteed",
			mode:        config.PDBRespect,
			node:        threeSlots,
			pods:        mixed(),
			preemptor:   preemptor,
			wantVictims: []string{"be"},
		},
		{
			name: "cpu needed: BestEffort frees none, so Burstable before Guaranteed",
			mode: config.PDBRespect,
			node: makeNode(node, map[corev1.ResourceName]string{corev1.ResourceCPU: "2", corev1.ResourceMemory: "16Gi"}),
			pods: []*corev1.Pod{
				newPod("be", 0, bestEffort, nil).Node(node).Obj(),
				newPod("bu", 0, burstable, res("1", "1Gi")).Node(node).StartTime(at(2)).Obj(),
				newPod("g", 0, guaranteed, res("1", "1Gi")).Node(node).StartTime(at(1)).Obj(),
			},
			preemptor:   newPod("preemptor", 1000, burstable, res("1", "")).Obj(),
			wantVictims: []string{"bu"},
		},
		{
			name: "within a QoS class the bigger pod goes first",
			mode: config.PDBRespect,
			node: makeNode(node, map[corev1.ResourceName]string{corev1.ResourceCPU: "4", corev1.ResourceMemory: "16Gi"}),
			pods: []*corev1.Pod{
				newPod("small", 0, burstable, res("1", "")).Node(node).StartTime(at(2)).Obj(),
				newPod("big", 0, burstable, res("3", "")).Node(node).StartTime(at(1)).Obj(),
			},
			preemptor:   newPod("preemptor", 1000, burstable, res("1", "")).Obj(),
			wantVictims: []string{"big"},
		},
		{
			name: "within priority, QoS and size the most recently started goes first",
			mode: config.PDBRespect,
			node: makeNode(node, map[corev1.ResourceName]string{corev1.ResourceCPU: "2", corev1.ResourceMemory: "16Gi"}),
			pods: []*corev1.Pod{
				newPod("old", 0, burstable, res("1", "")).Node(node).StartTime(at(1)).Obj(),
				newPod("new", 0, burstable, res("1", "")).Node(node).StartTime(at(2)).Obj(),
			},
			preemptor:   newPod("preemptor", 1000, burstable, res("1", "")).Obj(),
			wantVictims: []string{"new"},
		},
		{
			name: "priority comes before QoS: a lower-priority Guaranteed pod goes before a BestEffort one",
			mode: config.PDBRespect,
			node: makeNode(node, map[corev1.ResourceName]string{corev1.ResourceCPU: "8", corev1.ResourceMemory: "16Gi", corev1.ResourcePods: "2"}),
			pods: []*corev1.Pod{
				newPod("g-low", 0, guaranteed, res("1", "1Gi")).Node(node).Obj(),
				newPod("be-mid", 50, bestEffort, nil).Node(node).Obj(),
			},
			preemptor:   preemptor,
			wantVictims: []string{"g-low"},
		},
		{
			name: "several victims are returned most important first",
			mode: config.PDBRespect,
			node: makeNode(node, map[corev1.ResourceName]string{corev1.ResourceCPU: "4", corev1.ResourceMemory: "16Gi"}),
			pods: []*corev1.Pod{
				newPod("bu-low", 0, burstable, res("1", "")).Node(node).StartTime(at(1)).Obj(),
				newPod("bu-mid", 10, burstable, res("1", "")).Node(node).StartTime(at(1)).Obj(),
				newPod("g-low", 0, guaranteed, res("1", "1Gi")).Node(node).StartTime(at(1)).Obj(),
				newPod("keep", 0, burstable, res("500m", "")).Node(node).StartTime(at(1)).Obj(),
			},
			// 3.5 of 4 cores must be free: only "keep" (500m) is reprieved.
			preemptor:   newPod("preemptor", 1000, burstable, res("3500m", "")).Obj(),
			wantVictims: []string{"bu-mid", "g-low", "bu-low"},
		},
		{
			name: "pods of equal or higher priority are never victims",
			mode: config.PDBRespect,
			node: makeNode(node, map[corev1.ResourceName]string{corev1.ResourceCPU: "8", corev1.ResourceMemory: "16Gi", corev1.ResourcePods: "2"}),
			pods: []*corev1.Pod{
				newPod("equal", 1000, bestEffort, nil).Node(node).Obj(),
				newPod("higher", 2000, bestEffort, nil).Node(node).Obj(),
			},
			preemptor: preemptor,
			wantCode:  fwk.UnschedulableAndUnresolvable,
			wantMsg:   "No preemption victims found for incoming pod",
		},
		{
			name: "a DaemonSet pod is never a victim, even the only lower-priority pod",
			mode: config.PDBRespect,
			node: makeNode(node, map[corev1.ResourceName]string{corev1.ResourceCPU: "8", corev1.ResourceMemory: "16Gi", corev1.ResourcePods: "1"}),
			pods: []*corev1.Pod{
				newPod("ds", 0, bestEffort, nil).OwnerReference("ds", daemonSetKind).Node(node).Obj(),
			},
			preemptor: preemptor,
			wantCode:  fwk.UnschedulableAndUnresolvable,
			wantMsg:   "No preemption victims found for incoming pod",
		},
		{
			name: "mirror pods are never victims",
			mode: config.PDBPrefer,
			node: makeNode(node, map[corev1.ResourceName]string{corev1.ResourceCPU: "8", corev1.ResourceMemory: "16Gi", corev1.ResourcePods: "1"}),
			pods: []*corev1.Pod{
				newPod("mirror", 0, guaranteed, res("1", "1Gi")).Annotation(corev1.MirrorPodAnnotationKey, "x").Node(node).Obj(),
			},
			preemptor: preemptor,
			wantCode:  fwk.UnschedulableAndUnresolvable,
			wantMsg:   "No preemption victims found for incoming pod",
		},
		{
			name: "a DaemonSet pod is skipped and the rest does not make room: the filter's verdict",
			mode: config.PDBRespect,
			node: makeNode(node, map[corev1.ResourceName]string{corev1.ResourceCPU: "2", corev1.ResourceMemory: "16Gi"}),
			pods: []*corev1.Pod{
				newPod("ds", 0, burstable, res("1", "")).OwnerReference("ds", daemonSetKind).Node(node).Obj(),
				newPod("bu", 0, burstable, res("1", "")).Node(node).Obj(),
			},
			preemptor: newPod("preemptor", 1000, burstable, res("2", "")).Obj(),
			wantCode:  fwk.Unschedulable,
			wantMsg:   "Insufficient cpu",
		},
		{
			name:           "Respect: a PDB with no budget covering every possible victim",
			mode:           config.PDBRespect,
			node:           threeSlots,
			pods:           mixed("app", "web"),
			pdbs:           webPDB(0),
			preemptor:      preemptor,
			wantCode:       fwk.UnschedulableAndUnresolvable,
			wantMsg:        pdbMessage,
			wantPDBBlocked: true,
		},
		{
			name:          "Prefer: the same case evicts the BestEffort pod and counts the violation",
			mode:          config.PDBPrefer,
			node:          threeSlots,
			pods:          mixed("app", "web"),
			pdbs:          webPDB(0),
			preemptor:     preemptor,
			wantVictims:   []string{"be"},
			wantViolating: 1,
		},
		{
			name:        "Respect: a budget of 1 is spent on the least important pod",
			mode:        config.PDBRespect,
			node:        threeSlots,
			pods:        mixed("app", "web"),
			pdbs:        webPDB(1),
			preemptor:   preemptor,
			wantVictims: []string{"be"},
		},
		{
			name:        "Respect: a PDB in another namespace does not protect",
			mode:        config.PDBRespect,
			node:        threeSlots,
			pods:        mixed("app", "web"),
			pdbs:        []*policy.PodDisruptionBudget{pdb("web", "other", 0, matchLabels("app", "web"))},
			preemptor:   preemptor,
			wantVictims: []string{"be"},
		},
		{
			name: "Respect: the PDB-protected BestEffort pod is spared, Burstable is next",
			mode: config.PDBRespect,
			node: threeSlots,
			pods: func() []*corev1.Pod {
				pods := mixed()
				pods[0].Labels = map[string]string{"app": "web"}
				return pods
			}(),
			pdbs:        webPDB(0),
			preemptor:   preemptor,
			wantVictims: []string{"bu"},
		},
		{
			name: "Prefer: the PDB-protected BestEffort pod is reprieved first, the least important other pod goes",
			mode: config.PDBPrefer,
			node: threeSlots,
			pods: func() []*corev1.Pod {
				pods := mixed()
				pods[0].Labels = map[string]string{"app": "web"}
				return pods
			}(),
			pdbs:        webPDB(0),
			preemptor:   preemptor,
			wantVictims: []string{"bu"},
		},
		{
			name: "Respect: unprotected pods do not make room and a PDB protects the rest",
			mode: config.PDBRespect,
			node: makeNode(node, map[corev1.ResourceName]string{corev1.ResourceCPU: "2", corev1.ResourceMemory: "16Gi"}),
			pods: []*corev1.Pod{
				newPod("protected", 0, burstable, res("1", "")).Label("app", "web").Node(node).Obj(),
				newPod("free", 0, burstable, res("1", "")).Node(node).Obj(),
			},
			pdbs:           webPDB(0),
			preemptor:      newPod("preemptor", 1000, burstable, res("2", "")).Obj(),
			wantCode:       fwk.UnschedulableAndUnresolvable,
			wantMsg:        pdbMessage,
			wantPDBBlocked: true,
		},
		{
			name: "Prefer: the same case evicts both and counts one violation",
			mode: config.PDBPrefer,
			node: makeNode(node, map[corev1.ResourceName]string{corev1.ResourceCPU: "2", corev1.ResourceMemory: "16Gi"}),
			pods: []*corev1.Pod{
				newPod("protected", 0, burstable, res("1", "")).Label("app", "web").Node(node).StartTime(at(1)).Obj(),
				newPod("free", 0, burstable, res("1", "")).Node(node).StartTime(at(2)).Obj(),
			},
			pdbs:          webPDB(0),
			preemptor:     newPod("preemptor", 1000, burstable, res("2", "")).Obj(),
			wantVictims:   []string{"protected", "free"},
			wantViolating: 1,
		},
		{
			name: "Prefer: victims are returned most important first across PDB groups",
			mode: config.PDBPrefer,
			node: makeNode(node, map[corev1.ResourceName]string{corev1.ResourceCPU: "2", corev1.ResourceMemory: "16Gi"}),
			pods: []*corev1.Pod{
				newPod("protected-bu", 0, burstable, res("1", "")).Label("app", "web").Node(node).StartTime(at(1)).Obj(),
				newPod("free-g", 0, guaranteed, res("1", "1Gi")).Node(node).StartTime(at(2)).Obj(),
			},
			pdbs:          webPDB(0),
			preemptor:     newPod("preemptor", 1000, burstable, res("2", "")).Obj(),
			wantVictims:   []string{"free-g", "protected-bu"},
			wantViolating: 1,
		},
	}
	tests = append(tests, budgetSearchCases(node)...)
	tests = append(tests, terminatingCases(node)...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, defaultArgs(t, tt.mode), []*corev1.Node{tt.node}, tt.pods)
			state := e.preFilter(t, tt.preemptor)
			ni := e.nodeInfo(t, node)
			before := len(ni.GetPods())
			ctx := ContextWithPreemptor(e.ctx, tt.preemptor)
			victims, violating, status := e.pl.SelectVictimsOnNode(ctx, state, tt.preemptor, ni, tt.pdbs)
			if status.Code() != tt.wantCode {
				t.Fatalf("status = %v, want code %v", status, tt.wantCode)
			}
			if tt.wantMsg != "" && status.Message() != tt.wantMsg {
				t.Errorf("status message = %q, want %q", status.Message(), tt.wantMsg)
			}
			if got := podNames(victims); !equalStrings(got, tt.wantVictims) {
				t.Errorf("victims = %v, want %v", got, tt.wantVictims)
			}
			if violating != tt.wantViolating {
				t.Errorf("numViolating = %d, want %d", violating, tt.wantViolating)
			}
			call := ctx.Value(callKey{}).(*preemptionCall)
			if got := call.pdbBlocked.Load(); got != tt.wantPDBBlocked {
				t.Errorf("pdbBlocked = %v, want %v", got, tt.wantPDBBlocked)
			}
			if status.IsSuccess() {
				if got := podNames(call.victimsOn(node)); !equalStrings(got, tt.wantVictims) {
					t.Errorf("recorded victims = %v, want %v", got, tt.wantVictims)
				}
				// The NodeInfo is left without the victims.
				if got, want := len(ni.GetPods()), before-len(tt.wantVictims); got != want {
					t.Errorf("NodeInfo holds %d pods after selection, want %d", got, want)
				}
			}
			// The snapshot itself is untouched.
			orig, _ := e.snapshot.NodeInfos().Get(node)
			if got := len(orig.GetPods()); got != before {
				t.Errorf("snapshot NodeInfo holds %d pods, want %d", got, before)
			}
		})
	}
}

// selectVictimsCase is one case of TestSelectVictimsOnNode.
type selectVictimsCase struct {
	name      string
	mode      config.PDBMode
	node      *corev1.Node
	pods      []*corev1.Pod
	pdbs      []*policy.PodDisruptionBudget
	preemptor *corev1.Pod
	// wantVictims is the exact victim list, most important first.
	wantVictims   []string
	wantViolating int
	wantCode      fwk.Code
	wantMsg       string
	// wantPDBBlocked: the call is marked as blocked by a PDB.
	wantPDBBlocked bool
}

// budgetSearchCases are the victim searches within PDB budgets (issue 19,
// item 3): a budget-respecting victim set must be found whenever one
// exists, whichever pods the budget has to go to.
func budgetSearchCases(node string) []selectVictimsCase {
	cpuNode := func(cpu string) *corev1.Node {
		return makeNode(node, map[corev1.ResourceName]string{corev1.ResourceCPU: cpu, corev1.ResourceMemory: "16Gi"})
	}
	// onNode is a Burstable pod of cpu cores on node, with labels as
	// key, value pairs.
	onNode := func(name string, prio int32, cpu string, start int64, kv ...string) *corev1.Pod {
		w := newPod(name, prio, burstable, res(cpu, "")).Node(node).StartTime(at(start))
		for i := 0; i+1 < len(kv); i += 2 {
			w.Label(kv[i], kv[i+1])
		}
		return w.Obj()
	}
	preemptor := func(cpu string) *corev1.Pod { return newPod("preemptor", 1000, burstable, res(cpu, "")).Obj() }
	web := func(allowed int32) []*policy.PodDisruptionBudget {
		return []*policy.PodDisruptionBudget{pdb("web", "default", allowed, matchLabels("app", "web"))}
	}
	// The example of issue 19: PDB web allows one disruption; a full
	// 5-CPU node holds A (web, 1 CPU, priority 1), B (web, 3 CPU,
	// priority 2), C (no PDB, 1 CPU, priority 3); the preemptor needs 4
	// CPU. {B, C} frees 4 CPU with one disruption of web; {A, C} frees 2.
	issueExample := []*corev1.Pod{
		onNode("A", 1, "1", 1, "app", "web"),
		onNode("B", 2, "3", 1, "app", "web"),
		onNode("C", 3, "1", 1),
	}
	// Spending the budget on the most important pod is the only way: W-a
	// alone frees 3 CPU; any one of W-b, W-c frees 2.
	bigImportant := []*corev1.Pod{
		onNode("W-a", 5, "3", 1, "app", "web"),
		onNode("W-b", 0, "2", 1, "app", "web"),
		onNode("W-c", 0, "2", 2, "app", "web"),
	}
	// Two PDBs, one disruption each: AF counts against both, so evicting
	// it leaves room for neither B nor D; {B, D} frees 4 CPU.
	twoPDBs := []*policy.PodDisruptionBudget{
		pdb("web", "default", 1, matchLabels("app", "web")),
		pdb("front", "default", 1, matchLabels("tier", "front")),
	}
	twoPDBPods := []*corev1.Pod{
		onNode("AF", 1, "1", 1, "app", "web", "tier", "front"),
		onNode("B", 2, "2", 1, "app", "web"),
		onNode("D", 2, "2", 2, "tier", "front"),
		onNode("E", 3, "1", 1),
	}
	// One web disruption frees at most 2 CPU, C one more: 4 CPU need both
	// web pods, so the only way is a violation.
	impossible := []*corev1.Pod{
		onNode("A", 1, "2", 1, "app", "web"),
		onNode("B", 2, "2", 1, "app", "web"),
		onNode("C", 3, "1", 1),
	}
	return []selectVictimsCase{
		{
			name:        "Respect (issue 19 example): the budget goes to the pod that makes room, not to the least important one",
			mode:        config.PDBRespect,
			node:        cpuNode("5"),
			pods:        issueExample,
			pdbs:        web(1),
			preemptor:   preemptor("4"),
			wantVictims: []string{"C", "B"},
		},
		{
			name:        "Prefer (issue 19 example): the budget-respecting set, no violation",
			mode:        config.PDBPrefer,
			node:        cpuNode("5"),
			pods:        issueExample,
			pdbs:        web(1),
			preemptor:   preemptor("4"),
			wantVictims: []string{"C", "B"},
		},
		{
			name: "Respect: budget 0 and the unprotected pod makes room, although more important",
			mode: config.PDBRespect,
			node: cpuNode("4"),
			pods: []*corev1.Pod{
				onNode("A", 0, "1", 1, "app", "web"),
				onNode("B", 0, "1", 2, "app", "web"),
				onNode("C", 5, "2", 1),
			},
			pdbs:        web(0),
			preemptor:   preemptor("2"),
			wantVictims: []string{"C"},
		},
		{
			name:        "Respect: the budget goes to a more important pod when only it makes room",
			mode:        config.PDBRespect,
			node:        cpuNode("7"),
			pods:        bigImportant,
			pdbs:        web(1),
			preemptor:   preemptor("3"),
			wantVictims: []string{"W-a"},
		},
		{
			name:        "Respect: two PDBs, a pod counted by both is spared so each budget goes to a pod that makes room",
			mode:        config.PDBRespect,
			node:        cpuNode("6"),
			pods:        twoPDBPods,
			pdbs:        twoPDBs,
			preemptor:   preemptor("4"),
			wantVictims: []string{"B", "D"},
		},
		{
			name:        "Prefer: two PDBs, the same set without a violation",
			mode:        config.PDBPrefer,
			node:        cpuNode("6"),
			pods:        twoPDBPods,
			pdbs:        twoPDBs,
			preemptor:   preemptor("4"),
			wantVictims: []string{"B", "D"},
		},
		{
			name:           "Respect: no set within the budget makes room: blocked by the PDB",
			mode:           config.PDBRespect,
			node:           cpuNode("5"),
			pods:           impossible,
			pdbs:           web(1),
			preemptor:      preemptor("4"),
			wantCode:       fwk.UnschedulableAndUnresolvable,
			wantMsg:        pdbMessage,
			wantPDBBlocked: true,
		},
		{
			name:          "Prefer: the same case violates the budget once, C is spared",
			mode:          config.PDBPrefer,
			node:          cpuNode("5"),
			pods:          impossible,
			pdbs:          web(1),
			preemptor:     preemptor("4"),
			wantVictims:   []string{"B", "A"},
			wantViolating: 1,
		},
		{
			// Memory is scarce; the search lets the budget go to the
			// protected pod that is biggest by size (cores + GiB), X, which
			// frees the least memory: keeping C then looks infeasible and C
			// is evicted. Later X is spared and Y takes the budget, and the
			// final pass gives C back: Y alone frees the 2Gi.
			name: "Respect: victims the final node does not need are given back (memory scarce, size misleads)",
			mode: config.PDBRespect,
			node: makeNode(node, map[corev1.ResourceName]string{corev1.ResourceCPU: "16", corev1.ResourceMemory: "8Gi"}),
			pods: []*corev1.Pod{
				newPod("filler", 2000, burstable, res("100m", "4Gi")).Node(node).StartTime(at(1)).Obj(),
				newPod("C", 3, burstable, res("100m", "1Gi")).Node(node).StartTime(at(1)).Obj(),
				newPod("X", 2, burstable, res("3", "1Gi")).Label("app", "web").Node(node).StartTime(at(1)).Obj(),
				newPod("Y", 1, burstable, res("1", "2Gi")).Label("app", "web").Node(node).StartTime(at(1)).Obj(),
			},
			pdbs:        web(1),
			preemptor:   newPod("preemptor", 1000, burstable, res("100m", "2Gi")).Obj(),
			wantVictims: []string{"Y"},
		},
		{
			name: "Respect: a larger budget than needed changes nothing: upstream's reprieve",
			mode: config.PDBRespect,
			node: cpuNode("5"),
			pods: issueExample,
			pdbs: web(2),
			// Reprieving most important first keeps C, then B does not fit
			// back, A does not either.
			preemptor:   preemptor("4"),
			wantVictims: []string{"B", "A"},
		},
	}
}

// terminatingCases: pods already terminating are victims as upstream's
// DefaultPreemption has them (issue 19, item 4): still on the node in the
// scheduler's cache, so leaving them out of the dry run made snug evict a
// running pod where upstream waits for the terminating one. Within a
// priority they go first, and they spend no PDB budget.
func terminatingCases(node string) []selectVictimsCase {
	twoCPU := makeNode(node, map[corev1.ResourceName]string{corev1.ResourceCPU: "2", corev1.ResourceMemory: "16Gi"})
	preemptor := newPod("preemptor", 1000, burstable, res("1", "")).Obj()
	return []selectVictimsCase{
		{
			name: "a lower-priority terminating pod is the victim: wait for it, evict no running pod",
			mode: config.PDBRespect,
			node: twoCPU,
			pods: []*corev1.Pod{
				newPod("terminating", 0, burstable, res("1", "")).Terminating().Node(node).StartTime(at(2)).Obj(),
				newPod("running", 5, burstable, res("1", "")).Node(node).StartTime(at(1)).Obj(),
			},
			preemptor:   preemptor,
			wantVictims: []string{"terminating"},
		},
		{
			name: "within a priority a terminating pod goes first, before QoS and start time",
			mode: config.PDBRespect,
			node: twoCPU,
			pods: []*corev1.Pod{
				newPod("terminating", 0, guaranteed, res("1", "1Gi")).Terminating().Node(node).StartTime(at(1)).Obj(),
				newPod("running", 0, burstable, res("1", "")).Node(node).StartTime(at(2)).Obj(),
			},
			preemptor:   preemptor,
			wantVictims: []string{"terminating"},
		},
		{
			name: "priority still comes first: a running lower-priority pod goes before a terminating one",
			mode: config.PDBRespect,
			node: twoCPU,
			pods: []*corev1.Pod{
				newPod("terminating", 5, burstable, res("1", "")).Terminating().Node(node).StartTime(at(2)).Obj(),
				newPod("running", 0, burstable, res("1", "")).Node(node).StartTime(at(1)).Obj(),
			},
			preemptor:   preemptor,
			wantVictims: []string{"running"},
		},
		{
			name: "Respect: a terminating pod spends no budget (the disruption controller no longer counts it)",
			mode: config.PDBRespect,
			node: twoCPU,
			pods: []*corev1.Pod{
				newPod("terminating-web", 0, burstable, res("1", "")).Label("app", "web").Terminating().Node(node).StartTime(at(2)).Obj(),
				newPod("running", 5, burstable, res("1", "")).Node(node).StartTime(at(1)).Obj(),
			},
			pdbs:        []*policy.PodDisruptionBudget{pdb("web", "default", 0, matchLabels("app", "web"))},
			preemptor:   preemptor,
			wantVictims: []string{"terminating-web"},
		},
	}
}
