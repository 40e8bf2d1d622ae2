package planner

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"

	"github.com/snug-sched/snug/pkg/simulator"
)

// MaxFailures is how many failed pods (with the scheduler's reason) a report
// keeps, in submission order.
const MaxFailures = 5

// CurveSteps is the number of offered-load steps of the allocation curve
// (10: every 10% of the pods).
const CurveSteps = 10

// Profile is a scheduler profile to compare.
type Profile struct {
	// Name labels the profile in the report.
	Name string
	// Source is "built-in" or the configuration file (and profile name).
	Source string
	// Profile is the internal, defaulted profile.
	Profile *schedconfig.KubeSchedulerProfile
}

// Config of one planning run.
type Config struct {
	// Nodes is the cluster to compare the profiles on; nil skips the
	// comparison (sizing only).
	Nodes []*corev1.Node
	// Pods is the workload, submitted one at a time in this order.
	// spec.nodeName is ignored: every pod is scheduled.
	Pods []*corev1.Pod
	// Profiles to compare, in report order.
	Profiles []Profile
	// Preemption lets the profiles' PostFilter plugins evict pods.
	Preemption bool
	// SizeNode, when set, is the node shape of sizing mode.
	SizeNode *corev1.Node
	// SizeNodeSource describes SizeNode in the report (file or spec).
	SizeNodeSource string
	// SizeMax caps the node counts sizing tries (0: one node per pod).
	SizeMax int
	// Parallelism of the simulators' Filter and Score (0: 16).
	Parallelism int
	// ScoreAllNodes filters and scores every node in each cycle; by
	// default the simulators sample nodes as kube-scheduler does with each
	// profile's percentageOfNodesToScore.
	ScoreAllNodes bool
	// Progress receives progress; nil for none.
	Progress Progress
	// Input describes the inputs in the report.
	Input Input
}

// Report is the result of a planning run; its JSON form is documented in
// the package doc.
type Report struct {
	Input Input `json:"input"`
	// Resources are the reported resources, in report order.
	Resources []string `json:"resources"`
	// Shapes is how many distinct pod shapes the workload has;
	// ShapesUsed how many (the most frequent) the stranding model uses.
	Shapes     int `json:"shapes"`
	ShapesUsed int `json:"shapesUsed"`
	// Profiles is the comparison on the given cluster (absent without one).
	Profiles []ProfileReport `json:"profiles,omitempty"`
	// Sizing is present in sizing mode.
	Sizing *Sizing `json:"sizing,omitempty"`
}

// Input describes what was planned.
type Input struct {
	Nodes      string `json:"nodes,omitempty"`
	Workload   string `json:"workload,omitempty"`
	Example    string `json:"example,omitempty"`
	NodeCount  int    `json:"nodeCount"`
	PodCount   int    `json:"podCount"`
	Preemption bool   `json:"preemption"`
	// ScoreAllNodes is true when every node was scored, false when each
	// cycle sampled nodes as the profile's percentageOfNodesToScore says.
	ScoreAllNodes bool `json:"scoreAllNodes"`
}

// ProfileReport is one profile's placement of the workload on a cluster.
type ProfileReport struct {
	Profile string `json:"profile"`
	Source  string `json:"source"`
	// Pods submitted; Placed + Failed + Preempted == Pods.
	Pods      int `json:"pods"`
	Placed    int `json:"placed"`
	Failed    int `json:"failed"`
	Preempted int `json:"preempted"`
	// Nodes in the cluster; NodesUsed of them run at least one pod.
	Nodes     int `json:"nodes"`
	NodesUsed int `json:"nodesUsed"`
	// Failures are the first MaxFailures pods that did not fit.
	Failures  []Failure       `json:"failures"`
	Resources []ResourceUsage `json:"resources"`
	// Curve is the allocation after every 10% of the pods were submitted
	// (CurveSteps+1 points, 0% to 100%).
	Curve []CurvePoint `json:"curve"`
}

// Failure is a pod that did not fit and the scheduler's reason.
type Failure struct {
	Pod    string `json:"pod"`
	Reason string `json:"reason"`
}

