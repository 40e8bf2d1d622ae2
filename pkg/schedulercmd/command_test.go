package schedulercmd

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/spf13/pflag"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/kubernetes/cmd/kube-scheduler/app"
	"k8s.io/kubernetes/cmd/kube-scheduler/app/options"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"

	"github.com/snug-sched/snug/manifests"
	"github.com/snug-sched/snug/pkg/plugins"
)

// The shipped configuration goes through the scheduler's own loading
// (snug's default-config path, then upstream's options, validation and
// scheduler construction with snug's registry) and yields the snug-scheduler
// profile; the lease it leader-elects on and the ConfigMap watch of its
// dependency gate are granted by the shipped RBAC.
func TestShippedConfigLoads(t *testing.T) {
	dir := t.TempDir()
	// Never contacted by Setup; the gate's informers, started by the plugin,
	// fail to connect until the context ends.
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := NewCommand()
	// Upstream's deprecated flags, which upstream ignores once --config is
	// set, reach the configuration snug writes.
	for flag, v := range map[string]string{"kubeconfig": kubeconfig, "kube-api-qps": "7", "kube-api-burst": "9",
		"kube-api-content-type": "application/json", "profiling": "false", "contention-profiling": "false"} {
		if err := cmd.Flags().Set(flag, v); err != nil {
			t.Fatal(err)
		}
	}
	path, err := writeShippedConfig(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(filepath.Dir(path))

	opts := options.NewOptions()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	for _, f := range opts.Flags.FlagSets {
		fs.AddFlagSet(f)
	}
	if err := fs.Parse([]string{"--config=" + path}); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	opts.SecureServing.Listener = l
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cc, sched, err := app.Setup(ctx, opts, plugins.RegistryOptions()...)
	if err != nil {
		t.Fatalf("shipped config: %v", err)
	}

	if len(sched.Profiles) != 1 || sched.Profiles[manifests.SchedulerName] == nil {
		t.Fatalf("profiles %v, want only %s", keys(sched.Profiles), manifests.SchedulerName)
	}
	got := sched.Profiles[manifests.SchedulerName].ListPlugins()
	if !hasPlugin(got.PreEnqueue, "PredictableDemands", 0) || !hasPlugin(got.Filter, "PredictableDemands", 0) {
		t.Errorf("PredictableDemands not at PreEnqueue and Filter: %+v %+v", got.PreEnqueue, got.Filter)
	}
	if !hasPlugin(got.Score, "StrandingAwarePacking", 10) {
		t.Errorf("StrandingAwarePacking not scoring with weight 10: %+v", got.Score)
	}
	for _, off := range []string{"NodeResourcesFit", "NodeResourcesBalancedAllocation", "PodTopologySpread"} {
		if hasPlugin(got.Score, off, -1) {
			t.Errorf("%s scores in the shipped profile: %+v", off, got.Score)
		}
	}
	if !hasPlugin(got.PostFilter, "QoSAwarePreemption", -1) || hasPlugin(got.PostFilter, "DefaultPreemption", -1) {
		t.Errorf("PostFilter = %+v, want QoSAwarePreemption instead of DefaultPreemption", got.PostFilter.Enabled)
	}

	if c := cc.ComponentConfig; c.ClientConnection.QPS != 7 || c.ClientConnection.Burst != 9 ||
		c.ClientConnection.ContentType != "application/json" || c.EnableProfiling || c.EnableContentionProfiling {
		t.Errorf("deprecated flags not applied: clientConnection %+v, profiling %v, contention %v",
			c.ClientConnection, c.EnableProfiling, c.EnableContentionProfiling)
	}
	le := cc.ComponentConfig.LeaderElection
	if !le.LeaderElect || le.ResourceName != "snug-scheduler" || le.ResourceNamespace != "kube-system" {
		t.Errorf("leader election %+v, want on lease kube-system/snug-scheduler", le)
	}
	rules := shippedClusterRole(t, "snug-scheduler")
	if !grants(rules, "coordination.k8s.io", "leases", le.ResourceName, "get", "update") || !grants(rules, "coordination.k8s.io", "leases", "", "create") {
		t.Errorf("ClusterRole snug-scheduler does not let the scheduler create and hold lease %s: %+v", le.ResourceName, rules)
	}
	if !grants(rules, "", "configmaps", "", "list", "watch") {
		t.Errorf("ClusterRole snug-scheduler does not let the dependency gate watch ConfigMaps: %+v", rules)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// hasPlugin reports whether set enables name with weight (any weight if < 0).
func hasPlugin(set schedconfig.PluginSet, name string, weight int32) bool {
	return slices.ContainsFunc(set.Enabled, func(p schedconfig.Plugin) bool {
		return p.Name == name && (weight < 0 || p.Weight == weight)
	})
}

// shippedClusterRole reads the ClusterRole from manifests/scheduler/rbac.yaml.
func shippedClusterRole(t *testing.T, name string) []rbacv1.PolicyRule {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "manifests", "scheduler", "rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var role rbacv1.ClusterRole
		if err := dec.Decode(&role); err != nil {
			t.Fatalf("no ClusterRole %s in manifests/scheduler/rbac.yaml: %v", name, err)
		}
		if role.Kind == "ClusterRole" && role.Name == name {
			return role.Rules
		}
	}
}

// grants reports whether one rule allows all verbs on the resource (and the
// name, if given) in the API group.
func grants(rules []rbacv1.PolicyRule, group, resource, name string, verbs ...string) bool {
	return slices.ContainsFunc(rules, func(r rbacv1.PolicyRule) bool {
		for _, v := range verbs {
			if !slices.Contains(r.Verbs, v) {
				return false
			}
		}
		return slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) &&
			(len(r.ResourceNames) == 0 || slices.Contains(r.ResourceNames, name))
	})
}
