package strandingawarepacking

import (
	"context"
	"iter"
	"math"

	corev1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/snug-sched/snug/pkg/resourcemodel"
	"github.com/snug-sched/snug/pkg/stranding"
)

const stateKey fwk.StateKey = Name + "/prescore"

// preScoreState is everything Score needs, computed once per cycle.
type preScoreState struct {
	layout stranding.Layout
	models *ShapeModels
	pod    stranding.Vec
	// plans has one plan per model the candidate nodes accept; planOf
	// maps a node to its plan, nil when every node has plans[0].
	plans  []stranding.Plan
	planOf map[string]int
	// hosts[i] are plans[i]'s host counts (Plan.SetHosts).
	hosts []hostCounts
	// reserved[i]: plans[i]'s nodes admit pods that are short of room
	// (Reservation); a pod that may go elsewhere avoids them.
	reserved []bool
	// kinds says where nodeVectors reads each dimension from.
	kinds  [stranding.MaxDims]dimKind
	spread spreadState
}

type dimKind uint8

const (
	dimScalar dimKind = iota
	dimCPU
	dimMemory
	dimEphemeral
	dimPods
)

// Clone is shallow: the state is read-only after PreScore.
func (s *preScoreState) Clone() fwk.StateData { return s }

// PreScore builds the cycle's layout: the configured resources, then every
// extended resource the pod requests, a feasible node exposes or a shape
// asks for.
func (pl *Plugin) PreScore(ctx context.Context, cs fwk.CycleState, pod *corev1.Pod, nodes []fwk.NodeInfo) *fwk.Status {
	s := &preScoreState{}
	cluster := pl.clusterNodes(nodes)
	pl.buildLayout(s, pod, nodes, cluster)
	s.buildPlans(pl.weights, nodes)
	if pl.weights.Host > 0 {
		s.buildHosts(cluster, pod)
		s.setHostBase(nodes)
	}
	if err := pl.buildSpread(ctx, &s.spread, pod, nodes); err != nil {
		return fwk.AsStatus(err)
	}
	maybeRecordStranded(s, nodes)
	cs.Write(stateKey, s)
	return nil
}

func (pl *Plugin) buildLayout(s *preScoreState, pod *corev1.Pod, nodes, cluster []fwk.NodeInfo) {
	// Extended resources the pod requests, a candidate exposes or a shape
	// asks for, added in name order once all are known.
	set := pl.shapes.SetFor(pod)
	extended := Names(resourcemodel.Requests(pod), set.Shapes)
	// One pass over the candidates: the extended resources they expose and
	// the largest allocatable of every resource, the unit in which
	// fragmentation is compared across nodes.
	var maxCPU, maxMem, maxEph, maxPods int64
	var maxScalar []scalarMax // a node exposes a handful at most
	for _, ni := range nodes {
		a := ni.GetAllocatable()
		maxCPU, maxMem = max(maxCPU, a.GetMilliCPU()), max(maxMem, a.GetMemory())
		maxEph, maxPods = max(maxEph, a.GetEphemeralStorage()), max(maxPods, int64(a.GetAllowedPodNumber()))
	scalars:
		for n, v := range a.GetScalarResources() {
			for i := range maxScalar {
				if maxScalar[i].name == n {
					maxScalar[i].v = max(maxScalar[i].v, v)
					continue scalars
				}
			}
			maxScalar = append(maxScalar, scalarMax{n, v})
			extended = append(extended, n)
		}
	}
	s.layout = pl.judge.rules.layout(extended)
	l := &s.layout
	s.kinds = kindsOf(l)
	s.pod = RequestVector(l, resourcemodel.ScoringRequests(pod))
	for i := 0; i < l.N; i++ {
		switch s.kinds[i] {
		case dimCPU:
			l.Scale[i] = float64(maxCPU)
		case dimMemory:
			l.Scale[i] = float64(maxMem)
		case dimEphemeral:
			l.Scale[i] = float64(maxEph)
		case dimPods:
			l.Scale[i] = float64(maxPods)
		default:
			for _, m := range maxScalar {
				if m.name == l.Names[i] {
					l.Scale[i] = float64(m.v)
				}
			}
		}
	}
	s.models = NewShapeModels(l, set, NodesOf(cluster))
}

// NodesOf iterates over the nodes of infos.
func NodesOf(infos []fwk.NodeInfo) iter.Seq[*corev1.Node] {
	return func(yield func(*corev1.Node) bool) {
		for _, ni := range infos {
			if n := ni.Node(); n != nil && !yield(n) {
				return
			}
		}
	}
}

