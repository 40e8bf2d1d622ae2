package resourcemodel

import (
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/utils/ptr"
)

const gpu corev1.ResourceName = "nvidia.com/gpu"

func rl(kv ...string) corev1.ResourceList {
	if len(kv) == 0 {
		return nil
	}
	out := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func ctr(name string, req, lim corev1.ResourceList) corev1.Container {
	return corev1.Container{Name: name, Resources: corev1.ResourceRequirements{Requests: req, Limits: lim}}
}

func sidecar(name string, req, lim corev1.ResourceList) corev1.Container {
	c := ctr(name, req, lim)
	c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
	return c
}

func pod(init []corev1.Container, app ...corev1.Container) *corev1.Pod {
	p := &corev1.Pod{Spec: corev1.PodSpec{InitContainers: init, Containers: app}}
	p.Name, p.Namespace = "p", "ns"
	return p
}

func withOverhead(p *corev1.Pod, o corev1.ResourceList) *corev1.Pod {
	p.Spec.Overhead = o
	return p
}

func withPodLevel(p *corev1.Pod, req, lim corev1.ResourceList) *corev1.Pod {
	p.Spec.Resources = &corev1.ResourceRequirements{Requests: req, Limits: lim}
	return p
}

// values converts a list to the scheduler's integer units via Value.
func values(list corev1.ResourceList) map[corev1.ResourceName]int64 {
	out := map[corev1.ResourceName]int64{}
	for name := range list {
		out[name] = Value(name, list)
	}
	return out
}

const (
	mi = int64(1) << 20
	gi = int64(1) << 30
)

type want = map[corev1.ResourceName]int64

func TestRequestsLimitsBoundedLimits(t *testing.T) {
	tests := []struct {
		name                  string
		pod                   *corev1.Pod
		requests, limits, bnd want
	}{
		{
			name:     "best effort counts 0",
			pod:      pod(nil, ctr("a", nil, nil), ctr("b", nil, nil)),
			requests: want{}, limits: want{}, bnd: want{},
		},
		{
			name: "app containers sum; a container without a limit counts its request in BoundedLimits",
			pod: pod(nil,
				ctr("a", rl("cpu", "100m", "memory", "1Gi"), rl("cpu", "1", "memory", "2Gi")),
				ctr("b", rl("cpu", "200m", "memory", "512Mi"), nil)),
			requests: want{"cpu": 300, "memory": gi + 512*mi},
			limits:   want{"cpu": 1000, "memory": 2 * gi},
			bnd:      want{"cpu": 1200, "memory": 2*gi + 512*mi},
		},
		{
			name: "limit only for one resource, request only for another",
			pod: pod(nil,
				ctr("a", rl("cpu", "250m"), rl("memory", "1Gi")),
			),
			requests: want{"cpu": 250},
			limits:   want{"memory": gi},
			bnd:      want{"cpu": 250, "memory": gi},
		},
		{
			name: "init container larger than the app sum wins (max of init vs sum of app)",
			pod: pod([]corev1.Container{ctr("init", rl("cpu", "2", "memory", "256Mi"), rl("cpu", "3", "memory", "256Mi"))},
				ctr("a", rl("cpu", "500m", "memory", "1Gi"), rl("cpu", "1", "memory", "1Gi")),
				ctr("b", rl("cpu", "500m", "memory", "1Gi"), rl("cpu", "1", "memory", "1Gi"))),
			requests: want{"cpu": 2000, "memory": 2 * gi},
			limits:   want{"cpu": 3000, "memory": 2 * gi},
			bnd:      want{"cpu": 3000, "memory": 2 * gi},
		},
		{
			name: "init container without a limit counts its request in BoundedLimits",
			pod: pod([]corev1.Container{ctr("init", rl("cpu", "4"), nil)},
				ctr("a", rl("cpu", "1"), rl("cpu", "2"))),
			requests: want{"cpu": 4000},
			limits:   want{"cpu": 2000},
			bnd:      want{"cpu": 4000},
		},
		{
			name: "sidecar before an init container adds to it and to the app sum",
			pod: pod([]corev1.Container{
				sidecar("proxy", rl("cpu", "100m", "memory", "64Mi"), rl("cpu", "200m", "memory", "128Mi")),
				ctr("migrate", rl("cpu", "1", "memory", "256Mi"), rl("cpu", "1", "memory", "256Mi")),
			}, ctr("a", rl("cpu", "300m", "memory", "1Gi"), rl("cpu", "500m", "memory", "1Gi"))),
			// init phase: 100m+1 = 1100m; steady: 300m+100m = 400m
			requests: want{"cpu": 1100, "memory": gi + 64*mi},
			// init phase: 200m+1 = 1200m; steady: 500m+200m = 700m
			limits: want{"cpu": 1200, "memory": gi + 128*mi},
			bnd:    want{"cpu": 1200, "memory": gi + 128*mi},
		},
		{
			name: "sidecar after an init container does not add to it",
			pod: pod([]corev1.Container{
				ctr("migrate", rl("cpu", "1"), rl("cpu", "1")),
				sidecar("proxy", rl("cpu", "100m"), rl("cpu", "200m")),
			}, ctr("a", rl("cpu", "300m"), rl("cpu", "500m"))),
			requests: want{"cpu": 1000},
			limits:   want{"cpu": 1000},
			bnd:      want{"cpu": 1000},
		},
		{
			name: "sidecar without a limit counts its request in BoundedLimits only",
			pod: pod([]corev1.Container{sidecar("proxy", rl("cpu", "250m", "memory", "100Mi"), nil)},
				ctr("a", rl("cpu", "1", "memory", "1Gi"), rl("cpu", "2", "memory", "1Gi"))),
			requests: want{"cpu": 1250, "memory": gi + 100*mi},
			limits:   want{"cpu": 2000, "memory": gi},
			bnd:      want{"cpu": 2250, "memory": gi + 100*mi},
		},
		{
			name: "overhead adds to requests and to non-zero limits",
			pod: withOverhead(pod(nil, ctr("a", rl("cpu", "1", "memory", "1Gi"), rl("cpu", "2"))),
				rl("cpu", "250m", "memory", "120Mi")),
			requests: want{"cpu": 1250, "memory": gi + 120*mi},
			limits:   want{"cpu": 2250},
			bnd:      want{"cpu": 2250, "memory": gi + 120*mi},
		},
		{
			name:     "overhead of a best-effort pod counts in requests only",
			pod:      withOverhead(pod(nil, ctr("a", nil, nil)), rl("cpu", "250m")),
			requests: want{"cpu": 250}, limits: want{}, bnd: want{},
		},
		{
			name: "pod-level requests and limits replace the containers'",
			pod: withPodLevel(pod(nil,
				ctr("a", rl("cpu", "100m", "memory", "100Mi"), rl("cpu", "200m", "memory", "100Mi")),
				ctr("b", nil, nil)),
				rl("cpu", "2", "memory", "4Gi"), rl("cpu", "4", "memory", "4Gi")),
			requests: want{"cpu": 2000, "memory": 4 * gi},
			limits:   want{"cpu": 4000, "memory": 4 * gi},
			bnd:      want{"cpu": 4000, "memory": 4 * gi},
		},
		{
			name: "pod-level requests without pod-level limits bound the pod by its request",
			pod: withPodLevel(pod(nil, ctr("a", nil, nil), ctr("b", nil, nil)),
				rl("cpu", "1500m", "memory", "3Gi"), nil),
			requests: want{"cpu": 1500, "memory": 3 * gi},
			limits:   want{},
			bnd:      want{"cpu": 1500, "memory": 3 * gi},
		},
		{
			// The container's own 4Gi limit still bounds it: BoundedLimits
			// must never be below Limits.
			name: "pod-level request below a container limit: the container limit counts",
			pod: withPodLevel(pod(nil, ctr("a", nil, rl("memory", "4Gi", "cpu", "500m"))),
				rl("cpu", "1", "memory", "1Gi"), nil),
			requests: want{"cpu": 1000, "memory": gi},
			limits:   want{"cpu": 500, "memory": 4 * gi},
			bnd:      want{"cpu": 1000, "memory": 4 * gi},
		},
		{
			name: "pod-level limit for cpu only, with overhead",
			pod: withOverhead(withPodLevel(pod(nil, ctr("a", rl("memory", "1Gi"), rl("memory", "2Gi"))),
				rl("cpu", "1"), rl("cpu", "3")), rl("cpu", "100m", "memory", "10Mi")),
			requests: want{"cpu": 1100, "memory": gi + 10*mi},
			limits:   want{"cpu": 3100, "memory": 2*gi + 10*mi},
			bnd:      want{"cpu": 3100, "memory": 2*gi + 10*mi},
		},
		{
			name: "extended resources sum like cpu and memory",
			pod: pod(nil,
				ctr("a", rl("nvidia.com/gpu", "1"), rl("nvidia.com/gpu", "1")),
				ctr("b", rl("nvidia.com/gpu", "2"), rl("nvidia.com/gpu", "2"))),
			requests: want{gpu: 3}, limits: want{gpu: 3}, bnd: want{gpu: 3},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.pod.DeepCopy()
			if got := values(Requests(tc.pod)); !maps.Equal(got, tc.requests) {
				t.Errorf("Requests = %v, want %v", got, tc.requests)
			}
			if got := values(Limits(tc.pod)); !maps.Equal(got, tc.limits) {
				t.Errorf("Limits = %v, want %v", got, tc.limits)
			}
			bounded := values(BoundedLimits(tc.pod))
			if !maps.Equal(bounded, tc.bnd) {
				t.Errorf("BoundedLimits = %v, want %v", bounded, tc.bnd)
			}
			for name, l := range values(Limits(tc.pod)) {
				if bounded[name] < l {
					t.Errorf("BoundedLimits[%s] = %d is below Limits %d", name, bounded[name], l)
				}
			}
			if !equality.Semantic.DeepEqual(before, tc.pod) {
				t.Errorf("the pod was modified:\nbefore %+v\nafter  %+v", before.Spec, tc.pod.Spec)
			}
		})
	}
}

