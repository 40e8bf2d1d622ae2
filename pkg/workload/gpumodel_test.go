package workload

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestGPUModels(t *testing.T) {
	in := func(key string, vals ...string) corev1.NodeSelectorRequirement {
		return corev1.NodeSelectorRequirement{Key: key, Operator: corev1.NodeSelectorOpIn, Values: vals}
	}
	pod := func(terms ...[]corev1.NodeSelectorRequirement) *corev1.Pod {
		p := &corev1.Pod{}
		if terms == nil {
			return p
		}
		ns := &corev1.NodeSelector{}
		for _, t := range terms {
			ns.NodeSelectorTerms = append(ns.NodeSelectorTerms, corev1.NodeSelectorTerm{MatchExpressions: t})
		}
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: ns}}
		return p
	}
	type req = []corev1.NodeSelectorRequirement
	for i, c := range []struct {
		pod  *corev1.Pod
		want []string
	}{
		{pod(), nil},
		{pod(req{in("zone", "a")}), nil},
		{pod(req{in(LabelGPUModel, "T4", "G2", "T4")}), []string{"G2", "T4"}},
		{pod(req{in(LabelGPUModel, "T4")}, req{in(LabelGPUModel, "G3")}), []string{"G3", "T4"}},
		{pod(req{in(LabelGPUModel, "T4")}, req{in("zone", "a")}), nil},
		{pod(req{in(LabelGPUModel, "T4", "G2"), in(LabelGPUModel, "G2", "G3")}), []string{"G2"}},
		{pod(req{in(LabelGPUModel, "T4"), in(LabelGPUModel, "G3")}), []string{}},
	} {
		if got := GPUModels(c.pod); !reflect.DeepEqual(got, c.want) {
			t.Errorf("case %d: %#v, want %#v", i, got, c.want)
		}
	}
	// What an openb gpu_spec becomes.
	pods, err := ReadPods("p.csv", []byte("name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\na,1,1,1,1000,V100M16|V100M32\nb,1,1,1,1000,\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := GPUModels(pods[0]); !reflect.DeepEqual(got, []string{"V100M16", "V100M32"}) {
		t.Errorf("gpu_spec: %v", got)
	}
	if got := GPUModels(pods[1]); got != nil {
		t.Errorf("no gpu_spec: %v", got)
	}
}

// An openb pod list with the required columns only loads; its pods have no
// times.
func TestOpenbRequiredColumnsOnly(t *testing.T) {
	pods, err := ReadPods("p.csv", []byte("name,cpu_milli,memory_mib,num_gpu,gpu_milli\na,1000,1024,1,1000\nb,500,512,0,0\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		if _, _, ok := Times(p); ok || len(p.Annotations) != 0 {
			t.Errorf("%s: times ok %v, annotations %v", p.Name, ok, p.Annotations)
		}
	}
}
