package predictabledemands

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

var allKinds = Selection{ConfigMaps: true, Secrets: true, ImagePullSecrets: true, PVCs: true}

func cmKeyEnv(env, cm string, optional *bool) corev1.EnvVar {
	return corev1.EnvVar{Name: env, ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: cm}, Key: "k", Optional: optional}}}
}

func secretKeyEnv(env, secret string, optional *bool) corev1.EnvVar {
	return corev1.EnvVar{Name: env, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: "k", Optional: optional}}}
}

func cmEnvFrom(cm string, optional *bool) corev1.EnvFromSource {
	return corev1.EnvFromSource{ConfigMapRef: &corev1.ConfigMapEnvSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: cm}, Optional: optional}}
}

func secretEnvFrom(secret string, optional *bool) corev1.EnvFromSource {
	return corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Optional: optional}}
}

func cmVolume(vol, cm string, optional *bool) corev1.Volume {
	return corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: cm}, Optional: optional}}}
}

func secretVolume(vol, secret string, optional *bool) corev1.Volume {
	return corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: secret, Optional: optional}}}
}

func pvcVolume(vol, claim string) corev1.Volume {
	return corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}
}

func projectedVolume(vol string, sources ...corev1.VolumeProjection) corev1.Volume {
	return corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: sources}}}
}

func projCM(cm string, optional *bool) corev1.VolumeProjection {
	return corev1.VolumeProjection{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: cm}, Optional: optional}}
}

func projSecret(secret string, optional *bool) corev1.VolumeProjection {
	return corev1.VolumeProjection{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Optional: optional}}
}

func depPod(mutate func(*corev1.PodSpec)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}}
	mutate(&p.Spec)
	return p
}

// fullPod references every kind of object from every place, in a known order;
// its ephemeral container's references are the ones that must not count.
func fullPod() *corev1.Pod {
	return depPod(func(s *corev1.PodSpec) {
		s.InitContainers = []corev1.Container{
			{Name: "init", Env: []corev1.EnvVar{cmKeyEnv("A", "cm-init-env", nil)}, EnvFrom: []corev1.EnvFromSource{secretEnvFrom("sec-init-envfrom", nil)}},
			{Name: "side", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways), Env: []corev1.EnvVar{secretKeyEnv("B", "sec-side-env", nil)}},
		}
		s.Containers = []corev1.Container{
			{Name: "app", Env: []corev1.EnvVar{
				{Name: "PLAIN", Value: "x"},
				cmKeyEnv("C", "cm-app-env", nil),
				secretKeyEnv("D", "sec-app-env", nil),
				{Name: "FIELD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			}, EnvFrom: []corev1.EnvFromSource{cmEnvFrom("cm-app-envfrom", nil), secretEnvFrom("sec-app-envfrom", nil)}},
		}
		s.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debug", Env: []corev1.EnvVar{cmKeyEnv("E", "cm-debug-env", nil)}, EnvFrom: []corev1.EnvFromSource{secretEnvFrom("sec-debug-envfrom", nil)},
		}}}
		s.Volumes = []corev1.Volume{
			cmVolume("v-cm", "cm-vol", nil),
			secretVolume("v-sec", "sec-vol", nil),
			pvcVolume("v-pvc", "data"),
			{Name: "v-empty", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			projectedVolume("v-proj", projCM("cm-proj", nil), projSecret("sec-proj", nil),
				corev1.VolumeProjection{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}),
		}
		s.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "pull"}}
	})
}