// ResourceUsage is the cluster-wide allocation and stranding of a resource
// at the end of a run, in the scheduler's units (Unit).
type ResourceUsage struct {
	Resource         string   `json:"resource"`
	Unit             string   `json:"unit"`
	Requested        int64    `json:"requested"`
	Allocatable      int64    `json:"allocatable"`
	AllocatedPercent *float64 `json:"allocatedPercent"`
	Stranded         int64    `json:"stranded"`
	StrandedPercent  *float64 `json:"strandedPercent"`
}

// CurvePoint is the allocation after Submitted pods were submitted.
type CurvePoint struct {
	SubmittedPercent int                 `json:"submittedPercent"`
	Submitted        int                 `json:"submitted"`
	Placed           int                 `json:"placed"`
	AllocatedPercent map[string]*float64 `json:"allocatedPercent"`
}

// planner is the state shared by the runs of one Config.
type planner struct {
	cfg   *Config
	d     *dims
	model *shapeModel
	pods  []*corev1.Pod // pending copies of cfg.Pods
	vecs  []vec
	byKey map[string]vec
}

// Run compares the profiles on cfg.Nodes and, with cfg.SizeNode, sizes a
// cluster of that node shape per profile.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if len(cfg.Profiles) == 0 {
		return nil, fmt.Errorf("no profiles")
	}
	if len(cfg.Pods) == 0 {
		return nil, fmt.Errorf("the workload has no pods")
	}
	if cfg.Nodes == nil && cfg.SizeNode == nil {
		return nil, fmt.Errorf("neither nodes nor a node shape to size")
	}
	p := &planner{cfg: &cfg, byKey: map[string]vec{}}
	var sizeNodes []*corev1.Node
	if cfg.SizeNode != nil {
		sizeNodes = []*corev1.Node{cfg.SizeNode}
	}
	p.d = newDims(cfg.Pods, cfg.Nodes, sizeNodes)
	for _, pod := range cfg.Pods {
		k := podKey(pod)
		if _, dup := p.byKey[k]; dup {
			return nil, fmt.Errorf("pod %s appears twice in the workload", k)
		}
		c := pod
		if pod.Spec.NodeName != "" {
			c = pod.DeepCopy()
			c.Spec.NodeName = ""
		}
		v := p.d.podVec(c)
		p.pods = append(p.pods, c)
		p.vecs = append(p.vecs, v)
		p.byKey[k] = v
	}
	p.model = newShapeModel(p.d, p.vecs)
	rep := &Report{Input: cfg.Input, Shapes: p.model.count, ShapesUsed: p.model.shapes.N}
	rep.Input.PodCount = len(cfg.Pods)
	rep.Input.NodeCount = len(cfg.Nodes)
	rep.Input.Preemption = cfg.Preemption
	rep.Input.ScoreAllNodes = cfg.ScoreAllNodes
	for _, name := range p.d.names[:p.d.reported] {
		rep.Resources = append(rep.Resources, string(name))
	}
	if cfg.Nodes != nil {
		for _, prof := range cfg.Profiles {
			pr, err := p.compare(ctx, prof)
			if err != nil {
				return nil, err
			}
			rep.Profiles = append(rep.Profiles, *pr)
		}
	}
	if cfg.SizeNode != nil {
		s, err := p.size(ctx)
		if err != nil {
			return nil, err
		}
		rep.Sizing = s
	}
	return rep, nil
}

func (p *planner) newSim(ctx context.Context, prof Profile) (*simulator.Simulator, error) {
	sim, err := simulator.New(ctx, prof.Profile, simulator.Options{Preemption: p.cfg.Preemption, Parallelism: p.cfg.Parallelism, ScoreAllNodes: p.cfg.ScoreAllNodes})
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", prof.Name, err)
	}
	return sim, nil
}

// compare places the whole workload on cfg.Nodes with one profile.
func (p *planner) compare(ctx context.Context, prof Profile) (*ProfileReport, error) {
	sim, err := p.newSim(ctx, prof)
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	for _, n := range p.cfg.Nodes {
		if err := sim.AddNode(n); err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
	}
	label := fmt.Sprintf("%s: %d pods on %d nodes", prof.Name, len(p.pods), len(p.cfg.Nodes))
	out, err := p.place(ctx, sim, p.pods, p.vecs, label, false)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", prof.Name, err)
	}
	return p.report(sim, prof, out), nil
}

