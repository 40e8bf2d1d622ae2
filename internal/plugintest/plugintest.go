// Package plugintest holds what the tests of snug's scheduler plugins share:
// defaulted args as the scheduler builds them, and a real framework that is
// shut down when the test ends.
package plugintest

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	fwk "k8s.io/kube-scheduler/framework"
	schedulerconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	kubeschedulerscheme "k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	"k8s.io/kubernetes/pkg/scheduler/metrics"
)

// Defaulted returns the internal args T converted from the versioned v1
// after its defaults were applied, as the scheduler builds args from an
// empty pluginConfig entry.
func Defaulted[T any](t testing.TB, v1 runtime.Object) *T {
	t.Helper()
	kubeschedulerscheme.Scheme.Default(v1)
	out := new(T)
	if err := kubeschedulerscheme.Scheme.Convert(v1, out, nil); err != nil {
		t.Fatal(err)
	}
	return out
}

// Capturing wraps a plugin factory so that the plugin it builds is also
// stored in *out, for tests that call the plugin directly.
func Capturing[P fwk.Plugin](f frameworkruntime.PluginFactory, out *P) frameworkruntime.PluginFactory {
	return func(ctx context.Context, obj runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
		p, err := f(ctx, obj, h)
		if err == nil {
			*out = p.(P)
		}
		return p, err
	}
}

// NewFramework builds a framework of profile over registry. When the test
// ends it cancels ctx, waits for the framework to shut down and shuts the
// informer factory down (when not nil). The metrics recorder flushes every
// 10 ms, so that the wait does not take a second per framework.
func NewFramework(t testing.TB, ctx context.Context, cancel context.CancelFunc, registry frameworkruntime.Registry,
	profile *schedulerconfig.KubeSchedulerProfile, factory informers.SharedInformerFactory, opts ...frameworkruntime.Option) framework.Framework {
	t.Helper()
	opts = append(opts, frameworkruntime.WithMetricsRecorder(metrics.NewMetricsAsyncRecorder(1000, 10*time.Millisecond, ctx.Done())))
	if factory != nil {
		opts = append(opts, frameworkruntime.WithInformerFactory(factory))
	}
	fw, err := frameworkruntime.NewFramework(ctx, registry, profile, opts...)
	if err != nil {
		cancel()
		t.Fatalf("NewFramework: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		frameworkruntime.WaitForShutdown(fw)
		if factory != nil {
			factory.Shutdown()
		}
	})
	return fw
}
