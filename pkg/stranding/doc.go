// Package stranding is snug's pure placement-quality model: packing, stranded
// resources and scarce-resource avoidance as functions of resource vectors.
// It knows nothing about the scheduler framework, so the scheduler's score
// plugin, the preemption plugin, the simulator and the descheduler all judge
// a placement with the same arithmetic.
//
// # Model
//
// A Layout fixes the resource dimensions i (cpu, memory, ephemeral-storage,
// pods, extended resources such as nvidia.com/gpu) and their weights w_i.
// For a node with allocatable a, requested u (pods already bound) and an
// incoming pod p, the free vector after placement is
//
//	f_i = max(0, a_i - u_i - p_i)
//
// Shapes s^1..s^K are the pod shapes the cluster runs (request vectors).
// Shape k fits c_k = min over i with s^k_i > 0 of floor(f_i / s^k_i) more
// times. Capacity of dimension i that some shape can still use is
//
//	usable_i   = max over k of min(f_i, c_k * s^k_i)
//	stranded_i = f_i - usable_i
//
// i.e. free capacity that no single known shape, repeated, can reach. This is
// a relaxation (mixtures of shapes can reach a little more) that costs
// O(K * dims) per node and never over-reports stranding of a resource some
// shape could consume on its own. Only demanded dimensions (requested by
// some shape) can strand, and never the pod-count dimension: free pod slots
// cost nothing. Summed over dims with a_i > 0:
//
//	P = sum w_i * min(1, (u_i + p_i) / a_i) / sum w_i   (packing, over dims the pod or a shape requests)
//	S = sum w_i * stranded_i / a_i / sum w_i            (stranding, over demanded dims)
//	R = (W_pack * P + W_strand * (1 - S)) / (W_pack + W_strand)  in [0, 1]
//
// Scarce dimensions (by default every extended resource) add a tier: a pod
// that requests none of them and would land on a node where one is free is
// in tier 1, every other placement in tier 0. Callers order placements
// lexicographically: scarce tier, then topology-spread violation (computed
// by the caller), then R; Normalize maps that order onto node scores.
package stranding
