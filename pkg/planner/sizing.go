package planner

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/snug-sched/snug/pkg/workload"
)

// Sizing is the result of sizing mode.
type Sizing struct {
	// Node is the node shape: its source (file or spec) and allocatable in
	// scheduler units.
	Node NodeShape `json:"node"`
	// Profiles holds one result per profile, in profile order.
	Profiles []SizingResult `json:"profiles"`
}

// NodeShape describes the node shape being sized.
type NodeShape struct {
	Source      string           `json:"source"`
	Allocatable map[string]int64 `json:"allocatable"`
}

// SizingResult is the fewest nodes of the shape that host the workload with
// one profile.
type SizingResult struct {
	Profile string `json:"profile"`
	// Pods is how many pods were sized for: the workload minus the
	// Unplaceable pods that fit no empty node of the shape.
	Pods        int       `json:"pods"`
	Unplaceable int       `json:"unplaceable"`
	Unfit       []Failure `json:"unplaceableFailures"`
	// LowerBound is max over resources (pods included) of
	// ceil(total requests / node allocatable), BoundBy that resource.
	LowerBound int    `json:"lowerBound"`
	BoundBy    string `json:"boundBy"`
	// Nodes is the fewest nodes found that host every one of Pods; 0 with
	// Error set when none was found up to MaxNodes, the search's limit
	// (--size-max, or one node per pod).
	Nodes    int    `json:"nodes"`
	MaxNodes int    `json:"maxNodes"`
	Error    string `json:"error,omitempty"`
	// Probes are the simulations run, in order.
	Probes []Probe `json:"probes"`
	// Result is the placement on Nodes nodes.
	Result *ProfileReport `json:"result,omitempty"`
}

// Probe is one simulation of sizing: Placed pods were placed before the run
// stopped at the first pod not hosted (all of them when Hosted).
type Probe struct {
	Nodes  int  `json:"nodes"`
	Hosted bool `json:"hosted"`
	Placed int  `json:"placed"`
}

// ParseNodeSpec parses a node shape such as
// "cpu=96,memory=384Gi,nvidia.com/gpu=8": comma-separated resource=quantity
// pairs giving the allocatable (and capacity) of a node named "spec"; pods
// defaults to 110 as in pkg/workload.
func ParseNodeSpec(spec string) (*corev1.Node, error) {
	alloc := corev1.ResourceList{}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("%q: want resource=quantity", part)
		}
		name := corev1.ResourceName(strings.TrimSpace(k))
		if errs := validation.IsQualifiedName(string(name)); len(errs) > 0 {
			return nil, fmt.Errorf("%q: invalid resource name: %s", name, errs[0])
		}
		if _, dup := alloc[name]; dup {
			return nil, fmt.Errorf("%q given twice", name)
		}
		q, err := resource.ParseQuantity(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("%s=%q: invalid quantity: %v", name, v, err)
		}
		if q.Sign() < 0 {
			return nil, fmt.Errorf("%s=%s: must be >= 0", name, q.String())
		}
		alloc[name] = q
	}
	if len(alloc) == 0 {
		return nil, fmt.Errorf("no resources given (want e.g. cpu=96,memory=384Gi,nvidia.com/gpu=8)")
	}
	if _, ok := alloc[corev1.ResourcePods]; !ok {
		alloc[corev1.ResourcePods] = *resource.NewQuantity(workload.DefaultMaxPods, resource.DecimalSI)
	}
	return &corev1.Node{
		TypeMeta:   metav1.TypeMeta{Kind: "Node", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "spec", Labels: map[string]string{}},
		Status:     corev1.NodeStatus{Allocatable: alloc, Capacity: alloc.DeepCopy()},
	}, nil
}

// LoadSizeNode reads --size-node: an existing file holding exactly one node
// (YAML or CSV, see pkg/workload), otherwise a spec for ParseNodeSpec.
func LoadSizeNode(arg string) (*corev1.Node, error) {
	if st, err := os.Stat(arg); err == nil && !st.IsDir() {
		nodes, err := workload.LoadNodes(arg)
		if err != nil {
			return nil, err
		}
		if len(nodes) != 1 {
			return nil, fmt.Errorf("%s: holds %d nodes, want exactly one node shape", arg, len(nodes))
		}
		return nodes[0], nil
	}
	if !strings.Contains(arg, "=") {
		return nil, fmt.Errorf("%q: no such file, and not a spec such as cpu=96,memory=384Gi,nvidia.com/gpu=8", arg)
	}
	return ParseNodeSpec(arg)
}

// LowerBound is the fewest nodes of shape node that could hold pods if
// requests were fluid: max over resources (pods included) of
// ceil(total requests / node allocatable), and the resource that sets it.
// It returns an error when pods request a resource the node does not offer.
func LowerBound(pods []*corev1.Pod, node *corev1.Node) (int, corev1.ResourceName, error) {
	d := newDims(pods, []*corev1.Node{node})
	var vecs []vec
	for _, p := range pods {
		vecs = append(vecs, d.podVec(p))
	}
	return lowerBound(d, vecs, d.nodeVec(node))
}

func lowerBound(d *dims, vecs []vec, node vec) (int, corev1.ResourceName, error) {
	demand := make(vec, len(d.names))
	for _, v := range vecs {
		demand.add(v, 1)
	}
	best, by := 0, corev1.ResourceName("")
	for i, name := range d.names {
		if demand[i] == 0 {
			continue
		}
		if node[i] <= 0 {
			return 0, name, fmt.Errorf("the pods request %s %s, the node offers none", formatQuantity(name, demand[i]), name)
		}
		n := int((demand[i] + node[i] - 1) / node[i])
		if n > best {
			best, by = n, name
		}
	}
	return best, by, nil
}

