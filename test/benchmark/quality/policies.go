package quality

import (
	"context"
	"embed"
	"fmt"
	"os"
	"sync"

	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/kubernetes/pkg/features"

	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"

	"github.com/snug-sched/snug/manifests"
	"github.com/snug-sched/snug/pkg/simulator"
)

//go:embed profiles/*.yaml
var profileFiles embed.FS

// Policy is one placement policy under comparison: a scheduler profile and
// the extra plugins it needs.
type Policy struct {
	// Name as in the tables (the profile's schedulerName).
	Name string
	// Source says where the profile comes from.
	Source  string
	Profile *schedconfig.KubeSchedulerProfile
	// Heuristic is true for the benchmark-only reference heuristics.
	Heuristic bool
	seed      uint64
}

// SnugPolicy is the name of snug's shipped profile in the tables.
const SnugPolicy = "snug"

// policyFiles are the upstream and heuristic profiles, in table order.
var policyFiles = []struct {
	file      string
	heuristic bool
}{
	{"least-allocated.yaml", false},
	{"most-allocated.yaml", false},
	{"requested-to-capacity-ratio.yaml", false},
	{"balanced-allocation.yaml", false},
	{"best-fit.yaml", true},
	{"tetris.yaml", true},
	{"random.yaml", true},
}

// Policies returns the eight policies, snug's last. seed drives the random
// policy.
func Policies(seed uint64) ([]Policy, error) {
	var out []Policy
	for _, f := range policyFiles {
		data, err := profileFiles.ReadFile("profiles/" + f.file)
		if err != nil {
			return nil, err
		}
		cfg, err := simulator.DecodeConfig(data)
		if err != nil {
			return nil, fmt.Errorf("profiles/%s: %w", f.file, err)
		}
		if len(cfg.Profiles) != 1 {
			return nil, fmt.Errorf("profiles/%s: want one profile, got %d", f.file, len(cfg.Profiles))
		}
		p := &cfg.Profiles[0]
		out = append(out, Policy{Name: p.SchedulerName, Source: "test/benchmark/quality/profiles/" + f.file, Profile: p, Heuristic: f.heuristic, seed: seed})
	}
	snug, err := simulator.SnugProfile()
	if err != nil {
		return nil, err
	}
	out = append(out, Policy{Name: SnugPolicy, Source: "simulator.SnugProfile() (manifests/scheduler-config.yaml)", Profile: snug, seed: seed})
	return out, nil
}

// replaceSnugProfile swaps the snug policy's profile for the snug-scheduler
// profile of a KubeSchedulerConfiguration file.
func replaceSnugProfile(pols []Policy, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	cfg, err := simulator.DecodeConfig(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, p := range simulator.ConfigProfiles(cfg) {
		if p.SchedulerName != manifests.SchedulerName {
			continue
		}
		for i := range pols {
			if pols[i].Name == SnugPolicy {
				pols[i].Profile, pols[i].Source = p, path
			}
		}
		return nil
	}
	return fmt.Errorf("%s: no profile %q", path, manifests.SchedulerName)
}

// NewSimulator builds a fresh simulator of the policy (no nodes). It scores
// every feasible node, so policies are compared on their decisions rather
// than on which sample kube-scheduler's node sampling happened to take.
func (p Policy) NewSimulator(ctx context.Context) (*simulator.Simulator, error) {
	if err := disableDRAExtendedResource(); err != nil {
		return nil, err
	}
	return simulator.New(ctx, p.Profile, simulator.Options{Registry: HeuristicRegistry(p.seed), ScoreAllNodes: true})
}

var draOnce = sync.OnceValue(func() error {
	return utilfeature.DefaultMutableFeatureGate.SetFromMap(map[string]bool{string(features.DRAExtendedResource): false})
})

// disableDRAExtendedResource turns off the DRAExtendedResource feature gate
// (beta, on by default in Kubernetes 1.36) for this process. With it on,
// NodeResourcesFit and NodeResourcesBalancedAllocation ask the framework's
// DRA manager about every extended resource they score (nvidia.com/gpu in
// the MostAllocated, RequestedToCapacityRatio and BalancedAllocation
// profiles), and the simulator, which models no DRA, has none: PreScore
// dereferences nil. With the gate off, extended resources are counted from
// node allocatable as in a cluster without DRA, which is what the simulator
// models anyway.
func disableDRAExtendedResource() error { return draOnce() }
