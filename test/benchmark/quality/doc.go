// Package quality is snug's placement-quality benchmark: eight placement
// policies place the Alibaba GPU cluster trace of the ATC'23 fragmentation
// study (cluster-trace-gpu-v2023, "openb": 1,523 nodes, 8,152 pods) in the
// deterministic in-process simulator (pkg/simulator), under three
// protocols, and the results become the "Placement quality" section of
// docs/benchmarks.md.
//
//	make bench-quality                               # full run, tens of minutes
//	make bench-quality BENCH_QUALITY_FLAGS=-quick    # every 4th node and pod
//	go run ./test/benchmark/quality/cmd/bench-quality -h
//	go test ./test/benchmark/quality/                # tiny synthetic protocols
//	make bench-quality-family [BENCH_QUALITY_FAMILY_FLAGS=-quick]  # every workload mix
//
// The trace is read from SNUG_OPENB_DIR (or -openb), never copied into the
// repository. Nodes and pods come from pkg/workload: GPUs are
// nvidia.com/gpu, GPU-sharing pods (gpu_milli < 1000) ask for one whole GPU,
// a gpu_spec is a required node affinity on snug.io/gpu-model (the label of
// the node list's model column), and creation and deletion times come from
// workload.Times.
//
// # Other inputs
//
// -nodes and -pods run any node and pod list pkg/workload reads, such as
// an openb-format pod list without its optional columns. A protocol that
// cannot run on the input is skipped, with the reason in Results.Skipped
// and in the report, and the others run: A and B when no pod requests a GPU
// or the nodes have none (offered load is GPUs over GPUs); B when a pod has
// no creation or deletion time (a list without the time columns) or no
// compression brings the peak to the target; C when a pod's required node
// affinity refuses the one node shape, or, with pods bound to GPU models,
// every node of the pool (a gpu_spec naming a model the node list has no
// GPU node of; PoolError). Pods without a creation time keep the list's
// order, ahead of the others. The report's text about the input (gpu_spec, the trace's timing
// in B) is computed from what was loaded.
//
// # Workload-mix family
//
// Package mix generates workload mixes from the lists (seeded, in memory):
// CPU-only demand scaled, more multi-GPU pods, GPU pods constrained to GPU
// models in the trace's proportions, other node pools. -mix runs one mix
// with the usual report; -family (RunFamily, RenderFamily) runs every
// policy on every mix of mix.Family() and writes a table per mix, each
// protocol's headline metric and snug's margin against the best other
// policy, into the Results section of docs/benchmarks-family.md. Its quick
// mode keeps every FamilyQuickEvery-th node and pod of each mix.
//
// # Policies
//
// Upstream profiles, as KubeSchedulerConfiguration files in profiles/
// decoded with simulator.DecodeConfig: least-allocated (the default
// profile), most-allocated and requested-to-capacity-ratio (NodeResourcesFit
// scoring strategies over cpu, memory and nvidia.com/gpu, weight 1 each; the
// ratio's shape is utilisation 0 → 0, 100 → 10) and balanced-allocation
// (NodeResourcesBalancedAllocation over the same resources as the only
// resource score). Reference heuristics, implemented only here
// (heuristics.go) as score plugins passed through simulator.Options.Registry,
// in the default profile with the NodeResourcesFit and BalancedAllocation
// scores disabled: best-fit (least leftover Σ free/allocatable after the
// placement), tetris (demand · free, both as fractions of the node's
// capacity; Grandl et al., SIGCOMM'14) and random (seeded, a hash of seed,
// pod and node). And snug's shipped profile, simulator.SnugProfile().
//
// The process turns off the DRAExtendedResource feature gate (see
// disableDRAExtendedResource): with it on, scoring nvidia.com/gpu with
// NodeResourcesFit or BalancedAllocation crashes in the simulator, which
// has no DRA manager.
//
// # Metrics
//
// Allocation of a resource is requested / allocatable over the cluster (GPU,
// CPU, memory). Stranded GPUs, CPU and memory are free capacity that no pod
// shape of the trace can use, computed per node with pkg/stranding
// (stranding.Stranded, layout cpu, memory, nvidia.com/gpu) and summed; the
// shapes are the trace's most frequent distinct pairs of request vector and
// accepted GPU models (workload.GPUModels), up to 64, and a node is judged
// only by the shapes that accept its snug.io/gpu-model label (unconstrained
// shapes accept every node, a node without the label only them; a resource
// that only other shapes request is stranded entirely). Without gpu_spec
// every shape is unconstrained and the shapes are the most frequent
// distinct request vectors.
// The model's relaxation: free capacity of a resource is usable up to what
// one shape, repeated as often as it fits, takes of it, so a mix of shapes
// could use a little more than the model credits; stranded capacity is an
// upper bound on what no mix of those shapes could use (and rarer shapes
// are ignored). GPU fragmentation, ATC'23 style but simplified, is the free
// GPUs on nodes where no GPU-requesting shape that accepts the node fits at
// all (at most the stranded GPUs).
//
// # Protocol A: fill
//
// Pods arrive in creation order, the list repeated (repeats renamed
// <name>-r<n>), until the GPUs requested reach 130% of the cluster's; a pod
// that fits nowhere fails and is not retried. At every 10% of offered load
// (GPUs requested so far / cluster GPUs) allocation, stranded capacity,
// GPU fragmentation and failed pods are recorded. Headline: stranded GPUs
// and failed pods at 100% and beyond.
//
// # Protocol B: churn
//
// Arrivals and departures replayed by trace time, arrival gaps compressed K
// times (pod i arrives at created_i/K) and lifetimes kept (deleted
// lifetime_i later), so replay seconds are trace seconds of pod lifetime. K
// is the smallest value on a 2% grid at which the offered GPU load (GPUs of
// pods between arrival and deletion, placed or not, over cluster GPUs)
// peaks at 100%: the openb pod list is a sample whose load at trace speed
// never exceeds ~1% of the cluster and whose lifetimes are heavy-tailed, so
// no K gives a steady load; the load ramps up while the list arrives and
// decays after. At each event time: departures, then pending pods whose
// deletion time has passed are dropped (and counted), then pending pods are
// retried in FIFO order, then arrivals are tried once and queued if they fit
// nowhere. A pending pod is handed to the scheduler again only when a node
// freed since its last attempt has room for its requests, which is exact
// for these profiles (resource fit is the only filter that can fail).
// Recorded: pending pod-seconds (headline), pods that waited, dropped pods,
// and stranded GPU-hours, fragmented GPU-hours and mean GPU allocation over
// the busy window (offered load at or above 50%).
//
// # Protocol C: compaction
//
// The fewest nodes of one shape (96 cores / 384 GiB / 8 GPUs, 110 pods) that
// host the whole pod list at once (all created first, so a learning policy
// sees the whole list pending; then scheduled in creation order), found per
// policy by a probe at the lower bound, growing steps, then bisection; each
// probe is a fresh simulator stopped at the first pod that fits nowhere.
// Pods larger than the node shape are left out and reported; pods whose
// node affinity refuses the shape skip the protocol (see Other inputs). The
// lower bound is max over cpu, memory, GPUs and pod slots of ceil(total
// demand / node capacity). Headline: nodes, and how far above the lower
// bound.
//
// When pods are bound to GPU models (a gpu_spec), the nodes follow the node
// list's models instead (Pool): per model its most common GPU-node shape,
// labelled snug.io/gpu-model, and the pool of N nodes is the first N of one
// deterministic sequence (one node of each model a constrained pod accepts,
// then each next node to the model furthest below its target share of the
// GPU demand; see Pool for the rule), so pool(N) is part of pool(N+1). A
// pod is oversize when no shape it accepts fits it. The lower bound is the
// smallest N whose pool has the total cpu, memory, GPUs and pod slots, and,
// for each set S of models pods accept, the GPUs of the pods that accept
// only models of S on S's models.
package quality