type hostCounts = [stranding.MaxShapes]float64

// clusterNodes are every node of the scheduler's snapshot, or the
// candidates when there is none: a shape's hosts are counted over the
// cluster, not only over the nodes feasible for this pod.
func (pl *Plugin) clusterNodes(candidates []fwk.NodeInfo) []fwk.NodeInfo {
	if pl.handle == nil || pl.handle.SnapshotSharedLister() == nil {
		return candidates
	}
	all, err := pl.handle.SnapshotSharedLister().NodeInfos().List()
	if err != nil || len(all) == 0 {
		return candidates
	}
	return all
}

// buildHosts counts, for each shape that requests a scarce resource or needs
// a whole node (wholeNode), the nodes it fits on now among those that
// accept it, and hands each plan the counts of its shapes. Hosts that
// pending pods need do not count (spareHosts), unless the pod is itself
// such demand.
func (s *preScoreState) buildHosts(nodes []fwk.NodeInfo, pod *corev1.Pod) {
	set := s.models.shapes
	l := &s.layout
	vecs := make([]stranding.Vec, len(set))
	// least[i]: the smallest request in dimension i of the counted shapes
	// that need some of i to fit (mayHost).
	var least stranding.Vec
	// largest is the cluster's largest allocatable, read only when a shape
	// needs more than half of the largest candidate (the cluster's is no
	// smaller), so that whether a shape needs a whole node does not depend
	// on the pod's candidates.
	var largest *stranding.Vec
	counted := false
	for k, sh := range set {
		v := shapeVector(l, sh)
		vecs[k] = v
		if scarceShape(l, &v) {
			for i := 0; i < l.N; i++ {
				if l.Scarce[i] && v[i] > 0 && (least[i] == 0 || v[i] < least[i]) {
					least[i] = v[i]
				}
			}
			counted = true
			continue
		}
		w := -1
		if wholeNode(l, &l.Scale, &v) >= 0 {
			if largest == nil {
				if largest = s.models.largest; largest == nil {
					largest = largestOf(l, NodesOf(nodes))
				}
			}
			w = wholeNode(l, largest, &v)
		}
		if w < 0 {
			vecs[k] = stranding.Vec{} // not counted
			continue
		}
		if least[w] == 0 || v[w] < least[w] {
			least[w] = v[w]
		}
		counted = true
	}
	if !counted {
		return
	}
	hosts, slots := make([]float64, len(set)), make([]float64, len(set))
	for _, ni := range nodes {
		if !mayHost(l, &s.kinds, ni, &least) {
			continue
		}
		var alloc, used stranding.Vec
		nodeVectors(l, &s.kinds, ni, true, &alloc, &used)
		if l.PodsDim >= 0 && alloc[l.PodsDim]-used[l.PodsDim] < 1 {
			continue
		}
		var none stranding.Vec
		free := stranding.Free(l, &alloc, &used, &none)
		for _, k := range s.models.Members(s.models.For(ni.Node())) {
			if n := fits(l, &vecs[k], &free); n >= 1 {
				hosts[k]++
				slots[k] += n
			}
		}
	}
	if need := s.models.need; need != nil {
		podC := constraintOf(pod)
		for k := range hosts {
			if need[k] > 0 && !(covers(l, &s.pod, &vecs[k]) && within(podC, s.models.constraint(k))) {
				hosts[k] = spareHosts(hosts[k], slots[k], need[k])
			}
		}
	}
	s.hosts = make([]hostCounts, len(s.plans))
	for i := range s.plans {
		for j, k := range s.models.Members(s.plans[i].Shapes()) {
			s.hosts[i][j] = hosts[k]
		}
		s.plans[i].SetHosts(&s.hosts[i])
	}
}

// setHostBase hands every plan the least host cost among the candidate
// nodes (Plan.SetHostBase).
func (s *preScoreState) setHostBase(nodes []fwk.NodeInfo) {
	if s.hosts == nil || len(nodes) == 0 {
		return
	}
	base := math.Inf(1)
	for _, ni := range nodes {
		var alloc, used stranding.Vec
		nodeVectors(&s.layout, &s.kinds, ni, true, &alloc, &used)
		plan, _ := s.plan(ni.Node())
		if base = min(base, plan.HostCost(&alloc, &used)); base == 0 {
			return
		}
	}
	for i := range s.plans {
		s.plans[i].SetHostBase(base)
	}
}

