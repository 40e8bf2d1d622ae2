package workload

import (
	"crypto/sha1"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
)

const (
	// DefaultNamespace is the namespace of objects that name none.
	DefaultNamespace = "default"
	// DefaultMaxPods is the pods allocatable of nodes that state none (the
	// kubelet's default --max-pods).
	DefaultMaxPods = 110
	// MaxPodsPerWorkload bounds the expansion of one workload.
	MaxPodsPerWorkload = 1000000
)

// uidNamespace is the name space of FakeUID (a random UUID fixed once).
var uidNamespace = [16]byte{0x3b, 0x0e, 0x5c, 0x3a, 0x7f, 0x4d, 0x4e, 0x21, 0x9a, 0x52, 0x1c, 0x8e, 0x61, 0x0d, 0x2f, 0x97}

// FakeUID is the deterministic UID this package gives an object of the kind
// with the namespace and name ("" for cluster-scoped objects): a name-based
// (version 5, SHA-1) UUID, so loading the same files twice gives the same
// UIDs.
func FakeUID(kind, namespace, name string) types.UID {
	h := sha1.New()
	h.Write(uidNamespace[:])
	h.Write([]byte(kind + "/" + namespace + "/" + name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = (u[6] & 0x0f) | 0x50
	u[8] = (u[8] & 0x3f) | 0x80
	return types.UID(fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]))
}

// prepareNode validates a node and fills in what a kubelet would:
// allocatable from capacity for each resource it lacks, pods=110, capacity
// from allocatable, the kubernetes.io/hostname label, a UID.
func prepareNode(n *corev1.Node) *fieldErr {
	n.Kind, n.APIVersion = "Node", "v1"
	if n.Name == "" {
		return fieldErrorf("metadata.name", "required")
	}
	for _, msg := range validation.IsDNS1123Subdomain(n.Name) {
		return fieldErrorf("metadata.name", "invalid name %q: %s", n.Name, msg)
	}
	if fe := nonNegative("status.capacity", n.Status.Capacity); fe != nil {
		return fe
	}
	if fe := nonNegative("status.allocatable", n.Status.Allocatable); fe != nil {
		return fe
	}
	if n.Status.Allocatable == nil {
		n.Status.Allocatable = corev1.ResourceList{}
	}
	for r, q := range n.Status.Capacity {
		if _, ok := n.Status.Allocatable[r]; !ok {
			n.Status.Allocatable[r] = q.DeepCopy()
		}
	}
	if _, ok := n.Status.Allocatable[corev1.ResourcePods]; !ok {
		n.Status.Allocatable[corev1.ResourcePods] = *resource.NewQuantity(DefaultMaxPods, resource.DecimalSI)
	}
	if n.Status.Capacity == nil {
		n.Status.Capacity = corev1.ResourceList{}
	}
	for r, q := range n.Status.Allocatable {
		if _, ok := n.Status.Capacity[r]; !ok {
			n.Status.Capacity[r] = q.DeepCopy()
		}
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	if _, ok := n.Labels[corev1.LabelHostname]; !ok {
		n.Labels[corev1.LabelHostname] = n.Name
	}
	if n.UID == "" {
		n.UID = FakeUID("Node", "", n.Name)
	}
	return nil
}

func nonNegative(path string, rl corev1.ResourceList) *fieldErr {
	for _, r := range sortedNames(rl) {
		if q := rl[r]; q.Sign() < 0 {
			return fieldErrorf(path+"."+string(r), "must be >= 0, got %s", q.String())
		}
	}
	return nil
}

func sortedNames(rl corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(rl))
	for r := range rl {
		names = append(names, r)
	}
	for i := 1; i < len(names); i++ {
		for j := i; j > 0 && names[j] < names[j-1]; j-- {
			names[j], names[j-1] = names[j-1], names[j]
		}
	}
	return names
}

