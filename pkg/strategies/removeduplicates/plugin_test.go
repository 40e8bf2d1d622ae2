package removeduplicates

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	. "github.com/snug-sched/snug/pkg/strategies/internal/strategytest"
)

func TestRemoveDuplicates(t *testing.T) {
	const def = corev1.DefaultSchedulerName
	hostPort := func(p *corev1.Pod) *corev1.Pod {
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}}
		return p
	}
	tests := []struct {
		name string
		objs []runtime.Object
		want int
	}{{
		name: "two replicas on one node, an empty node: one moves",
		objs: []runtime.Object{Node("a", "4", "8Gi", nil), Node("b", "4", "8Gi", nil),
			Pod("web-1", "web", "a", def, "1", "1Gi"), Pod("web-2", "web", "a", def, "1", "1Gi")},
		want: 1,
	}, {
		// Upstream's RemoveDuplicates checks taints and selectors but not
		// requests: it would evict into a Pending replacement.
		name: "the other node has no room: nothing moves",
		objs: []runtime.Object{Node("a", "4", "8Gi", nil), Node("b", "4", "8Gi", nil),
			Pod("web-1", "web", "a", def, "1", "1Gi"), Pod("web-2", "web", "a", def, "1", "1Gi"),
			Pod("big", "big", "b", def, "3500m", "1Gi")},
		want: 0,
	}, {
		name: "host port taken on the other node: nothing moves",
		objs: []runtime.Object{Node("a", "4", "8Gi", nil), Node("b", "4", "8Gi", nil),
			hostPort(Pod("web-1", "web", "a", def, "1", "1Gi")), hostPort(Pod("web-2", "web", "a", def, "1", "1Gi")),
			hostPort(Pod("other", "other", "b", def, "100m", "1Gi"))},
		want: 0,
	}, {
		name: "three replicas, two nodes: one moves, the third stays (more replicas than places)",
		objs: []runtime.Object{Node("a", "4", "8Gi", nil), Node("b", "4", "8Gi", nil),
			Pod("web-1", "web", "a", def, "1", "1Gi"), Pod("web-2", "web", "a", def, "1", "1Gi"), Pod("web-3", "web", "a", def, "1", "1Gi")},
		want: 1,
	}, {
		// snug's profile packs within a zone: the replacement would come
		// straight back, so evicting is futile.
		name: "snug-scheduler pods, one zone: snug would put it back, nothing moves",
		objs: []runtime.Object{Node("a", "4", "8Gi", zone("z1")), Node("b", "4", "8Gi", zone("z1")),
			Pod("web-1", "web", "a", "snug-scheduler", "1", "1Gi"), Pod("web-2", "web", "a", "snug-scheduler", "1", "1Gi")},
		want: 0,
	}, {
		// ... but spreads across zones before it packs.
		name: "snug-scheduler pods, two zones: one moves to the other zone",
		objs: []runtime.Object{Node("a", "4", "8Gi", zone("z1")), Node("b", "4", "8Gi", zone("z2")),
			Pod("web-1", "web", "a", "snug-scheduler", "1", "1Gi"), Pod("web-2", "web", "a", "snug-scheduler", "1", "1Gi")},
		want: 1,
	}, {
		name: "pods of an unknown scheduler are left alone",
		objs: []runtime.Object{Node("a", "4", "8Gi", nil), Node("b", "4", "8Gi", nil),
			Pod("web-1", "web", "a", "someone-else", "1", "1Gi"), Pod("web-2", "web", "a", "someone-else", "1", "1Gi")},
		want: 0,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := &Args{}
			SetDefaults(args)
			res := Run(t, New, args, false, append(tc.objs, ReplicaSet("web"), ReplicaSet("big"), ReplicaSet("other"))...)
			if len(res.Evicted) != tc.want {
				t.Fatalf("evicted %v, want %d; plan %+v", res.Evicted, tc.want, res.Plan)
			}
			for _, m := range res.Plan {
				if m.To == m.From {
					t.Errorf("move back onto its own node: %+v", m)
				}
			}
		})
	}
}

func zone(z string) map[string]string { return map[string]string{corev1.LabelTopologyZone: z} }