// spareHosts is how many of a shape's hosts its pending demand leaves
// spare, in hosts: with need pods pending for slots places on hosts nodes,
// a share need/slots of the hosts is taken, and at least one host counts,
// so a placement that takes a host the demand needs costs the whole host
// term. A pod that is itself such demand is judged by all the hosts: it
// takes a place the demand would take anyway.
func spareHosts(hosts, slots, need float64) float64 {
	if hosts == 0 || slots == 0 {
		return hosts
	}
	return max(1, hosts*(1-need/slots))
}

// wholeNode returns a dimension in which v needs more than half of the
// largest node (largest: its allocatable), or -1: at most one such pod fits
// on a node, so, like a large GPU pod, it needs a node nothing else has
// broken into. A shape that requests no scarce resource counts in the host
// term only then: taking the last place of a small shape is what packing is
// for.
func wholeNode(l *stranding.Layout, largest, v *stranding.Vec) int {
	for i := 0; i < l.N; i++ {
		if needsHalf(l, largest, v, i) {
			return i
		}
	}
	return -1
}

// needsHalf reports whether v needs more than half of dimension i of a node
// with allocatable largest; never for the pod count.
func needsHalf(l *stranding.Layout, largest, v *stranding.Vec, i int) bool {
	return i != l.PodsDim && largest[i] > 0 && 2*v[i] > largest[i]
}

// mayHost reports whether ni has free, in some dimension, the least that a
// counted shape requests there (least: every counted shape requests at least
// that much of one of them): a node without fits none, so most nodes of a
// cluster with a few GPU nodes are skipped before their vectors are read.
// Free cpu and memory count the requests as made: the score's non-zero
// requests only leave less free.
func mayHost(l *stranding.Layout, kinds *[stranding.MaxDims]dimKind, ni fwk.NodeInfo, least *stranding.Vec) bool {
	alloc, req := ni.GetAllocatable(), ni.GetRequested()
	a, u := alloc.GetScalarResources(), req.GetScalarResources()
	for i := 0; i < l.N; i++ {
		if least[i] == 0 {
			continue
		}
		var free float64
		switch kinds[i] {
		case dimScalar:
			free = float64(a[l.Names[i]] - u[l.Names[i]])
		case dimCPU:
			free = float64(alloc.GetMilliCPU() - req.GetMilliCPU())
		case dimMemory:
			free = float64(alloc.GetMemory() - req.GetMemory())
		default:
			return true
		}
		if free >= least[i] {
			return true
		}
	}
	return false
}

// scarceShape reports whether v requests a scarce dimension of l.
func scarceShape(l *stranding.Layout, v *stranding.Vec) bool {
	for i := 0; i < l.N; i++ {
		if l.Scarce[i] && v[i] > 0 {
			return true
		}
	}
	return false
}

// buildPlans prepares the evaluation of the pod against the model of each
// candidate node.
func (s *preScoreState) buildPlans(w stranding.Weights, nodes []fwk.NodeInfo) {
	if !s.models.Constrained() {
		s.plans = []stranding.Plan{stranding.NewPlan(&s.layout, s.models.For(nil), w, &s.pod)}
		return
	}
	s.planOf = make(map[string]int, len(nodes))
	index := map[uint64]int{}
	var admitted []uint64
	res := s.models.Reservation()
	for _, ni := range nodes {
		mask, m := s.models.variant(ni.Node())
		i, ok := index[mask]
		if !ok {
			i = len(s.plans)
			index[mask] = i
			s.plans = append(s.plans, stranding.NewPlan(&s.layout, m, w, &s.pod))
			if s.models.hasConstrained(m) {
				s.plans[i].NoBundleCredit()
			}
			admitted = append(admitted, mask)
		}
		s.planOf[ni.Node().Name] = i
		if res != nil {
			var alloc, used, none stranding.Vec
			nodeVectors(&s.layout, &s.kinds, ni, false, &alloc, &used)
			free := stranding.Free(&s.layout, &alloc, &used, &none)
			res.Add(mask, &free)
		}
	}
	if len(s.plans) == 0 {
		s.plans = append(s.plans, stranding.NewPlan(&s.layout, s.models.For(nil), w, &s.pod))
	}
	if res != nil {
		short := res.Short()
		s.reserved = make([]bool, len(admitted))
		for i, a := range admitted {
			s.reserved[i] = a&short != 0
		}
	}
}

