package predictabledemands

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// A Secret applied with kubectl carries its data in an annotation even in a
// metadata-only watch; the gate's cache keeps names only.
func TestNamesOnlyDropsAnnotationsAndManagedFields(t *testing.T) {
	in := &metav1.PartialObjectMetadata{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop", UID: "u1", ResourceVersion: "7",
			Labels:        map[string]string{"app": "db"},
			Annotations:   map[string]string{corev1.LastAppliedConfigAnnotation: `{"data":{"password":"aHVudGVyMg=="}}`},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}}},
	}
	out, err := namesOnly(in)
	if err != nil {
		t.Fatal(err)
	}
	m := out.(*metav1.PartialObjectMetadata)
	if m.Annotations != nil || m.ManagedFields != nil || m.Labels != nil {
		t.Errorf("kept %v %v %v", m.Annotations, m.ManagedFields, m.Labels)
	}
	if key, _ := cache.MetaNamespaceKeyFunc(m); key != "shop/db" || m.UID != "u1" || m.ResourceVersion != "7" {
		t.Errorf("identity lost: %s %s %s", key, m.UID, m.ResourceVersion)
	}
	if in.Annotations == nil {
		t.Error("the input was modified (informers may share it)")
	}
	tomb := cache.DeletedFinalStateUnknown{Key: "shop/db", Obj: m}
	if got, _ := namesOnly(tomb); got != any(tomb) {
		t.Errorf("tombstone changed: %#v", got)
	}
}
