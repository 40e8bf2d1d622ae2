// Package validation checks snug's plugin args. Errors carry the field path
// as written in the KubeSchedulerConfiguration (e.g. shapes.maxLearned), so a
// bad config fails at startup naming the field.
package validation

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	v1helper "k8s.io/kubernetes/pkg/apis/core/v1/helper"

	"github.com/snug-sched/snug/pkg/apis/config"
	"github.com/snug-sched/snug/pkg/stranding"
)

// Bounds shared by snug's weights.
const (
	MinWeight       = 1
	MaxWeight       = 100
	MaxLearnedLimit = 64
	// MaxFragmentationWeight bounds scarceResources.fragmentationWeight.
	MaxFragmentationWeight = 1000
)

// ValidateStrandingAwarePackingArgs validates the args of the
// StrandingAwarePacking plugin; path is the args' own path.
func ValidateStrandingAwarePackingArgs(path *field.Path, args *config.StrandingAwarePackingArgs) error {
	var errs field.ErrorList
	seen := sets.New[corev1.ResourceName]()
	resPath := path.Child("resources")
	for i, r := range args.Resources {
		p := resPath.Index(i)
		errs = append(errs, ValidateResourceName(p.Child("name"), r.Name)...)
		if seen.Has(r.Name) {
			errs = append(errs, field.Duplicate(p.Child("name"), r.Name))
		}
		seen.Insert(r.Name)
		errs = append(errs, validateRange(p.Child("weight"), r.Weight, MinWeight, MaxWeight)...)
	}
	// The stranding model has room for stranding.MaxDims resources; more
	// would be dropped from every judgement.
	if len(args.Resources) > stranding.MaxDims {
		errs = append(errs, field.TooMany(resPath, len(args.Resources), stranding.MaxDims))
	}
	errs = append(errs, validateRange(path.Child("extendedResourceWeight"), args.ExtendedResourceWeight, 0, MaxWeight)...)
	errs = append(errs, validateRange(path.Child("packingWeight"), args.PackingWeight, 0, MaxWeight)...)
	errs = append(errs, validateRange(path.Child("strandingWeight"), args.StrandingWeight, 0, MaxWeight)...)
	errs = append(errs, validateRange(path.Child("strandedLevelWeight"), args.StrandedLevelWeight, 0, MaxWeight)...)
	errs = append(errs, validateRange(path.Child("hostScarcityWeight"), args.HostScarcityWeight, 0, MaxWeight)...)
	errs = append(errs, validateRange(path.Child("scarceBundleWeight"), args.ScarceBundleWeight, 0, MaxWeight)...)
	errs = append(errs, validateRange(path.Child("scarceResources", "fragmentationWeight"), args.ScarceResources.FragmentationWeight, 1, MaxFragmentationWeight)...)
	if args.PackingWeight == 0 && args.StrandingWeight == 0 && args.StrandedLevelWeight == 0 {
		errs = append(errs, field.Invalid(path.Child("packingWeight"), args.PackingWeight, "packingWeight, strandingWeight and strandedLevelWeight cannot all be 0"))
	}
	for i, n := range args.ScarceResources.Names {
		errs = append(errs, ValidateResourceName(path.Child("scarceResources", "names").Index(i), n)...)
	}
	errs = append(errs, validateShapeSource(path.Child("shapes"), &args.Shapes)...)
	for i, c := range args.DefaultConstraints {
		p := path.Child("defaultConstraints").Index(i)
		if c.MaxSkew <= 0 {
			errs = append(errs, field.Invalid(p.Child("maxSkew"), c.MaxSkew, "must be greater than zero"))
		}
		if c.TopologyKey == "" {
			errs = append(errs, field.Required(p.Child("topologyKey"), "can not be empty"))
		}
		if c.WhenUnsatisfiable != corev1.ScheduleAnyway {
			errs = append(errs, field.NotSupported(p.Child("whenUnsatisfiable"), c.WhenUnsatisfiable,
				[]string{string(corev1.ScheduleAnyway)}))
		}
		if c.LabelSelector != nil {
			errs = append(errs, field.Forbidden(p.Child("labelSelector"), "the selector comes from the pod's owning workload"))
		}
	}
	return errs.ToAggregate()
}

func validateShapeSource(path *field.Path, s *config.ShapeSource) field.ErrorList {
	var errs field.ErrorList
	switch s.Mode {
	case config.ShapeSourceLearned:
	case config.ShapeSourceStatic:
		if len(s.Static) == 0 {
			errs = append(errs, field.Required(path.Child("static"), "mode Static needs at least one shape"))
		}
	default:
		errs = append(errs, field.NotSupported(path.Child("mode"), s.Mode, []string{string(config.ShapeSourceLearned), string(config.ShapeSourceStatic)}))
	}
	errs = append(errs, validateRange(path.Child("maxLearned"), int64(s.MaxLearned), 1, MaxLearnedLimit)...)
	// Learned shapes fill the places static shapes leave (the model holds
	// MaxLearnedLimit), so only the static shapes are bounded here.
	if len(s.Static) > MaxLearnedLimit {
		errs = append(errs, field.TooMany(path.Child("static"), len(s.Static), MaxLearnedLimit))
	}
	for i, shape := range s.Static {
		p := path.Child("static").Index(i)
		positive := false
		for name, q := range shape.Requests {
			rp := p.Child("requests").Key(string(name))
			errs = append(errs, ValidateResourceName(rp, name)...)
			if q.Sign() < 0 {
				errs = append(errs, field.Invalid(rp, q.String(), "must not be negative"))
			}
			positive = positive || q.Sign() > 0
		}
		if !positive {
			errs = append(errs, field.Required(p.Child("requests"), "a shape needs at least one positive request"))
		}
	}
	return errs
}

