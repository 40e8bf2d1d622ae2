package v1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// StrandingAwarePackingArgs configures the StrandingAwarePacking score plugin.
type StrandingAwarePackingArgs struct {
	metav1.TypeMeta `json:",inline"`

	// Resources are the resources the model weighs, with their weights.
	// Default: cpu, memory, ephemeral-storage and pods, weight 1 each.
	// +listType=map
	// +listMapKey=name
	Resources []ResourceWeight `json:"resources,omitempty"`
	// ExtendedResourceWeight weighs extended resources (nvidia.com/gpu, ...)
	// that the pod requests or the node exposes but Resources does not list.
	// 0 leaves them out of packing and stranding (they still bound how many
	// shapes fit); whether pods avoid them is scarceResources' business.
	// Default 1.
	ExtendedResourceWeight *int64 `json:"extendedResourceWeight,omitempty"`
	// PackingWeight weighs how full the node is after placement. Default 1.
	PackingWeight *int64 `json:"packingWeight,omitempty"`
	// StrandingWeight weighs how much the placement changes the node's
	// expected fragmentation: free capacity the next pod, drawn from the
	// cluster's pod shapes by frequency, could not use. Default 16.
	StrandingWeight *int64 `json:"strandingWeight,omitempty"`
	// StrandedLevelWeight weighs the share of the node's capacity left
	// stranded after placement (free capacity no single known shape,
	// repeated, can use). It keeps nodes whole: with churn, a pod that
	// leaves a node's remaining capacity usable by the largest shapes wins.
	// Default 4.
	StrandedLevelWeight *int64 `json:"strandedLevelWeight,omitempty"`
	// HostScarcityWeight weighs taking away one of the last nodes a known
	// shape that requests a scarce resource, or needs more than half of the
	// largest node of some resource (at most one fits on a node), fits on:
	// a placement that
	// leaves such a shape one host fewer out of h costs 1/h, so a node that
	// is one of few able to host a large pod (an empty 8-GPU node with the
	// cpu of the largest GPU pods) stays whole while other nodes can take
	// the pod. Hosts that pending pods of the shape (or larger, as
	// constrained) will need do not count, unless the pod being scheduled
	// is such a pod; the largest pending shapes are known however rare
	// (pending: not bound to a node, whichever scheduler the pod names). A
	// penalty in units of the other weights: placements that take no host,
	// or a host every candidate node takes, score as without it. 0 turns it
	// off. Default 16.
	HostScarcityWeight *int64 `json:"hostScarcityWeight,omitempty"`
	// ScarceBundleWeight weighs the scarce capacity a placement leaves
	// without the other resources its pods need beside it. The pods that
	// request a scarce resource (a GPU) need, per unit of it, so much of
	// each other weighed resource on average (their learned shapes'
	// frequency-weighted requests); a node's free GPUs are worth only as
	// many as its free cpu and memory can serve at that mix. A placement
	// costs what it takes from that beyond its own share: a CPU-only pod
	// that takes the cores idle GPUs need, or a GPU pod with few cores on a
	// node whose cores other GPU pods need, and nothing for a pod that uses
	// cores left over beside busy GPUs. It credits a GPU pod lighter than
	// the mix the GPUs it takes of those its node cannot serve, so such pods
	// fill the nodes shortest of cores first and leave the others to the
	// pods that need the cores. On nodes that pods bound to some nodes and
	// requesting a scarce resource may use (GPU models), a pod's own share
	// is its GPUs alone and there is no credit, so few-core pods are not
	// drawn to the nodes of scarce GPU models, which are often short of
	// cores. In units of the other weights, per largest node's worth of the
	// scarce resource. 0 turns it off. Default 16.
	ScarceBundleWeight *int64 `json:"scarceBundleWeight,omitempty"`
	// ScarceResources are resources that pods not requesting them avoid
	// while other feasible nodes exist.
	ScarceResources ScarceResources `json:"scarceResources,omitempty"`
	// Shapes says which pod shapes free capacity is judged against.
	Shapes ShapeSource `json:"shapes,omitempty"`
	// DefaultConstraints are the soft (ScheduleAnyway) spread constraints of
	// pods that set none; the selector is the pod's owning Service,
	// ReplicaSet, StatefulSet or ReplicationController, as in upstream's
	// PodTopologySpread, so labelSelector must be empty. Unset means one
	// constraint on topology.kubernetes.io/zone with maxSkew 1; an empty
	// list disables default spreading.
	// +listType=atomic
	DefaultConstraints []corev1.TopologySpreadConstraint `json:"defaultConstraints,omitempty"`
}

// ResourceWeight is a resource name and its weight in the model.
type ResourceWeight struct {
	// Name of the resource, e.g. cpu, memory, nvidia.com/gpu.
	Name corev1.ResourceName `json:"name"`
	// Weight, 1 to 100.
	Weight int64 `json:"weight"`
}

// ScarceResources selects the resources a pod avoids when it does not request them.
type ScarceResources struct {
	// ExtendedResources makes every extended resource scarce. Default true.
	ExtendedResources *bool `json:"extendedResources,omitempty"`
	// Names are further scarce resources.
	Names []corev1.ResourceName `json:"names,omitempty"`
	// FragmentationWeight multiplies a scarce resource's weight in the
	// fragmentation term: an idle accelerator costs far more than idle
	// cores. 1 to 1000, default 50.
	FragmentationWeight *int64 `json:"fragmentationWeight,omitempty"`
}

