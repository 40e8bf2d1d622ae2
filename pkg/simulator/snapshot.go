package simulator

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
)

// snapshot is the simulator's cluster state and the framework's
// SharedLister. Unlike the scheduler's cache snapshot it is updated in
// place, with an undo journal for Fork/Revert.
type snapshot struct {
	nodes map[string]*framework.NodeInfo
	list  []fwk.NodeInfo // sorted by name: deterministic iteration

	affinityDirty          bool
	withAffinity, withAnti []fwk.NodeInfo
	pvcRefs                map[string]int
}

func newSnapshot() *snapshot {
	return &snapshot{nodes: map[string]*framework.NodeInfo{}, pvcRefs: map[string]int{}}
}

func (s *snapshot) addNode(node *corev1.Node) error {
	if _, ok := s.nodes[node.Name]; ok {
		return fmt.Errorf("node %q already exists", node.Name)
	}
	ni := framework.NewNodeInfo()
	ni.SetNode(node)
	s.nodes[node.Name] = ni
	i := sort.Search(len(s.list), func(i int) bool { return s.list[i].Node().Name >= node.Name })
	s.list = append(s.list, nil)
	copy(s.list[i+1:], s.list[i:])
	s.list[i] = ni
	s.affinityDirty = true
	return nil
}

func (s *snapshot) removeNode(name string) {
	delete(s.nodes, name)
	i := sort.Search(len(s.list), func(i int) bool { return s.list[i].Node().Name >= name })
	if i < len(s.list) && s.list[i].Node().Name == name {
		s.list = append(s.list[:i], s.list[i+1:]...)
	}
	s.affinityDirty = true
}

func (s *snapshot) addPod(pod *corev1.Pod) error {
	ni, ok := s.nodes[pod.Spec.NodeName]
	if !ok {
		return fmt.Errorf("pod %s/%s: node %q not found", pod.Namespace, pod.Name, pod.Spec.NodeName)
	}
	pi, err := framework.NewPodInfo(pod)
	if err != nil {
		return err
	}
	ni.AddPodInfo(pi)
	s.pvc(pod, 1)
	if hasAffinity(pod) {
		s.affinityDirty = true
	}
	return nil
}

func (s *snapshot) removePod(pod *corev1.Pod) error {
	ni, ok := s.nodes[pod.Spec.NodeName]
	if !ok {
		return fmt.Errorf("pod %s/%s: node %q not found", pod.Namespace, pod.Name, pod.Spec.NodeName)
	}
	if err := ni.RemovePod(klogDiscard, pod); err != nil {
		return err
	}
	s.pvc(pod, -1)
	if hasAffinity(pod) {
		s.affinityDirty = true
	}
	return nil
}

func (s *snapshot) pvc(pod *corev1.Pod, d int) {
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			k := pod.Namespace + "/" + v.PersistentVolumeClaim.ClaimName
			s.pvcRefs[k] += d
			if s.pvcRefs[k] <= 0 {
				delete(s.pvcRefs, k)
			}
		}
	}
}

func hasAffinity(p *corev1.Pod) bool {
	a := p.Spec.Affinity
	return a != nil && (a.PodAffinity != nil || a.PodAntiAffinity != nil)
}

func (s *snapshot) refreshAffinity() {
	if !s.affinityDirty {
		return
	}
	s.withAffinity, s.withAnti = s.withAffinity[:0], s.withAnti[:0]
	for _, ni := range s.list {
		if len(ni.GetPodsWithAffinity()) > 0 {
			s.withAffinity = append(s.withAffinity, ni)
		}
		if len(ni.GetPodsWithRequiredAntiAffinity()) > 0 {
			s.withAnti = append(s.withAnti, ni)
		}
	}
	s.affinityDirty = false
}

// fwk.SharedLister

func (s *snapshot) NodeInfos() fwk.NodeInfoLister           { return s }
func (s *snapshot) StorageInfos() fwk.StorageInfoLister     { return s }
func (s *snapshot) PodGroupStates() fwk.PodGroupStateLister { return noPodGroups{} }

func (s *snapshot) List() ([]fwk.NodeInfo, error) { return s.list, nil }

// The affinity lists are refreshed by the simulator before each cycle, so
// readers (possibly parallel) never mutate the snapshot.
func (s *snapshot) HavePodsWithAffinityList() ([]fwk.NodeInfo, error) { return s.withAffinity, nil }

func (s *snapshot) HavePodsWithRequiredAntiAffinityList() ([]fwk.NodeInfo, error) {
	return s.withAnti, nil
}

func (s *snapshot) Get(name string) (fwk.NodeInfo, error) {
	if ni, ok := s.nodes[name]; ok {
		return ni, nil
	}
	return nil, fmt.Errorf("nodeinfo not found for node name %q", name)
}

func (s *snapshot) IsPVCUsedByPods(key string) bool { return s.pvcRefs[key] > 0 }

type noPodGroups struct{}

func (noPodGroups) Get(namespace, name string) (fwk.PodGroupState, error) {
	return nil, fmt.Errorf("pod group %s/%s not found: the simulator has no pod groups", namespace, name)
}
