// Package mix generates workload mixes for the placement-quality benchmark
// (test/benchmark/quality) from an openb-format node list and pod list: the
// Alibaba openb trace, or a user's own lists in the same format. A mix is
// the lists with a few documented changes; nothing is written unless asked
// (Generated.Write), and the benchmark makes every mix in memory.
//
//	nodes, _ := mix.ReadTableFile(".../openb_node_list_all_node.csv")
//	pods, _ := mix.ReadTableFile(".../openb_pod_list_default.csv")
//	g, err := mix.Family()[3].Generate(1, nodes, pods) // cpu-x2.5, seed 1
//	// g.Nodes, g.Pods: openb CSV tables (g.Pods.Bytes()); g.Notes: what changed
//
// From the command line: go run ./test/benchmark/quality/cmd/bench-quality
// with -mix NAME (one mix, the usual report), -family (every mix, the
// family report), -write-mix DIR (only write the generated CSV files),
// -nodes and -pods (your own lists), -mix-seed N.
//
// # The lists
//
// Tables are read as pkg/workload reads CSV (header line, # comments,
// fields trimmed) and written back with the same columns in the same order;
// optional columns the input lacks stay absent, except gpu_spec, added when
// a mix constrains pods. Node lists need sn, cpu_milli, memory_mib and gpu
// (model optional); pod lists name, cpu_milli, memory_mib, num_gpu and
// gpu_milli. A pod is a GPU pod when it asks for a GPU as pkg/workload
// reads it: num_gpu > 0, or gpu_milli > 0 (one GPU).
//
// # Changes (Mix)
//
//   - CPUScale: cpu_milli and memory_mib of every CPU-only pod times the
//     scale, rounded. Pods that then fit no node of the pool are counted in
//     the notes (they fail for every policy).
//   - MultiGPUShare: the share of GPU pods asking for more than one GPU is
//     raised to this (rounded up): that many 1-GPU pods, chosen uniformly at
//     random, take the requests (cpu_milli, memory_mib, num_gpu, gpu_milli,
//     gpu_spec) of a multi-GPU pod of the list, chosen uniformly at random,
//     so multi-GPU shapes keep the list's proportions. Names, times, qos and
//     phase are kept. A list without multi-GPU pods is an error.
//   - ConstrainedShare: the share of GPU pods with a gpu_spec is raised to
//     this (rounded): GPU pods without one, in a uniformly random order, get
//     a gpu_spec drawn in the trace's own model proportions: those of the
//     list's gpu_spec values (by pod count) if any pod has one, else each
//     GPU model's share of the pool's GPUs (node list, model column; openb:
//     G2 70.7%, T4 13.6%, G3 5.0%, P100 4.3%, V100M32 3.3%, V100M16 3.1%,
//     A10 0.03%). Only specs with a node of the pool that fits the pod when
//     empty are drawn, weights renormalised, so no pod is made infeasible by
//     its constraint (an 8-GPU pod never gets T4, whose nodes have 2 or 4
//     GPUs); a pod no spec fits is passed over. pkg/workload turns the
//     gpu_spec into a required node affinity on snug.io/gpu-model, the label
//     nodes get from the model column.
//   - Pool.HomogeneousGPU: the GPU nodes are replaced by nodes of the most
//     common GPU node shape of the list (openb: 96 cores / 384 GiB / 8 GPUs
//     G2), as many as hold at least the list's GPUs (openb: 777 nodes, 6,216
//     GPUs), named hgpu-node-NNNN; CPU-only nodes are kept, listed first.
//   - Pool.CPUNodeCopies: every CPU-only node is listed this many times,
//     copies <sn>-c1, <sn>-c2, ... right after it.
//
// The pool is made first, then the pods are changed in the order above
// (scale, multi-GPU, constraints). Every random step draws from its own
// PCG stream seeded by (seed, the step's name), so a mix is a function of
// the seed, its settings and the lists; the same seed gives byte-identical
// output, and changing one setting does not reshuffle another step.
//
// # Family
//
// Family() is the benchmark's family, one change at a time from the
// baseline, except cpu-heavy:
//
//	openb            the lists as loaded (baseline)
//	cpu-x0.5         CPU-only pods' cpu and memory x0.5
//	cpu-x1.5         ... x1.5
//	cpu-x2.5         ... x2.5 (openb: CPU-only demand 19,198 → 47,995 cores)
//	multi-gpu        10% of GPU pods multi-GPU (openb: 1.1%)
//	gpu-spec         a third of GPU pods constrained to a GPU model
//	homogeneous-gpu  GPU nodes replaced by the most common GPU node shape
//	cpu-heavy        CPU-only nodes x3 and CPU-only demand x2.5
//
// cpu-heavy pairs a CPU-heavy pool with the CPU-heavy demand it is for (a
// pool with three times openb's CPU-only nodes would otherwise sit mostly
// idle); cpu-x2.5 is the same demand on openb's pool, so the two isolate
// the pool. Parse also accepts settings ("cpu=3,cpu-copies=2,name=mine").
package mix