// validatePodSpec checks what the simulator relies on: at least one
// container, requests and limits >= 0 and requests <= limits.
func validatePodSpec(path string, spec *corev1.PodSpec) *fieldErr {
	if len(spec.Containers) == 0 {
		return fieldErrorf(path+".containers", "required: a pod needs at least one container")
	}
	check := func(p string, rr *corev1.ResourceRequirements) *fieldErr {
		if fe := nonNegative(p+".requests", rr.Requests); fe != nil {
			return fe
		}
		if fe := nonNegative(p+".limits", rr.Limits); fe != nil {
			return fe
		}
		for _, r := range sortedNames(rr.Requests) {
			req := rr.Requests[r]
			if lim, ok := rr.Limits[r]; ok && req.Cmp(lim) > 0 {
				return fieldErrorf(p+".requests."+string(r), "%s must be <= the limit %s", req.String(), lim.String())
			}
		}
		return nil
	}
	for i := range spec.InitContainers {
		if fe := check(fmt.Sprintf("%s.initContainers[%d].resources", path, i), &spec.InitContainers[i].Resources); fe != nil {
			return fe
		}
	}
	for i := range spec.Containers {
		if fe := check(fmt.Sprintf("%s.containers[%d].resources", path, i), &spec.Containers[i].Resources); fe != nil {
			return fe
		}
	}
	if spec.Resources != nil {
		if fe := check(path+".resources", spec.Resources); fe != nil {
			return fe
		}
	}
	return nil
}

func validateName(name string) *fieldErr {
	if name == "" {
		return fieldErrorf("metadata.name", "required (generateName is not supported)")
	}
	for _, msg := range validation.IsDNS1123Subdomain(name) {
		return fieldErrorf("metadata.name", "invalid name %q: %s", name, msg)
	}
	return nil
}

// barePod returns a Pod object as it is, with namespace and UID filled in.
// Everything else, spec.nodeName and status included, is kept.
func barePod(in *corev1.Pod) ([]*corev1.Pod, *fieldErr) {
	if fe := validateName(in.Name); fe != nil {
		return nil, fe
	}
	if fe := validatePodSpec("spec", &in.Spec); fe != nil {
		return nil, fe
	}
	p := in.DeepCopy()
	p.Kind, p.APIVersion = "Pod", "v1"
	if p.Namespace == "" {
		p.Namespace = DefaultNamespace
	}
	if p.UID == "" {
		p.UID = FakeUID("Pod", p.Namespace, p.Name)
	}
	return []*corev1.Pod{p}, nil
}

// owner describes the workload pods are expanded from.
type owner struct {
	kind, apiVersion string
	meta             *metav1.ObjectMeta
}

func (o owner) namespace() string {
	if o.meta.Namespace == "" {
		return DefaultNamespace
	}
	return o.meta.Namespace
}

func (o owner) ref() metav1.OwnerReference {
	uid := o.meta.UID
	if uid == "" {
		uid = FakeUID(o.kind, o.namespace(), o.meta.Name)
	}
	t := true
	return metav1.OwnerReference{APIVersion: o.apiVersion, Kind: o.kind, Name: o.meta.Name, UID: uid, Controller: &t, BlockOwnerDeletion: &t}
}

// expand makes the pods of a workload named <name>-<i> for i in
// [start, start+n). Labels, annotations and the whole pod spec of the
// template are copied unchanged.
func expand(o owner, tmpl *corev1.PodTemplateSpec, start, n int32) ([]*corev1.Pod, *fieldErr) {
	if fe := validateName(o.meta.Name); fe != nil {
		return nil, fe
	}
	if n > MaxPodsPerWorkload {
		return nil, fieldErrorf("spec", "%d pods exceed the limit of %d pods per workload", n, MaxPodsPerWorkload)
	}
	if fe := validatePodSpec("spec.template.spec", &tmpl.Spec); fe != nil {
		return nil, fe
	}
	if n == 0 {
		return nil, nil
	}
	ns := o.namespace()
	ref := o.ref()
	pods := make([]*corev1.Pod, 0, n)
	for i := start; i < start+n; i++ {
		name := fmt.Sprintf("%s-%d", o.meta.Name, i)
		p := &corev1.Pod{
			TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{
				Name:            name,
				Namespace:       ns,
				UID:             FakeUID("Pod", ns, name),
				Labels:          copyMap(tmpl.Labels),
				Annotations:     copyMap(tmpl.Annotations),
				OwnerReferences: []metav1.OwnerReference{*ref.DeepCopy()},
			},
			Spec: *tmpl.Spec.DeepCopy(),
		}
		pods = append(pods, p)
	}
	return pods, nil
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// replicas is *r, 1 when nil; negative is an error.
func replicas(field string, r *int32) (int32, *fieldErr) {
	if r == nil {
		return 1, nil
	}
	if *r < 0 {
		return 0, fieldErrorf(field, "must be >= 0, got %d", *r)
	}
	return *r, nil
}

// checkSelector applies the apps/v1 rules: a selector is required, not empty,
// and matches the template's labels.
func checkSelector(sel *metav1.LabelSelector, tmpl *corev1.PodTemplateSpec) *fieldErr {
	if sel == nil {
		return fieldErrorf("spec.selector", "required")
	}
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		return fieldErrorf("spec.selector", "must not be empty")
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return &fieldErr{field: "spec.selector", err: err}
	}
	if !s.Matches(labels.Set(tmpl.Labels)) {
		return fieldErrorf("spec.selector", "%s does not match spec.template.metadata.labels %v", s.String(), labels.Set(tmpl.Labels))
	}
	return nil
}

