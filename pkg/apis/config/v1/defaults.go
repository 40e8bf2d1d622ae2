package v1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// Defaults of StrandingAwarePackingArgs.
const (
	DefaultExtendedResourceWeight int64 = 1
	DefaultPackingWeight          int64 = 1
	DefaultStrandingWeight        int64 = 16
	DefaultStrandedLevelWeight    int64 = 4
	DefaultHostScarcityWeight     int64 = 16
	DefaultScarceBundleWeight     int64 = 16
	DefaultFragmentationWeight    int64 = 50
	DefaultMaxLearnedShapes       int32 = 64
	DefaultShapeSourceMode              = ShapeSourceMode("Learned")
)

// DefaultResources are the resources weighed when none are listed.
func DefaultResources() []ResourceWeight {
	return []ResourceWeight{
		{Name: corev1.ResourceCPU, Weight: 1},
		{Name: corev1.ResourceMemory, Weight: 1},
		{Name: corev1.ResourceEphemeralStorage, Weight: 1},
		{Name: corev1.ResourcePods, Weight: 1},
	}
}

// SetDefaults_StrandingAwarePackingArgs fills unset fields.
func SetDefaults_StrandingAwarePackingArgs(obj *StrandingAwarePackingArgs) {
	if len(obj.Resources) == 0 {
		obj.Resources = DefaultResources()
	}
	if obj.ExtendedResourceWeight == nil {
		obj.ExtendedResourceWeight = ptr.To(DefaultExtendedResourceWeight)
	}
	if obj.PackingWeight == nil {
		obj.PackingWeight = ptr.To(DefaultPackingWeight)
	}
	if obj.StrandingWeight == nil {
		obj.StrandingWeight = ptr.To(DefaultStrandingWeight)
	}
	if obj.StrandedLevelWeight == nil {
		obj.StrandedLevelWeight = ptr.To(DefaultStrandedLevelWeight)
	}
	if obj.HostScarcityWeight == nil {
		obj.HostScarcityWeight = ptr.To(DefaultHostScarcityWeight)
	}
	if obj.ScarceBundleWeight == nil {
		obj.ScarceBundleWeight = ptr.To(DefaultScarceBundleWeight)
	}
	if obj.ScarceResources.FragmentationWeight == nil {
		obj.ScarceResources.FragmentationWeight = ptr.To(DefaultFragmentationWeight)
	}
	if obj.ScarceResources.ExtendedResources == nil {
		obj.ScarceResources.ExtendedResources = ptr.To(true)
	}
	if obj.Shapes.Mode == "" {
		obj.Shapes.Mode = DefaultShapeSourceMode
	}
	if obj.DefaultConstraints == nil {
		obj.DefaultConstraints = DefaultSpreadConstraints()
	}
	if obj.Shapes.MaxLearned == nil {
		obj.Shapes.MaxLearned = ptr.To(DefaultMaxLearnedShapes)
	}
}

// DefaultSpreadConstraints balance a workload's pods across zones (maxSkew 1)
// and leave the nodes inside a zone to packing. Unlike upstream's system
// default there is no hostname constraint: spreading over nodes is exactly
// what fragments a cluster.
func DefaultSpreadConstraints() []corev1.TopologySpreadConstraint {
	return []corev1.TopologySpreadConstraint{{
		MaxSkew:           1,
		TopologyKey:       corev1.LabelTopologyZone,
		WhenUnsatisfiable: corev1.ScheduleAnyway,
	}}
}

// SetDefaults_PredictableDemandsArgs fills unset fields.
func SetDefaults_PredictableDemandsArgs(obj *PredictableDemandsArgs) {
	g := &obj.DependencyGate
	for p, v := range map[**bool]bool{&g.Enabled: true, &g.ConfigMaps: true, &g.Secrets: false, &g.ImagePullSecrets: false, &g.PVCs: true} {
		if *p == nil {
			*p = ptr.To(v)
		}
	}
	if len(obj.DeclaredDemands.Resources) == 0 {
		obj.DeclaredDemands.Resources = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory}
	}
	// OvercommitCaps.Caps has no default: caps are opt-in. A cap counts
	// every pod on the node, those of other schedulers and DaemonSets
	// included, so a default cap would refuse snug's pods on every node of a
	// cluster that already runs its limits above it (memory limits at 1.5x
	// allocatable are common) the moment snug is installed.
}

// SetDefaults_QoSAwarePreemptionArgs fills unset fields; the candidate
// bounds are upstream DefaultPreemption's.
func SetDefaults_QoSAwarePreemptionArgs(obj *QoSAwarePreemptionArgs) {
	if obj.PDBMode == "" {
		obj.PDBMode = "Respect"
	}
	if obj.MinCandidateNodesPercentage == nil {
		obj.MinCandidateNodesPercentage = ptr.To[int32](10)
	}
	if obj.MinCandidateNodesAbsolute == nil {
		obj.MinCandidateNodesAbsolute = ptr.To[int32](100)
	}
}
