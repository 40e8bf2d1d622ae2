package v1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// Defaults of StrandingAwarePackingArgs.
const (
	DefaultExtendedResourceWeight int64 = 1
	DefaultPackingWeight          int64 = 1
	DefaultStrandingWeight        int64 = 2
	DefaultMaxLearnedShapes       int32 = 16
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