// In-place resize is GA: a running container's status resources count.
func TestRequestsUseStatusResources(t *testing.T) {
	p := pod(nil, ctr("a", rl("cpu", "1"), rl("cpu", "2")))
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name:               "a",
		AllocatedResources: rl("cpu", "1500m"),
		Resources:          &corev1.ResourceRequirements{Requests: rl("cpu", "1500m"), Limits: rl("cpu", "3")},
	}}
	if got := Value(corev1.ResourceCPU, Requests(p)); got != 1500 {
		t.Errorf("Requests cpu = %d, want 1500 (status resources during a resize down)", got)
	}
	if got := Value(corev1.ResourceCPU, Limits(p)); got != 3000 {
		t.Errorf("Limits cpu = %d, want 3000", got)
	}
	if got := Value(corev1.ResourceCPU, BoundedLimits(p)); got != 3000 {
		t.Errorf("BoundedLimits cpu = %d, want 3000", got)
	}
}

func TestValue(t *testing.T) {
	list := rl("cpu", "1500m", "memory", "1Gi", "ephemeral-storage", "10G", "pods", "3", "nvidia.com/gpu", "2", "hugepages-2Mi", "4Mi")
	list["tiny.example.com/x"] = resource.MustParse("500m")
	tests := []struct {
		name corev1.ResourceName
		want int64
	}{
		{corev1.ResourceCPU, 1500},
		{corev1.ResourceMemory, gi},
		{corev1.ResourceEphemeralStorage, 10_000_000_000},
		{corev1.ResourcePods, 3},
		{gpu, 2},
		{"hugepages-2Mi", 4 * mi},
		{"tiny.example.com/x", 1}, // plain units round up
		{"example.com/absent", 0},
	}
	for _, tc := range tests {
		if got := Value(tc.name, list); got != tc.want {
			t.Errorf("Value(%s) = %d, want %d", tc.name, got, tc.want)
		}
	}
	if got := Value(corev1.ResourceCPU, rl("cpu", "0.1")); got != 100 {
		t.Errorf("Value(cpu 0.1) = %d, want 100 millicores", got)
	}
	if got := Value(corev1.ResourceCPU, nil); got != 0 {
		t.Errorf("Value(cpu, nil) = %d, want 0", got)
	}
}

