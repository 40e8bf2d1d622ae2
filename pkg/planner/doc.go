// Package planner is snug's capacity planner (cmd/capacity-planner): it
// places a workload on a cluster with several scheduler profiles in snug's
// in-process simulator (pkg/simulator) and compares what they achieve, and
// it sizes clusters of one node shape.
//
//	capacity-planner --nodes nodes.csv --workload pods.yaml
//	capacity-planner --example kubernetes-patterns-table-2-2
//	capacity-planner --workload pods.csv --size-node cpu=96,memory=384Gi,nvidia.com/gpu=8
//
// Inputs are read by pkg/workload (YAML/JSON objects, generic CSV, Alibaba
// openb CSV); its errors name the file, line and field, and the command
// prefixes them with the flag (--workload: pods.csv:17: field "cpu": ...).
//
// # Profiles
//
// --profile is repeatable: "default" (kube-scheduler's default profile),
// "snug" (the shipped snug-scheduler profile), or NAME=PATH[:PROFILE] for a
// KubeSchedulerConfiguration file (PROFILE is the schedulerName, needed when
// the file has several profiles). Without --profile, default and snug are
// compared, in that order.
//
// # Simulation
//
// For each profile a fresh, deterministic simulator gets the nodes, then
// the pods one at a time in file order, each scheduled before the next is
// submitted (so learning plugins see the workload as it arrives). A pod's
// spec.nodeName is ignored: every pod is scheduled. With --preemption the
// profile's PostFilter plugin may evict placed pods for a pod that fits
// nowhere; evicted pods count as preempted and are not retried. A pod that
// fits nowhere stays pending (failed) and the run goes on.
//
// Above 100 nodes a cycle samples nodes as kube-scheduler does: it stops
// filtering once it has found the profile's percentageOfNodesToScore share
// of feasible nodes (adaptive when unset), starting where the previous
// cycle stopped, and scores only those. --score-all-nodes scores every
// feasible node instead; the report says which ran.
//
// # Measures
//
// Every measure is of the final state of a run, over all nodes, in the
// scheduler's units (millicores for cpu, bytes for memory, counts
// otherwise):
//
//   - placed, failed, preempted: pods; placed + failed + preempted = pods.
//   - failures: the first MaxFailures pods that did not fit, with the
//     scheduler's reason (its FitError message).
//   - nodes used: nodes running at least one pod.
//   - allocated (per resource): the sum of the placed pods' effective
//     requests (pkg/resourcemodel: init containers, sidecars, overhead and
//     pod-level resources counted as the scheduler counts them) over the sum
//     of the nodes' allocatable.
//   - stranded (per resource): free capacity that no pod shape of the
//     workload can use. The shapes are the workload's distinct request
//     vectors (every resource below plus one pod slot), the most frequent
//     stranding.MaxShapes (64) of them, ties to the first seen. For each
//     node, free = allocatable - requests of its pods, and
//     stranding.Stranded gives, per resource, free minus the most any one
//     shape, repeated as often as it fits in the whole free vector (pod
//     slots included), can use of it. Summed over nodes. E.g. a node whose
//     cpu is full strands all its free memory if every shape needs cpu; a
//     node without a free pod slot strands everything it has free. It is a
//     model of resources only: node selectors, affinity and taints are not
//     considered, and mixtures of shapes could reach a little more.
//
// Resources reported: cpu and memory always; then nvidia.com/gpu and every
// other resource some pod requests or, for extended resources, some node
// offers (sorted by name). Percentages are rounded to 0.1 and are null in
// JSON ("-" in tables) when the cluster has none of the resource.
//
// The curve records the allocation after every 10% of the pods were
// submitted (11 points: 0% to 100%, point k after k*pods/10 pods).
// --chart draws it as an SVG: one panel per reported resource, x the share
// of the workload submitted, y the share of the cluster's allocatable
// requested, one polyline per profile.
//
// # Sizing
//
// With --size-node (a node shape: a one-node YAML/CSV file, or a spec such
// as cpu=96,memory=384Gi,nvidia.com/gpu=8 whose pods default to 110), each
// profile gets the fewest nodes of that shape that host the whole workload:
//
//  1. Pods that do not fit one empty node of the shape (too large, node
//     affinity, taints, ...) can never be hosted: they are left out and
//     reported as unplaceable, with the reason.
//  2. The lower bound is max over resources, pod slots included, of
//     ceil(total requests / node allocatable), for the pods left.
//  3. Probes run the workload on n fresh nodes (one simulator per profile,
//     rewound with Fork/Revert between probes), stopping at the first pod
//     not placed or preempted. Counts are galloped up from the lower bound
//     (lb, lb+1, lb+3, lb+7, ..., capped at one node per pod, which always
//     hosts, or at --size-max) to a hosting count, then the gap is bisected.
//
// Bisection assumes that a profile that hosts the workload on n nodes also
// does on more; heuristics need not be monotone, so the answer is the fewest
// the search found, always confirmed by a probe that hosted every pod.
//
// # JSON (--output json)
//
// Field names are stable; fields are added, never renamed.
//
//	{
//	  "input": {"nodes": FILE, "workload": FILE, "example": NAME,   (those given)
//	            "nodeCount": N, "podCount": N, "preemption": BOOL,
//	            "scoreAllNodes": BOOL},
//	  "resources": ["cpu", "memory", "nvidia.com/gpu", ...],        (report order)
//	  "shapes": N, "shapesUsed": N,           (distinct pod shapes; how many the stranding model uses)
//	  "profiles": [PROFILE, ...],             (absent without a cluster)
//	  "sizing": {                             (absent without --size-node)
//	    "node": {"source": ARG, "allocatable": {RESOURCE: VALUE, ...}},
//	    "profiles": [{
//	      "profile": NAME, "pods": N (sized for), "unplaceable": N,
//	      "unplaceableFailures": [FAILURE, ...],
//	      "lowerBound": N, "boundBy": RESOURCE, "nodes": N (0 when none found),
//	      "maxNodes": N (the search's limit), "error": TEXT (only when none found),
//	      "probes": [{"nodes": N, "hosted": BOOL, "placed": N}, ...],
//	      "result": PROFILE (the run on "nodes" nodes)}]}
//	}
//	PROFILE = {"profile": NAME, "source": "built-in" | FILE[:PROFILE],
//	  "pods": N, "placed": N, "failed": N, "preempted": N,
//	  "nodes": N, "nodesUsed": N, "failures": [FAILURE, ...],
//	  "resources": [{"resource": NAME, "unit": "millicores" | "bytes" | "count",
//	                 "requested": N, "allocatable": N, "allocatedPercent": X | null,
//	                 "stranded": N, "strandedPercent": X | null}, ...],
//	  "curve": [{"submittedPercent": 0..100, "submitted": N, "placed": N,
//	             "allocatedPercent": {RESOURCE: X | null, ...}}, ...]}
//	FAILURE = {"pod": NAMESPACE/NAME, "reason": TEXT}
//
// # Progress
//
// On long runs (phases over a second) a progress bar on stderr shows the
// phase, pods done/total, the rate and the time left, redrawn at most ten
// times a second; it is on when stderr is a terminal or with --progress.
package planner