// ValidateResourceName accepts the standard resources a node can hold
// (cpu, memory, ephemeral-storage, pods, hugepages-*) and extended resources.
func ValidateResourceName(path *field.Path, name corev1.ResourceName) field.ErrorList {
	switch {
	case name == corev1.ResourceCPU, name == corev1.ResourceMemory,
		name == corev1.ResourceEphemeralStorage, name == corev1.ResourcePods,
		v1helper.IsHugePageResourceName(name):
		return nil
	case v1helper.IsExtendedResourceName(name):
		if msgs := validation.IsQualifiedName(string(name)); len(msgs) > 0 {
			return field.ErrorList{field.Invalid(path, name, fmt.Sprint(msgs))}
		}
		return nil
	}
	return field.ErrorList{field.Invalid(path, name,
		"must be cpu, memory, ephemeral-storage, pods, hugepages-<size> or an extended resource such as example.com/device")}
}

func validateRange(path *field.Path, v, lo, hi int64) field.ErrorList {
	if v < lo || v > hi {
		return field.ErrorList{field.Invalid(path, v, fmt.Sprintf("must be in the range [%d, %d]", lo, hi))}
	}
	return nil
}

// ValidatePredictableDemandsArgs validates the args of the PredictableDemands
// plugin; path is the args' own path.
func ValidatePredictableDemandsArgs(path *field.Path, args *config.PredictableDemandsArgs) error {
	var errs field.ErrorList
	g := args.DependencyGate
	if g.ImagePullSecrets && !g.Secrets {
		errs = append(errs, field.Invalid(path.Child("dependencyGate", "imagePullSecrets"), true,
			"needs dependencyGate.secrets: true (pull secrets are Secrets)"))
	}
	dp := path.Child("declaredDemands")
	if sel := args.DeclaredDemands.NamespaceSelector; sel != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(sel,
			metav1validation.LabelSelectorValidationOptions{}, dp.Child("namespaceSelector"))...)
		if _, err := metav1.LabelSelectorAsSelector(sel); err != nil {
			errs = append(errs, field.Invalid(dp.Child("namespaceSelector"), sel, err.Error()))
		}
	}
	for i, r := range args.DeclaredDemands.Resources {
		errs = append(errs, ValidateResourceName(dp.Child("resources").Index(i), r)...)
	}
	errs = append(errs, validateRatios(dp.Child("maxLimitRequestRatio"), args.DeclaredDemands.MaxLimitRequestRatio, 1)...)
	errs = append(errs, validateRatios(path.Child("overcommitCaps", "caps"), args.OvercommitCaps.Caps, 0)...)
	return errs.ToAggregate()
}

// validateRatios checks names, duplicates and that each ratio is above min
// (strictly above 0 when min is 0).
func validateRatios(path *field.Path, ratios []config.ResourceRatio, min int64) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[corev1.ResourceName]()
	for i, r := range ratios {
		p := path.Index(i)
		errs = append(errs, ValidateResourceName(p.Child("resource"), r.Resource)...)
		if seen.Has(r.Resource) {
			errs = append(errs, field.Duplicate(p.Child("resource"), r.Resource))
		}
		seen.Insert(r.Resource)
		switch {
		case min == 0 && r.Ratio.Sign() <= 0:
			errs = append(errs, field.Invalid(p.Child("ratio"), r.Ratio.String(), "must be greater than 0"))
		case min > 0 && r.Ratio.Cmp(*resource.NewQuantity(min, resource.DecimalSI)) < 0:
			errs = append(errs, field.Invalid(p.Child("ratio"), r.Ratio.String(), fmt.Sprintf("must be at least %d", min)))
		}
	}
	return errs
}

// ValidateQoSAwarePreemptionArgs validates the args of the QoSAwarePreemption
// plugin; path is the args' own path.
func ValidateQoSAwarePreemptionArgs(path *field.Path, args *config.QoSAwarePreemptionArgs) error {
	var errs field.ErrorList
	if args.PDBMode != config.PDBRespect && args.PDBMode != config.PDBPrefer {
		errs = append(errs, field.NotSupported(path.Child("pdbMode"), args.PDBMode,
			[]string{string(config.PDBRespect), string(config.PDBPrefer)}))
	}
	errs = append(errs, validateRange(path.Child("minCandidateNodesPercentage"), int64(args.MinCandidateNodesPercentage), 0, 100)...)
	if args.MinCandidateNodesAbsolute < 0 {
		errs = append(errs, field.Invalid(path.Child("minCandidateNodesAbsolute"), args.MinCandidateNodesAbsolute, "must not be negative"))
	}
	if args.MinCandidateNodesPercentage == 0 && args.MinCandidateNodesAbsolute == 0 {
		errs = append(errs, field.Invalid(path.Child("minCandidateNodesAbsolute"), 0,
			"minCandidateNodesPercentage and minCandidateNodesAbsolute cannot both be 0"))
	}
	return errs.ToAggregate()
}
