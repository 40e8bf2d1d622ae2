package v1

import (
	"k8s.io/apimachinery/pkg/runtime"
	schedconfigv1 "k8s.io/kube-scheduler/config/v1"
)

// SchemeGroupVersion is kubescheduler.config.k8s.io/v1.
var SchemeGroupVersion = schedconfigv1.SchemeGroupVersion

var (
	// localSchemeBuilder is upstream's v1 builder, so the kube-scheduler's
	// config scheme and its plugin-arg conversion scheme both learn snug's types.
	localSchemeBuilder = &schedconfigv1.SchemeBuilder
	// AddToScheme registers snug's v1 args types, defaults and conversions.
	AddToScheme = localSchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion,
		&StrandingAwarePackingArgs{},
		&PredictableDemandsArgs{},
		&QoSAwarePreemptionArgs{},
	)
	return nil
}

func init() {
	// Generated functions register themselves in the generated files.
	localSchemeBuilder.Register(addKnownTypes, RegisterDefaults)
}
