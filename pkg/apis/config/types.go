package config

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// StrandingAwarePackingArgs configures the StrandingAwarePacking score plugin.
type StrandingAwarePackingArgs struct {
	metav1.TypeMeta

	// Resources are the resources the model weighs, with their weights.
	Resources []ResourceWeight
	// ExtendedResourceWeight is the weight of an extended resource (such as
	// nvidia.com/gpu) that the pod requests or the node exposes but that is
	// not listed in Resources. 0 ignores unlisted extended resources.
	ExtendedResourceWeight int64
	// PackingWeight weighs how full the node is after placement.
	PackingWeight int64
	// StrandingWeight weighs the change of the node's expected
	// fragmentation (pkg/stranding).
	StrandingWeight int64
	// StrandedLevelWeight weighs the share of the node's capacity left
	// stranded after placement.
	StrandedLevelWeight int64
	// HostScarcityWeight weighs taking away one of the last nodes a shape
	// requesting a scarce resource, or needing more than half of the
	// largest node, fits on that its pending pods leave spare.
	HostScarcityWeight int64
	// ScarceBundleWeight weighs the scarce capacity a placement leaves
	// without the other resources its pods need beside it, less the
	// capacity a light pod takes that its node could not serve.
	ScarceBundleWeight int64
	// ScarceResources are resources that pods not requesting them avoid.
	ScarceResources ScarceResources
	// Shapes says which pod shapes the stranding model judges free capacity against.
	Shapes ShapeSource
	// DefaultConstraints are the soft spread constraints of pods that set
	// none, with the selector of the pod's owning workload.
	DefaultConstraints []corev1.TopologySpreadConstraint
}

// ResourceWeight is a resource name and its weight in the model.
type ResourceWeight struct {
	Name   corev1.ResourceName
	Weight int64
}

// ScarceResources selects the resources a pod avoids when it does not request them.
type ScarceResources struct {
	// ExtendedResources makes every extended resource scarce.
	ExtendedResources bool
	// Names are further scarce resources.
	Names []corev1.ResourceName
	// FragmentationWeight multiplies a scarce resource's weight in the
	// fragmentation term.
	FragmentationWeight int64
}

// ShapeSourceMode says where pod shapes come from.
type ShapeSourceMode string

const (
	// ShapeSourceLearned learns shapes from the pods the scheduler sees
	// (pending and bound), merged with any static Shapes.
	ShapeSourceLearned ShapeSourceMode = "Learned"
	// ShapeSourceStatic uses only the static Shapes.
	ShapeSourceStatic ShapeSourceMode = "Static"
)

// ShapeSource configures the pod shapes of the stranding model.
type ShapeSource struct {
	Mode ShapeSourceMode
	// Static lists shapes given by the operator.
	Static []PodShape
	// MaxLearned bounds the number of learned shapes (the most frequent are
	// kept, by pods per node they may use).
	MaxLearned int32
}

// PodShape is a pod's effective resource requests.
type PodShape struct {
	Name     string
	Requests corev1.ResourceList
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PredictableDemandsArgs configures the PredictableDemands plugin.
type PredictableDemandsArgs struct {
	metav1.TypeMeta

	DependencyGate  DependencyGate
	DeclaredDemands DeclaredDemands
	OvercommitCaps  OvercommitCaps
}

// DependencyGate keeps pods out of the scheduling queue while objects they
// need to start are missing.
type DependencyGate struct {
	Enabled          bool
	ConfigMaps       bool
	Secrets          bool
	ImagePullSecrets bool
	PVCs             bool
}

// DeclaredDemands refuses pods that do not declare their requests.
type DeclaredDemands struct {
	// NamespaceSelector selects the namespaces where demands are enforced;
	// nil enforces nowhere.
	NamespaceSelector *metav1.LabelSelector
	// Resources every container must request.
	Resources []corev1.ResourceName
	// MaxLimitRequestRatio bounds limit/request per container and resource.
	MaxLimitRequestRatio []ResourceRatio
}

// ResourceRatio is a resource name and a ratio.
type ResourceRatio struct {
	Resource corev1.ResourceName
	Ratio    resource.Quantity
}

// OvercommitCaps bound the sum of limits on a node.
type OvercommitCaps struct {
	// Caps: sum of limits of the node's pods plus the incoming pod's must
	// stay within Ratio x allocatable. Empty (the default) disables the caps.
	Caps []ResourceRatio
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// QoSAwarePreemptionArgs configures the QoSAwarePreemption plugin.
type QoSAwarePreemptionArgs struct {
	metav1.TypeMeta

	// PDBMode is Respect (never violate a PodDisruptionBudget) or Prefer.
	PDBMode PDBMode
	// MinCandidateNodesPercentage and MinCandidateNodesAbsolute bound the
	// dry run as in DefaultPreemptionArgs.
	MinCandidateNodesPercentage int32
	MinCandidateNodesAbsolute   int32
}

// PDBMode says how preemption treats PodDisruptionBudgets.
type PDBMode string

const (
	// PDBRespect never chooses victims that would violate a PDB.
	PDBRespect PDBMode = "Respect"
	// PDBPrefer avoids violations when it can, as upstream does.
	PDBPrefer PDBMode = "Prefer"
)