func expandDeployment(d *appsv1.Deployment) ([]*corev1.Pod, *fieldErr) {
	n, fe := replicas("spec.replicas", d.Spec.Replicas)
	if fe != nil {
		return nil, fe
	}
	if fe := checkSelector(d.Spec.Selector, &d.Spec.Template); fe != nil {
		return nil, fe
	}
	return expand(owner{"Deployment", "apps/v1", &d.ObjectMeta}, &d.Spec.Template, 0, n)
}

func expandReplicaSet(rs *appsv1.ReplicaSet) ([]*corev1.Pod, *fieldErr) {
	n, fe := replicas("spec.replicas", rs.Spec.Replicas)
	if fe != nil {
		return nil, fe
	}
	if fe := checkSelector(rs.Spec.Selector, &rs.Spec.Template); fe != nil {
		return nil, fe
	}
	return expand(owner{"ReplicaSet", "apps/v1", &rs.ObjectMeta}, &rs.Spec.Template, 0, n)
}

// expandStatefulSet names pods <name>-<ordinal>, ordinals from
// spec.ordinals.start (default 0).
func expandStatefulSet(ss *appsv1.StatefulSet) ([]*corev1.Pod, *fieldErr) {
	n, fe := replicas("spec.replicas", ss.Spec.Replicas)
	if fe != nil {
		return nil, fe
	}
	if fe := checkSelector(ss.Spec.Selector, &ss.Spec.Template); fe != nil {
		return nil, fe
	}
	var start int32
	if ss.Spec.Ordinals != nil {
		start = ss.Spec.Ordinals.Start
		if start < 0 {
			return nil, fieldErrorf("spec.ordinals.start", "must be >= 0, got %d", start)
		}
	}
	return expand(owner{"StatefulSet", "apps/v1", &ss.ObjectMeta}, &ss.Spec.Template, start, n)
}

// expandJob runs min(parallelism, completions) pods: parallelism defaults to
// 1, unset completions do not limit, a suspended Job runs none.
func expandJob(j *batchv1.Job) ([]*corev1.Pod, *fieldErr) {
	par, fe := replicas("spec.parallelism", j.Spec.Parallelism)
	if fe != nil {
		return nil, fe
	}
	n := par
	if j.Spec.Completions != nil {
		c := *j.Spec.Completions
		if c < 0 {
			return nil, fieldErrorf("spec.completions", "must be >= 0, got %d", c)
		}
		n = min(par, c)
	}
	if j.Spec.Suspend != nil && *j.Spec.Suspend {
		n = 0
	}
	if j.Spec.Selector != nil {
		s, err := metav1.LabelSelectorAsSelector(j.Spec.Selector)
		if err != nil {
			return nil, &fieldErr{field: "spec.selector", err: err}
		}
		if !s.Matches(labels.Set(j.Spec.Template.Labels)) {
			return nil, fieldErrorf("spec.selector", "%s does not match spec.template.metadata.labels", s.String())
		}
	}
	return expand(owner{"Job", "batch/v1", &j.ObjectMeta}, &j.Spec.Template, 0, n)
}

func expandReplicationController(rc *corev1.ReplicationController) ([]*corev1.Pod, *fieldErr) {
	n, fe := replicas("spec.replicas", rc.Spec.Replicas)
	if fe != nil {
		return nil, fe
	}
	if rc.Spec.Template == nil {
		return nil, fieldErrorf("spec.template", "required")
	}
	if len(rc.Spec.Selector) > 0 && !labels.SelectorFromSet(rc.Spec.Selector).Matches(labels.Set(rc.Spec.Template.Labels)) {
		return nil, fieldErrorf("spec.selector", "%v does not match spec.template.metadata.labels", labels.Set(rc.Spec.Selector))
	}
	return expand(owner{"ReplicationController", "v1", &rc.ObjectMeta}, rc.Spec.Template, 0, n)
}