// plan returns the plan of a candidate node and whether its scarce
// capacity is reserved for pods that may use nothing else.
func (s *preScoreState) plan(node *corev1.Node) (*stranding.Plan, bool) {
	if s.planOf == nil {
		return &s.plans[0], false
	}
	i, ok := s.planOf[node.Name]
	if !ok {
		return &s.plans[0], false // not a candidate of PreScore: cannot happen in a cycle
	}
	return &s.plans[i], s.reserved != nil && s.reserved[i]
}

type scalarMax struct {
	name corev1.ResourceName
	v    int64
}

func kindsOf(l *stranding.Layout) [stranding.MaxDims]dimKind {
	var kinds [stranding.MaxDims]dimKind
	for i := 0; i < l.N; i++ {
		switch l.Names[i] {
		case corev1.ResourceCPU:
			kinds[i] = dimCPU
		case corev1.ResourceMemory:
			kinds[i] = dimMemory
		case corev1.ResourceEphemeralStorage:
			kinds[i] = dimEphemeral
		case corev1.ResourcePods:
			kinds[i] = dimPods
		default:
			kinds[i] = dimScalar
		}
	}
	return kinds
}

// NodeVectors returns a node's allocatable and requested vectors in layout
// l (the preemption plugin judges nodes with the same arithmetic), with the
// pods' real requests, as its victims' vectors (PodVector) have them.
func NodeVectors(l *stranding.Layout, ni fwk.NodeInfo) (alloc, used stranding.Vec) {
	kinds := kindsOf(l)
	nodeVectors(l, &kinds, ni, false, &alloc, &used)
	return alloc, used
}

// RequestVector returns a pod's requests (resourcemodel.Requests) in
// layout l, counting the pod itself as one in the pod-count dimension.
func RequestVector(l *stranding.Layout, requests corev1.ResourceList) stranding.Vec {
	v := listVector(l, requests)
	if l.PodsDim >= 0 {
		v[l.PodsDim] = 1
	}
	return v
}

// listVector reads a resource list in layout l, each dimension as listed.
func listVector(l *stranding.Layout, list corev1.ResourceList) stranding.Vec {
	var v stranding.Vec
	for i := 0; i < l.N; i++ {
		v[i] = float64(resourcemodel.Value(l.Names[i], list))
	}
	return v
}

// PodVector returns what a pod bound to a node requests in layout l, from
// the requests the scheduler cached on its PodInfo (the amounts it charged
// to the node), so it allocates nothing.
func PodVector(l *stranding.Layout, pi fwk.PodInfo) stranding.Vec {
	r := pi.CalculateResource().Resource
	var v stranding.Vec
	for i := 0; i < l.N; i++ {
		switch l.Names[i] {
		case corev1.ResourceCPU:
			v[i] = float64(r.GetMilliCPU())
		case corev1.ResourceMemory:
			v[i] = float64(r.GetMemory())
		case corev1.ResourceEphemeralStorage:
			v[i] = float64(r.GetEphemeralStorage())
		case corev1.ResourcePods:
			v[i] = 1
		default:
			v[i] = float64(r.GetScalarResources()[l.Names[i]])
		}
	}
	return v
}

// nodeVectors fills allocatable and requested vectors of a node. With
// scoring, cpu and memory in use are the node's NonZeroRequested, as
// kube-scheduler's scores count them (see resourcemodel.ScoringRequests).
// It allocates nothing: scalar resources are read by map lookup.
func nodeVectors(l *stranding.Layout, kinds *[stranding.MaxDims]dimKind, ni fwk.NodeInfo, scoring bool, alloc, used *stranding.Vec) {
	a, u := ni.GetAllocatable(), ni.GetRequested()
	cpuMem := u
	if scoring {
		cpuMem = ni.GetNonZeroRequested()
	}
	for i := 0; i < l.N; i++ {
		switch kinds[i] {
		case dimCPU:
			alloc[i], used[i] = float64(a.GetMilliCPU()), float64(cpuMem.GetMilliCPU())
		case dimMemory:
			alloc[i], used[i] = float64(a.GetMemory()), float64(cpuMem.GetMemory())
		case dimEphemeral:
			alloc[i], used[i] = float64(a.GetEphemeralStorage()), float64(u.GetEphemeralStorage())
		case dimPods:
			alloc[i], used[i] = float64(a.GetAllowedPodNumber()), float64(len(ni.GetPods()))
		default:
			alloc[i], used[i] = float64(a.GetScalarResources()[l.Names[i]]), float64(u.GetScalarResources()[l.Names[i]])
		}
	}
}