// ShapeSourceMode says where pod shapes come from: Learned or Static.
type ShapeSourceMode string

// ShapeSource configures the pod shapes of the stranding model.
type ShapeSource struct {
	// Mode is Learned (from the pods the scheduler sees, pending and bound,
	// plus Static) or Static (only Static). Default Learned.
	Mode ShapeSourceMode `json:"mode,omitempty"`
	// Static lists shapes given by the operator.
	Static []PodShape `json:"static,omitempty"`
	// MaxLearned bounds the number of learned shapes; the most frequent are
	// kept, a shape bound to a few nodes counting its pods per node it may
	// use. 1 to 64, default 64; static shapes take their places first (the
	// model holds 64 shapes).
	MaxLearned *int32 `json:"maxLearned,omitempty"`
}

// PodShape is a pod's effective resource requests.
type PodShape struct {
	// Name identifies the shape in logs and errors.
	Name string `json:"name,omitempty"`
	// Requests of the shape; at least one positive quantity.
	Requests corev1.ResourceList `json:"requests"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PredictableDemandsArgs configures the PredictableDemands plugin: a
// dependency gate, declared demands and overcommit caps, each switchable.
type PredictableDemandsArgs struct {
	metav1.TypeMeta `json:",inline"`

	// DependencyGate keeps a pod out of the scheduling queue while a
	// ConfigMap, Secret or PVC it needs to start does not exist.
	DependencyGate DependencyGate `json:"dependencyGate,omitempty"`
	// DeclaredDemands refuses pods without requests in selected namespaces.
	DeclaredDemands DeclaredDemands `json:"declaredDemands,omitempty"`
	// OvercommitCaps bound the sum of limits on a node.
	OvercommitCaps OvercommitCaps `json:"overcommitCaps,omitempty"`
}

// DependencyGate selects which references gate a pod.
type DependencyGate struct {
	// Enabled turns the gate on. Default true.
	Enabled *bool `json:"enabled,omitempty"`
	// ConfigMaps referenced by env, envFrom, volumes and projected volumes.
	// Default true.
	ConfigMaps *bool `json:"configMaps,omitempty"`
	// Secrets referenced the same way. Default false: watching Secrets
	// (metadata only) needs RBAC list/watch on secrets cluster-wide.
	Secrets *bool `json:"secrets,omitempty"`
	// ImagePullSecrets also gates on spec.imagePullSecrets (needs Secrets).
	// Default false: a missing pull secret often still works for public images.
	ImagePullSecrets *bool `json:"imagePullSecrets,omitempty"`
	// PVCs mounted by the pod. Default true.
	PVCs *bool `json:"pvcs,omitempty"`
}

// DeclaredDemands refuses pods that do not declare their requests.
type DeclaredDemands struct {
	// NamespaceSelector selects the namespaces where demands are enforced.
	// Unset enforces nowhere; {} enforces everywhere.
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	// Resources every container must request. Default cpu and memory.
	Resources []corev1.ResourceName `json:"resources,omitempty"`
	// MaxLimitRequestRatio bounds limit/request per container, as
	// LimitRange's maxLimitRequestRatio does; a container must then set a
	// limit for that resource.
	MaxLimitRequestRatio []ResourceRatio `json:"maxLimitRequestRatio,omitempty"`
}

// ResourceRatio is a resource name and a ratio such as 1, 1.5 or 4.
type ResourceRatio struct {
	Resource corev1.ResourceName `json:"resource"`
	Ratio    resource.Quantity   `json:"ratio"`
}

// OvercommitCaps bound the sum of limits on a node.
type OvercommitCaps struct {
	// Caps: per resource, the limits of the pods on a node plus the incoming
	// pod's must stay within ratio x allocatable. Every pod on the node
	// counts, whoever scheduled it (DaemonSets included), and a container
	// without a limit counts its request. Only placements are refused: pods
	// already on a node over a cap stay, and new pods that limit that
	// resource go elsewhere. Default: no caps (unset and [] both mean off).
	// +listType=map
	// +listMapKey=resource
	Caps []ResourceRatio `json:"caps,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// QoSAwarePreemptionArgs configures the QoSAwarePreemption plugin, which
// replaces DefaultPreemption.
type QoSAwarePreemptionArgs struct {
	metav1.TypeMeta `json:",inline"`

	// PDBMode is Respect (never violate a PodDisruptionBudget: the preemptor
	// stays pending instead) or Prefer (upstream: avoid violations when
	// possible). Default Respect.
	PDBMode PDBMode `json:"pdbMode,omitempty"`
	// MinCandidateNodesPercentage of nodes to dry-run, 0 to 100. Default 10.
	MinCandidateNodesPercentage *int32 `json:"minCandidateNodesPercentage,omitempty"`
	// MinCandidateNodesAbsolute nodes to dry-run at least. Default 100.
	MinCandidateNodesAbsolute *int32 `json:"minCandidateNodesAbsolute,omitempty"`
}

// PDBMode says how preemption treats PodDisruptionBudgets: Respect or Prefer.
type PDBMode string
