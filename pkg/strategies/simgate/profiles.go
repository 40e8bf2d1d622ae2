package simgate

import (
	"fmt"
	"os"
	"sort"

	corev1 "k8s.io/api/core/v1"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"

	"github.com/snug-sched/snug/manifests"
	"github.com/snug-sched/snug/pkg/simulator"
)

// Profiles maps a pod's spec.schedulerName to the scheduler profile that
// will place its replacement.
type Profiles map[string]*schedconfig.KubeSchedulerProfile

// LoadProfiles returns upstream's default profile for default-scheduler,
// snug's shipped profile for snug-scheduler, and then every profile of each
// KubeSchedulerConfiguration file in paths, later files overriding earlier
// names. A file that does not decode is an error naming the file: the
// descheduler must not evict with a model of a scheduler it could not read.
func LoadProfiles(paths []string) (Profiles, error) {
	def, err := simulator.DefaultProfile()
	if err != nil {
		return nil, err
	}
	snug, err := simulator.SnugProfile()
	if err != nil {
		return nil, err
	}
	out := Profiles{corev1.DefaultSchedulerName: def, manifests.SchedulerName: snug}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--scheduler-config: %w", err)
		}
		cfg, err := simulator.DecodeConfig(data)
		if err != nil {
			return nil, fmt.Errorf("--scheduler-config %s: %w", path, err)
		}
		for _, prof := range simulator.ConfigProfiles(cfg) {
			out[prof.SchedulerName] = prof
		}
	}
	return out, nil
}

// Names returns the scheduler names in order.
func (p Profiles) Names() []string {
	var names []string
	for n := range p {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