// outcome of submitting pods to a simulator.
type outcome struct {
	submitted, placed, failed, preempted int
	failures                             []Failure
	curve                                []CurvePoint
	// stopped: the run stopped at the first pod not hosted (stopOnFailure).
	stopped bool
}

// place submits pods one at a time. With stopOnFailure it stops at the
// first pod that does not fit or is preempted.
func (p *planner) place(ctx context.Context, sim *simulator.Simulator, pods []*corev1.Pod, vecs []vec, label string, stopOnFailure bool) (*outcome, error) {
	d := p.d
	total := make(vec, len(d.names))
	for _, ni := range sim.Nodes() {
		total.add(d.nodeVec(ni.Node()), 1)
	}
	allocated := make(vec, len(d.names))
	for _, ni := range sim.Nodes() { // pods already there (none in planner runs, but keep the sums honest)
		for _, pi := range ni.GetPods() {
			if v, ok := p.byKey[podKey(pi.GetPod())]; ok {
				allocated.add(v, 1)
			}
		}
	}
	out := &outcome{}
	n := len(pods)
	nextStep := 0
	checkpoint := func() {
		for nextStep <= CurveSteps && out.submitted == nextStep*n/CurveSteps {
			pt := CurvePoint{SubmittedPercent: nextStep * 100 / CurveSteps, Submitted: out.submitted, Placed: out.placed,
				AllocatedPercent: map[string]*float64{}}
			for i, name := range d.names[:d.reported] {
				pt.AllocatedPercent[string(name)] = percent(allocated[i], total[i])
			}
			out.curve = append(out.curve, pt)
			nextStep++
		}
	}
	prog := p.cfg.Progress
	if prog == nil {
		prog = noProgress{}
	}
	prog.Start(label, n)
	defer prog.Done()
	checkpoint()
	for i, pod := range pods {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r, err := sim.Schedule(ctx, pod)
		if err != nil {
			return nil, fmt.Errorf("pod %s: %w", podKey(pod), err)
		}
		out.submitted++
		for _, v := range r.Victims {
			if vv, ok := p.byKey[podKey(v)]; ok {
				allocated.add(vv, -1)
			}
			out.placed--
			out.preempted++
		}
		if r.Node != "" {
			allocated.add(vecs[i], 1)
			out.placed++
		} else {
			out.failed++
			if len(out.failures) < MaxFailures {
				out.failures = append(out.failures, Failure{Pod: podKey(pod), Reason: r.Reason})
			}
		}
		prog.Add(1)
		if stopOnFailure && (r.Node == "" || len(r.Victims) > 0) {
			out.stopped = true
			return out, nil
		}
		checkpoint()
	}
	return out, nil
}

// report reads the simulator's final state.
func (p *planner) report(sim *simulator.Simulator, prof Profile, out *outcome) *ProfileReport {
	d := p.d
	pr := &ProfileReport{Profile: prof.Name, Source: prof.Source, Pods: out.submitted, Placed: out.placed,
		Failed: out.failed, Preempted: out.preempted, Failures: out.failures, Curve: out.curve}
	if pr.Failures == nil {
		pr.Failures = []Failure{}
	}
	total, requested, stranded := make(vec, len(d.names)), make(vec, len(d.names)), make(vec, len(d.names))
	for _, ni := range sim.Nodes() {
		pr.Nodes++
		alloc := d.nodeVec(ni.Node())
		used := make(vec, len(d.names))
		for _, pi := range ni.GetPods() {
			if v, ok := p.byKey[podKey(pi.GetPod())]; ok {
				used.add(v, 1)
			} else {
				used.add(d.podVec(pi.GetPod()), 1)
			}
		}
		if len(ni.GetPods()) > 0 {
			pr.NodesUsed++
		}
		total.add(alloc, 1)
		requested.add(used, 1)
		stranded.add(p.model.stranded(alloc, used), 1)
	}
	for i, name := range d.names[:d.reported] {
		pr.Resources = append(pr.Resources, ResourceUsage{
			Resource: string(name), Unit: unit(name),
			Requested: requested[i], Allocatable: total[i], AllocatedPercent: percent(requested[i], total[i]),
			Stranded: stranded[i], StrandedPercent: percent(stranded[i], total[i]),
		})
	}
	return pr
}