func TestDependencies(t *testing.T) {
	yes, no := ptr.To(true), ptr.To(false)
	tests := []struct {
		name string
		pod  *corev1.Pod
		sel  Selection
		want []Dependency
	}{
		{
			name: "every reference path, in spec order",
			pod:  fullPod(),
			sel:  allKinds,
			want: []Dependency{
				{ConfigMap, "cm-init-env", `init container "init" env A`},
				{Secret, "sec-init-envfrom", `init container "init" envFrom`},
				{Secret, "sec-side-env", `init container "side" env B`},
				{ConfigMap, "cm-app-env", `container "app" env C`},
				{Secret, "sec-app-env", `container "app" env D`},
				{ConfigMap, "cm-app-envfrom", `container "app" envFrom`},
				{Secret, "sec-app-envfrom", `container "app" envFrom`},
				{ConfigMap, "cm-vol", `volume "v-cm"`},
				{Secret, "sec-vol", `volume "v-sec"`},
				{PVC, "data", `volume "v-pvc"`},
				{ConfigMap, "cm-proj", `volume "v-proj" projected`},
				{Secret, "sec-proj", `volume "v-proj" projected`},
				{Secret, "pull", "imagePullSecrets"},
			},
		},
		{
			name: "defaults: configMaps and PVCs only",
			pod:  fullPod(),
			sel:  Selection{ConfigMaps: true, PVCs: true},
			want: []Dependency{
				{ConfigMap, "cm-init-env", `init container "init" env A`},
				{ConfigMap, "cm-app-env", `container "app" env C`},
				{ConfigMap, "cm-app-envfrom", `container "app" envFrom`},
				{ConfigMap, "cm-vol", `volume "v-cm"`},
				{PVC, "data", `volume "v-pvc"`},
				{ConfigMap, "cm-proj", `volume "v-proj" projected`},
			},
		},
		{
			name: "secrets without imagePullSecrets",
			pod:  fullPod(),
			sel:  Selection{Secrets: true},
			want: []Dependency{
				{Secret, "sec-init-envfrom", `init container "init" envFrom`},
				{Secret, "sec-side-env", `init container "side" env B`},
				{Secret, "sec-app-env", `container "app" env D`},
				{Secret, "sec-app-envfrom", `container "app" envFrom`},
				{Secret, "sec-vol", `volume "v-sec"`},
				{Secret, "sec-proj", `volume "v-proj" projected`},
			},
		},
		{
			name: "PVCs only",
			pod:  fullPod(),
			sel:  Selection{PVCs: true},
			want: []Dependency{{PVC, "data", `volume "v-pvc"`}},
		},
		{
			name: "imagePullSecrets need Secrets selected too",
			pod:  fullPod(),
			sel:  Selection{ImagePullSecrets: true},
		},
		{
			name: "nothing selected",
			pod:  fullPod(),
			sel:  Selection{},
		},
		{
			name: "optional references are ignored, optional=false counts",
			pod: depPod(func(s *corev1.PodSpec) {
				s.InitContainers = []corev1.Container{{Name: "i", Env: []corev1.EnvVar{cmKeyEnv("A", "opt-init", yes)}}}
				s.Containers = []corev1.Container{{Name: "c",
					Env:     []corev1.EnvVar{cmKeyEnv("A", "opt-cm-env", yes), secretKeyEnv("B", "opt-sec-env", yes), cmKeyEnv("C", "req-cm-env", no)},
					EnvFrom: []corev1.EnvFromSource{cmEnvFrom("opt-cm-envfrom", yes), secretEnvFrom("opt-sec-envfrom", yes), secretEnvFrom("req-sec-envfrom", no)},
				}}
				s.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
					Name: "d", EnvFrom: []corev1.EnvFromSource{cmEnvFrom("opt-debug", yes)}}}}
				s.Volumes = []corev1.Volume{
					cmVolume("a", "opt-cm-vol", yes), secretVolume("b", "opt-sec-vol", yes),
					projectedVolume("c", projCM("opt-proj-cm", yes), projSecret("opt-proj-sec", yes), projCM("req-proj-cm", no)),
				}
			}),
			sel: allKinds,
			want: []Dependency{
				{ConfigMap, "req-cm-env", `container "c" env C`},
				{Secret, "req-sec-envfrom", `container "c" envFrom`},
				{ConfigMap, "req-proj-cm", `volume "c" projected`},
			},
		},
		{
			name: "empty names are ignored",
			pod: depPod(func(s *corev1.PodSpec) {
				s.Containers = []corev1.Container{{Name: "c", EnvFrom: []corev1.EnvFromSource{cmEnvFrom("", nil)}}}
				s.Volumes = []corev1.Volume{pvcVolume("v", "")}
				s.ImagePullSecrets = []corev1.LocalObjectReference{{Name: ""}}
			}),
			sel: allKinds,
		},
		{
			name: "duplicates are kept, each with its own Via",
			pod: depPod(func(s *corev1.PodSpec) {
				s.Containers = []corev1.Container{
					{Name: "a", EnvFrom: []corev1.EnvFromSource{cmEnvFrom("shared", nil)}},
					{Name: "b", EnvFrom: []corev1.EnvFromSource{cmEnvFrom("shared", nil)}},
				}
				s.Volumes = []corev1.Volume{cmVolume("cfg", "shared", nil)}
			}),
			sel: allKinds,
			want: []Dependency{
				{ConfigMap, "shared", `container "a" envFrom`},
				{ConfigMap, "shared", `container "b" envFrom`},
				{ConfigMap, "shared", `volume "cfg"`},
			},
		},
		{
			// The kubelet resolves an ephemeral container's references
			// when it starts that container in the running pod.
			name: "ephemeral containers' references never gate",
			pod: depPod(func(s *corev1.PodSpec) {
				s.Containers = []corev1.Container{{Name: "app"}}
				s.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
					Name: "debug", Env: []corev1.EnvVar{cmKeyEnv("E", "cm-debug", nil), secretKeyEnv("F", "sec-debug", nil)},
					EnvFrom: []corev1.EnvFromSource{cmEnvFrom("cm-debug-from", nil), secretEnvFrom("sec-debug-from", nil)},
				}}}
			}),
			sel: allKinds,
		},
		{
			name: "no references",
			pod:  podWith("ns", "plain", nil, ctr("c", nil, nil)),
			sel:  allKinds,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Dependencies(tc.pod, tc.sel)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Dependencies =\n%v\nwant\n%v", got, tc.want)
			}
		})
	}
}

func TestDependencyString(t *testing.T) {
	d := Dependency{Kind: PVC, Name: "data", Via: `volume "v"`}
	if got, want := d.String(), `PersistentVolumeClaim "data" (volume "v")`; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
