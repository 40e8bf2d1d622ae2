package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"

	"github.com/snug-sched/snug/pkg/resourcemodel"
	"github.com/snug-sched/snug/pkg/stranding"
	"github.com/snug-sched/snug/test/benchmark/quality"
)

// column is one pool at one moment, a column of a report.
type column struct {
	title string
	pool  pool
	nodes []nodeUse // in nodeShapes order
	// running and pending pods; why the pending ones wait.
	running, pending int
	pendingWhy       []string
	// Cluster totals in quality.Vec3 order (cpu millicores, memory bytes,
	// GPUs): allocatable, requested, stranded.
	allocatable, requested, stranded quality.Vec3
	held                             struct{ held, boundMissing int }
	victims                          int
	spread                           map[string][]int // app -> pods per zone
}

// nodeUse is one node's allocatable, requests and pods.
type nodeUse struct {
	shape       nodeShape
	gpuModel    string // snug.io/gpu-model label
	alloc, used quality.Vec3
	pods        int
}

// model is the stranding model of the reports: test/benchmark/quality's
// (cpu, memory, nvidia.com/gpu; pkg/stranding's Stranded per node) over the
// shapes of the whole workload, every step, as docs/benchmarks.md measures
// stranded capacity. The training job's shape is in it from the start, so a
// GPU node whose cpu is taken strands its GPUs before the job arrives.
func (w *workload) model() *quality.Model {
	var pods []*corev1.Pod
	for _, t := range w.templates {
		for range t.count {
			pods = append(pods, t.pod)
		}
	}
	return quality.NewModel(pods, stranding.MaxShapes)
}

// measure takes one column per pool.
func (d *demo) measure(ctx context.Context, held heldCounts) ([]column, error) {
	model := d.workload.model()
	var cols []column
	for _, p := range pools {
		col := column{title: p.scheduler, pool: p, held: held[p.name], spread: map[string][]int{}}
		nodes, err := d.c.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: poolLabel + "=" + p.name})
		if err != nil {
			return nil, err
		}
		byName := map[string]*nodeUse{}
		for _, s := range nodeShapes {
			col.nodes = append(col.nodes, nodeUse{shape: s})
		}
		for i, s := range nodeShapes {
			for _, n := range nodes.Items {
				if n.Name == nodeName(p, s) {
					for r, name := range quality.ResourceNames {
						col.nodes[i].alloc[r] = float64(resourcemodel.Value(name, n.Status.Allocatable))
					}
					col.nodes[i].gpuModel = quality.NodeGPUModel(&n)
					byName[n.Name] = &col.nodes[i]
				}
			}
		}
		zoneOf := map[string]int{}
		for _, s := range nodeShapes {
			for z, name := range zones {
				if s.zone == name {
					zoneOf[nodeName(p, s)] = z
				}
			}
		}
		pods, err := d.c.CoreV1().Pods(p.namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		for i := range pods.Items {
			pod := &pods.Items[i]
			if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
				continue
			}
			n := byName[pod.Spec.NodeName]
			if n == nil {
				col.pending++
				why := "not decided yet"
				if c := scheduledCondition(pod); c != nil {
					why = c.Reason + ": " + c.Message
				}
				col.pendingWhy = append(col.pendingWhy, pod.Name+": "+why)
				continue
			}
			col.running++
			n.pods++
			v := quality.PodVec(pod)
			for r := range v {
				n.used[r] += v[r]
			}
			app := pod.Labels["app"]
			if col.spread[app] == nil {
				col.spread[app] = make([]int, len(zones))
			}
			col.spread[app][zoneOf[pod.Spec.NodeName]]++
		}
		for _, n := range col.nodes {
			st := model.Eval(n.gpuModel, n.alloc, n.used)
			for r := range n.alloc {
				col.allocatable[r] += n.alloc[r]
				col.requested[r] += n.used[r]
				col.stranded[r] += st.Stranded[r]
			}
		}
		if col.victims, err = d.preemptionVictims(ctx, p.namespace); err != nil {
			return nil, err
		}
		sort.Strings(col.pendingWhy)
		cols = append(cols, col)
	}
	return cols, nil
}