// sizeNodes makes and caches numbered copies of the shape.
type sizeNodes struct {
	tmpl  *corev1.Node
	nodes []*corev1.Node
}

func (s *sizeNodes) get(n int) []*corev1.Node {
	for len(s.nodes) < n {
		c := s.tmpl.DeepCopy()
		// Zero-padded so that name order (the simulator's tie-break) is
		// creation order.
		c.Name = fmt.Sprintf("size-%06d", len(s.nodes))
		c.UID = workload.FakeUID("Node", "", c.Name)
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		c.Labels[corev1.LabelHostname] = c.Name
		s.nodes = append(s.nodes, c)
	}
	return s.nodes[:n]
}

func (p *planner) size(ctx context.Context) (*Sizing, error) {
	tmpl := p.cfg.SizeNode
	out := &Sizing{Node: NodeShape{Source: p.cfg.SizeNodeSource, Allocatable: map[string]int64{}}}
	nv := p.d.nodeVec(tmpl)
	for i, name := range p.d.names {
		out.Node.Allocatable[string(name)] = nv[i]
	}
	for name, q := range tmpl.Status.Allocatable { // resources no pod asks for
		if _, ok := out.Node.Allocatable[string(name)]; !ok {
			out.Node.Allocatable[string(name)] = q.Value()
		}
	}
	nodes := &sizeNodes{tmpl: tmpl}
	for _, prof := range p.cfg.Profiles {
		r, err := p.sizeProfile(ctx, prof, nodes, nv)
		if err != nil {
			return nil, fmt.Errorf("profile %s: sizing: %w", prof.Name, err)
		}
		out.Profiles = append(out.Profiles, *r)
	}
	return out, nil
}

func (p *planner) sizeProfile(ctx context.Context, prof Profile, nodes *sizeNodes, nv vec) (*SizingResult, error) {
	sim, err := p.newSim(ctx, prof)
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	res := &SizingResult{Profile: prof.Name, Unfit: []Failure{}, Probes: []Probe{}}
	base := sim.Fork()

	// Pods that fit no empty node of the shape (too big, node affinity,
	// taints, ...) can never be hosted: leave them out of the search.
	if err := sim.AddNode(nodes.get(1)[0]); err != nil {
		return nil, err
	}
	one := sim.Fork()
	var pods []*corev1.Pod
	var vecs []vec
	prog := p.cfg.Progress
	if prog == nil {
		prog = noProgress{}
	}
	prog.Start(fmt.Sprintf("%s: sizing, pods that fit one empty node", prof.Name), len(p.pods))
	for i, pod := range p.pods {
		if err := ctx.Err(); err != nil {
			prog.Done()
			return nil, err
		}
		r, err := sim.Schedule(ctx, pod)
		if err != nil {
			prog.Done()
			return nil, fmt.Errorf("pod %s: %w", podKey(pod), err)
		}
		if r.Node == "" {
			res.Unplaceable++
			if len(res.Unfit) < MaxFailures {
				res.Unfit = append(res.Unfit, Failure{Pod: podKey(pod), Reason: r.Reason})
			}
		} else {
			pods = append(pods, pod)
			vecs = append(vecs, p.vecs[i])
		}
		if err := sim.Revert(one); err != nil {
			prog.Done()
			return nil, err
		}
		prog.Add(1)
	}
	prog.Done()
	if err := sim.Revert(base); err != nil {
		return nil, err
	}
	res.Pods = len(pods)
	lb, by, err := lowerBound(p.d, vecs, nv)
	if err != nil { // cannot happen: every pod left fits one node
		return nil, err
	}
	res.LowerBound, res.BoundBy = lb, string(by)
	if len(pods) == 0 {
		res.Error = "no pod of the workload fits this node shape"
		return res, nil
	}

	hosted := map[int]*ProfileReport{}
	probe := func(n int) (bool, error) {
		for _, node := range nodes.get(n) {
			if err := sim.AddNode(node); err != nil {
				return false, err
			}
		}
		label := fmt.Sprintf("%s: sizing, probe %d: %d nodes", prof.Name, len(res.Probes)+1, n)
		out, err := p.place(ctx, sim, pods, vecs, label, true)
		if err != nil {
			return false, err
		}
		ok := !out.stopped && out.placed == len(pods)
		res.Probes = append(res.Probes, Probe{Nodes: n, Hosted: ok, Placed: out.placed})
		if ok {
			hosted[n] = p.report(sim, prof, out)
		}
		return ok, sim.Revert(base)
	}

	// Gallop up from the lower bound (lb, lb+1, lb+3, lb+7, ...) to a count
	// that hosts everything, then binary-search the gap. With as many nodes
	// as pods, every pod finds an empty node it fits, so the search ends.
	maxNodes, limit := len(pods), "one per pod"
	if m := p.cfg.SizeMax; m > 0 && m < maxNodes {
		maxNodes, limit = m, "--size-max"
	}
	res.MaxNodes = maxNodes
	if lb > maxNodes {
		res.Error = fmt.Sprintf("the lower bound %d exceeds %d nodes (%s)", lb, maxNodes, limit)
		return res, nil
	}
	lo, hi := lb, 0
	for step := 1; ; step *= 2 {
		n := min(lb+step-1, maxNodes)
		ok, err := probe(n)
		if err != nil {
			return nil, err
		}
		if ok {
			hi = n
			break
		}
		lo = n + 1
		if n == maxNodes {
			res.Error = fmt.Sprintf("not hosted even with %d nodes (%s)", maxNodes, limit)
			return res, nil
		}
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		ok, err := probe(mid)
		if err != nil {
			return nil, err
		}
		if ok {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	res.Nodes = hi
	res.Result = hosted[hi]
	return res, nil
}

// sortedKeys returns a map's keys sorted.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
