package config

import (
	"k8s.io/apimachinery/pkg/runtime"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
)

// SchemeGroupVersion is the internal version of the kube-scheduler config group.
var SchemeGroupVersion = schedconfig.SchemeGroupVersion

var (
	// localSchemeBuilder is upstream's builder: registering into it puts snug's
	// args into every scheme the kube-scheduler builds from it, including the
	// lazily built scheme it converts plugin args with.
	localSchemeBuilder = &schedconfig.SchemeBuilder
	// AddToScheme registers snug's internal args types.
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
	localSchemeBuilder.Register(addKnownTypes)
}
