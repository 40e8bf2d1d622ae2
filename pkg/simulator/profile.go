package simulator

import (
	"fmt"
	"os"

	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/apis/config/latest"
	"k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"
	"k8s.io/kubernetes/pkg/scheduler/apis/config/validation"

	"github.com/snug-sched/snug/manifests"
	_ "github.com/snug-sched/snug/pkg/apis/config/scheme" // snug's plugin args
)

// DecodeConfig decodes a KubeSchedulerConfiguration strictly, with defaults,
// as the kube-scheduler does.
func DecodeConfig(data []byte) (*schedconfig.KubeSchedulerConfiguration, error) {
	obj, gvk, err := scheme.Codecs.UniversalDecoder().Decode(data, nil, nil)
	if err != nil {
		return nil, err
	}
	cfg, ok := obj.(*schedconfig.KubeSchedulerConfiguration)
	if !ok {
		return nil, fmt.Errorf("got %s, want KubeSchedulerConfiguration", gvk)
	}
	if err := validation.ValidateKubeSchedulerConfiguration(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// LoadProfile returns the named profile of a KubeSchedulerConfiguration
// file ("" picks the only profile).
func LoadProfile(path, name string) (*schedconfig.KubeSchedulerProfile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg, err := DecodeConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pickProfile(cfg, name, path)
}

// SnugProfile is the shipped snug-scheduler profile (manifests/).
func SnugProfile() (*schedconfig.KubeSchedulerProfile, error) {
	cfg, err := DecodeConfig(manifests.SchedulerConfig)
	if err != nil {
		return nil, fmt.Errorf("shipped scheduler config: %w", err)
	}
	return pickProfile(cfg, manifests.SchedulerName, "manifests/scheduler-config.yaml")
}

// DefaultProfile is kube-scheduler's default profile (default-scheduler).
func DefaultProfile() (*schedconfig.KubeSchedulerProfile, error) {
	cfg, err := latest.Default()
	if err != nil {
		return nil, err
	}
	return pickProfile(cfg, "", "kube-scheduler defaults")
}

// pickProfile returns the named profile ("" picks the only one) as
// ConfigProfiles returns it.
func pickProfile(cfg *schedconfig.KubeSchedulerConfiguration, name, source string) (*schedconfig.KubeSchedulerProfile, error) {
	for _, p := range ConfigProfiles(cfg) {
		if p.SchedulerName == name || name == "" && len(cfg.Profiles) == 1 {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%s: no profile %q", source, name)
}

// ConfigProfiles returns the configuration's profiles, each carrying the
// configuration's global percentageOfNodesToScore when it sets none, as the
// scheduler applies it; the simulator samples nodes with it.
func ConfigProfiles(cfg *schedconfig.KubeSchedulerConfiguration) []*schedconfig.KubeSchedulerProfile {
	out := make([]*schedconfig.KubeSchedulerProfile, len(cfg.Profiles))
	for i := range cfg.Profiles {
		p := &cfg.Profiles[i]
		if p.PercentageOfNodesToScore == nil && cfg.PercentageOfNodesToScore != nil {
			pct := *cfg.PercentageOfNodesToScore
			p.PercentageOfNodesToScore = &pct
		}
		out[i] = p
	}
	return out
}