// ScoringRequests counts what kube-scheduler's scoring counts: the
// scheduler's own NonZeroRequested figures (PodInfo.CalculateResource) are
// the oracle for cpu and memory, and every other resource is Requests'.
func TestScoringRequests(t *testing.T) {
	const defCPU, defMem = 100, 200 * mi
	tests := []struct {
		name     string
		pod      *corev1.Pod
		cpu, mem int64
	}{
		{"best effort counts the defaults", pod(nil, ctr("a", nil, nil)), defCPU, defMem},
		{"per container, as upstream", pod(nil, ctr("a", nil, nil), ctr("b", nil, nil)), 2 * defCPU, 2 * defMem},
		{"only the missing resource", pod(nil, ctr("a", rl("cpu", "2"), nil), ctr("b", rl("memory", "1Gi"), nil)), 2000 + defCPU, defMem + gi},
		{"extended resources as requested", pod(nil, ctr("a", rl(string(gpu), "1", "ephemeral-storage", "1Gi"), nil)), defCPU, defMem},
		{"an explicit zero stays zero", pod(nil, ctr("a", rl("cpu", "0", "memory", "0"), nil)), 0, 0},
		{"init containers and sidecars", pod([]corev1.Container{ctr("init", nil, nil), sidecar("side", rl("cpu", "300m"), nil)},
			ctr("a", nil, nil)), 300 + defCPU, 2 * defMem},
		{"overhead is added", withOverhead(pod(nil, ctr("a", nil, nil)), rl("cpu", "50m", "memory", "10Mi")), defCPU + 50, defMem + 10*mi},
		{"pod-level requests replace the defaults", withPodLevel(pod(nil, ctr("a", nil, nil)), rl("cpu", "1", "memory", "1Gi"), nil), 1000, gi},
		{"pod-level cpu only: memory defaults", withPodLevel(pod(nil, ctr("a", nil, nil)), rl("cpu", "1"), nil), 1000, defMem},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := values(ScoringRequests(tt.pod))
			if got[corev1.ResourceCPU] != tt.cpu || got[corev1.ResourceMemory] != tt.mem {
				t.Errorf("ScoringRequests = %v, want cpu %d, memory %d", got, tt.cpu, tt.mem)
			}
			pi, err := framework.NewPodInfo(tt.pod)
			if err != nil {
				t.Fatal(err)
			}
			if r := pi.CalculateResource(); got[corev1.ResourceCPU] != r.Non0CPU || got[corev1.ResourceMemory] != r.Non0Mem {
				t.Errorf("ScoringRequests = %v; the scheduler's NonZeroRequested: cpu %d, memory %d", got, r.Non0CPU, r.Non0Mem)
			}
			want := values(Requests(tt.pod))
			delete(want, corev1.ResourceCPU)
			delete(want, corev1.ResourceMemory)
			delete(got, corev1.ResourceCPU)
			delete(got, corev1.ResourceMemory)
			if !maps.Equal(got, want) {
				t.Errorf("other resources %v, want Requests' %v", got, want)
			}
		})
	}
}
