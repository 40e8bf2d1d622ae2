package predictabledemands

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// Kind of a runtime dependency.
type Kind string

// Kinds the dependency gate checks.
const (
	ConfigMap Kind = "ConfigMap"
	Secret    Kind = "Secret"
	PVC       Kind = "PersistentVolumeClaim"
)

// Dependency is an object, in the pod's namespace, that the pod needs to
// start, and where the pod refers to it.
type Dependency struct {
	Kind Kind
	Name string
	// Via says where the reference is, e.g. `container "app" envFrom`.
	Via string
}

func (d Dependency) String() string {
	return fmt.Sprintf("%s %q (%s)", d.Kind, d.Name, d.Via)
}

// Selection says which kinds of references count.
type Selection struct {
	ConfigMaps, Secrets, ImagePullSecrets, PVCs bool
}

// Dependencies lists the pod's non-optional references, in spec order:
// env valueFrom and envFrom of init, sidecar and app containers, volumes
// (configMap, secret, projected, persistentVolumeClaim) and, if selected,
// imagePullSecrets. Optional references never gate a pod: the kubelet
// starts it without them.
//
// Ephemeral containers never gate a pod. The API adds them to running pods
// only, and the kubelet resolves their env references when it starts each
// one: a missing object fails that container's start, never the pod's. They
// mount only the pod's own volumes, which are listed here already.
func Dependencies(pod *corev1.Pod, sel Selection) []Dependency {
	var out []Dependency
	add := func(k Kind, name string, optional *bool, via string) {
		if name == "" || (optional != nil && *optional) {
			return
		}
		if (k == ConfigMap && !sel.ConfigMaps) || (k == Secret && !sel.Secrets) || (k == PVC && !sel.PVCs) {
			return
		}
		out = append(out, Dependency{Kind: k, Name: name, Via: via})
	}
	container := func(kind, name string, env []corev1.EnvVar, envFrom []corev1.EnvFromSource) {
		for _, e := range env {
			if e.ValueFrom == nil {
				continue
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
				add(ConfigMap, r.Name, r.Optional, fmt.Sprintf("%s %q env %s", kind, name, e.Name))
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil {
				add(Secret, r.Name, r.Optional, fmt.Sprintf("%s %q env %s", kind, name, e.Name))
			}
		}
		for _, f := range envFrom {
			if r := f.ConfigMapRef; r != nil {
				add(ConfigMap, r.Name, r.Optional, fmt.Sprintf("%s %q envFrom", kind, name))
			}
			if r := f.SecretRef; r != nil {
				add(Secret, r.Name, r.Optional, fmt.Sprintf("%s %q envFrom", kind, name))
			}
		}
	}
	for _, c := range pod.Spec.InitContainers {
		container("init container", c.Name, c.Env, c.EnvFrom)
	}
	for _, c := range pod.Spec.Containers {
		container("container", c.Name, c.Env, c.EnvFrom)
	}
	for _, v := range pod.Spec.Volumes {
		via := fmt.Sprintf("volume %q", v.Name)
		switch {
		case v.ConfigMap != nil:
			add(ConfigMap, v.ConfigMap.Name, v.ConfigMap.Optional, via)
		case v.Secret != nil:
			add(Secret, v.Secret.SecretName, v.Secret.Optional, via)
		case v.PersistentVolumeClaim != nil:
			add(PVC, v.PersistentVolumeClaim.ClaimName, nil, via)
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.ConfigMap != nil {
					add(ConfigMap, s.ConfigMap.Name, s.ConfigMap.Optional, via+" projected")
				}
				if s.Secret != nil {
					add(Secret, s.Secret.Name, s.Secret.Optional, via+" projected")
				}
			}
		}
	}
	if sel.ImagePullSecrets {
		for _, s := range pod.Spec.ImagePullSecrets {
			add(Secret, s.Name, nil, "imagePullSecrets")
		}
	}
	return out
}