// preemptionVictims counts the namespace's pods that a scheduler preempted
// (event reason Preempted on the victim, from either scheduler: snug's
// QoSAwarePreemption uses upstream's executor).
func (d *demo) preemptionVictims(ctx context.Context, namespace string) (int, error) {
	events, err := d.c.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("reason", "Preempted").String()})
	if err != nil {
		return 0, err
	}
	victims := map[types.UID]bool{}
	for _, e := range events.Items {
		victims[e.InvolvedObject.UID] = true
	}
	return len(victims), nil
}

// printReport prints the columns side by side: the pools' totals, then
// node by node.
func printReport(title string, cols []column) {
	fmt.Printf("\n== %s\n\n", title)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 3, ' ', 0)
	row := func(label string, cell func(c column) string) {
		fmt.Fprint(w, "  "+label)
		for _, c := range cols {
			fmt.Fprint(w, "\t"+cell(c))
		}
		fmt.Fprintln(w, "\t")
	}
	row("", func(c column) string { return c.title })
	row("nodes used", func(c column) string {
		used := 0
		for _, n := range c.nodes {
			if n.pods > 0 {
				used++
			}
		}
		return fmt.Sprintf("%d of %d", used, len(c.nodes))
	})
	row("pods running / pending", func(c column) string { return fmt.Sprintf("%d / %d", c.running, c.pending) })
	for r, name := range quality.ResourceNames {
		row(string(name)+" requested", func(c column) string {
			return fmt.Sprintf("%s of %s (%s)", quantity(r, c.requested[r]), quantity(r, c.allocatable[r]), pct(c.requested[r], c.allocatable[r]))
		})
	}
	for r, name := range quality.ResourceNames {
		row(string(name)+" stranded", func(c column) string {
			return fmt.Sprintf("%s (%s)", quantity(r, c.stranded[r]), pct(c.stranded[r], c.allocatable[r]))
		})
	}
	held := false
	for _, c := range cols {
		held = held || c.held.held > 0 || c.held.boundMissing > 0
	}
	if held {
		row("held: missing dependency (step 1)", func(c column) string {
			if c.held.boundMissing > 0 {
				return fmt.Sprintf("%d (%d bound without it)", c.held.held, c.held.boundMissing)
			}
			return strconv.Itoa(c.held.held)
		})
	}
	row("preemption victims (so far)", func(c column) string { return strconv.Itoa(c.victims) })
	apps := map[string]bool{}
	for _, c := range cols {
		for a := range c.spread {
			apps[a] = true
		}
	}
	var names []string
	for a := range apps {
		names = append(names, a)
	}
	sort.Strings(names)
	for _, a := range names {
		row(fmt.Sprintf("%s pods per zone (%s)", a, strings.Join(zones, "/")), func(c column) string {
			s := c.spread[a]
			if s == nil {
				s = make([]int, len(zones))
			}
			parts := make([]string, len(s))
			for i, n := range s {
				parts[i] = strconv.Itoa(n)
			}
			return strings.Join(parts, "/")
		})
	}
	fmt.Fprintln(w, "\t")
	row("node: cpu mem gpu requested, pods", func(c column) string { return "" })
	for i, s := range nodeShapes {
		row(fmt.Sprintf("  %s (%s)", s.name, s.zone), func(c column) string {
			n := c.nodes[i]
			if n.pods == 0 {
				return "-"
			}
			gpu := "-"
			if n.alloc[quality.GPU] > 0 {
				gpu = fmt.Sprintf("%g/%g", n.used[quality.GPU], n.alloc[quality.GPU])
			}
			return fmt.Sprintf("%s %s %s, %d", pct(n.used[quality.CPU], n.alloc[quality.CPU]), pct(n.used[quality.Mem], n.alloc[quality.Mem]), gpu, n.pods)
		})
	}
	w.Flush()
	for _, c := range cols {
		for _, why := range c.pendingWhy {
			fmt.Printf("  pending in %s: %s\n", c.pool.namespace, why)
		}
	}
	fmt.Println()
}

// quantity renders resource r of quality.Vec3: cores, GiB or a count.
func quantity(r int, v float64) string {
	switch r {
	case quality.CPU:
		return strconv.FormatFloat(math.Round(v/100)/10, 'f', -1, 64)
	case quality.Mem:
		return strconv.FormatFloat(math.Round(v/(1<<30)*10)/10, 'f', -1, 64) + "Gi"
	default:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
}

func pct(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*a/b)
}
