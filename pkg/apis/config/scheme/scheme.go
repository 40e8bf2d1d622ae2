// Package scheme adds snug's plugin args to the kube-scheduler's config
// scheme. Importing it is enough: a KubeSchedulerConfiguration loaded by the
// kube-scheduler command then decodes snug's args strictly (unknown fields are
// errors), defaults them, and converts them to the internal types.
package scheme

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	kubeschedulerscheme "k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"

	"github.com/snug-sched/snug/pkg/apis/config"
	configv1 "github.com/snug-sched/snug/pkg/apis/config/v1"
)

// Scheme is the kube-scheduler's own scheme, so one decoder serves both
// upstream and snug args.
var Scheme = kubeschedulerscheme.Scheme

func init() {
	// The kube-scheduler scheme package may have initialised before snug's
	// types joined upstream's scheme builders, so add them again here.
	AddToScheme(Scheme)
}

// AddToScheme registers internal and v1 snug args in a scheme.
func AddToScheme(s *runtime.Scheme) {
	utilruntime.Must(config.AddToScheme(s))
	utilruntime.Must(configv1.AddToScheme(s))
}
