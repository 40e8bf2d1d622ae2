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
// Shapes s^1..s^K are the pod shapes the cluster runs (request vectors),
// with frequency weights pi_k. Shape k fits c_k(f) = min over i with
// s^k_i > 0 of floor(f_i / s^k_i) more times in a free vector f (and at most
// the free pod slots).
//
// Stranded capacity (a level, used by metrics and the preemption plugin):
// capacity of dimension i that no single known shape, repeated, can reach,
//
//	usable_i   = max over k of min(f_i, c_k * s^k_i)
//	stranded_i = f_i - usable_i
//
// a relaxation (mixtures of shapes can reach a little more) that costs
// O(K * dims) per node.
//
// Expected fragmentation (what the score minimises): the part of f_i that
// the next pod demanding i cannot use, averaged over the shapes demanding i
// by frequency (rho_k,i = pi_k / sum of pi over shapes demanding i),
//
//	F_i(f) = f_i - sum over k demanding i of rho_k,i * min(f_i, c_k(f) * s^k_i)
//
// and a placement is judged by how much it changes it, in one unit per
// dimension for all nodes (Layout.Scale, the largest allocatable among the
// candidates, so a stranded GPU costs the same on every node):
//
//	dF = sum w_i * (F_i(f - p) - F_i(f)) / scale_i / sum w_i     in [-1, 1]
//
// over demanded dimensions, never pods. This is the fragmentation gradient
// of Weng et al. (USENIX ATC'23, "Beware of Fragmentation"), generalised
// from GPUs to every demanded resource: a pod that fills capacity already
// useless to the workload costs nothing (dF <= 0), one that breaks up a
// node the common shapes still fit costs most; a level instead of a change
// would blame a placement for fragments it did not make. Only demanded
// dimensions (requested by some shape) can fragment; a scarce dimension's
// weight in dF is multiplied by Layout.ScarceFragmentation (an idle GPU
// costs far more than idle cores). The expectation alone undervalues rare
// big shapes (an 8-GPU pod needs a whole node), so the score also weighs
// the stranded level left after placement, L = sum w_i * stranded_i / a_i /
// sum w_i (StrandedShare), which keeps nodes whole. With the packing term
// over dims with a_i > 0 (u: requested before the pod),
//
//	P = sum w_i * min(1, (u_i + p_i) / a_i) / sum w_i   (over dims the pod or a shape requests)
//	R = (W_pack*P + W_frag*(1 - dF)/2 + W_level*(1 - L) - W_host*H - W_bundle*(B - C)) / (W_pack + W_frag + W_level)
//
// clamped to [0, 1]. With a Layout Scale (the plugin's: the largest
// allocatable among the candidates), P counts the free capacity left in
// units of it, 1 - (a_i - u_i - p_i) / scale_i: best fit across node sizes.
// H is the host term (Plan.SetHosts): 1/h for a placement that takes away
// one of the h nodes a shape still fits on, the largest over such shapes,
// else 0, less what the pod pays on every candidate (Plan.SetHostBase). The
// caller may count in h only the hosts that pods still to come leave
// spare (the plugin does).
//
// B is the bundle term. The shapes that request a scarce dimension g need,
// per unit of g, r_i = sum pi_k s^k_i / sum pi_k s^k_g of each other
// weighted dimension i (neither scarce nor pods). A free vector serves
// U(f) = min(f_g, min_i f_i / r_i) units of g at that mix, and a pod takes
// at least own(p) = min(p_g, min_i p_i / r_i) of them (U is concave), so
//
//	B = sum over scarce g of (U(f) - U(f - p) - own(p)) / scale_g   >= 0
//
// is the scarce capacity the placement leaves without the resources its
// pods need beside it: a CPU-only pod that takes the cores idle GPUs need,
// or a GPU pod with few cores on a node whose cores other GPU pods need.
// B does not order the nodes short of cores: a few-core pod wastes nothing
// on any of them. C credits a pod that asks less than the mix of the
// dimension i binding U(f) (p_i < p_g r_i) with the GPUs it takes of those
// the node cannot serve, in proportion,
//
//	C = sum over scarce g of p_g * (1 - U(f) / f_g) / scale_g
//
// so few-core GPU pods fill the shortest nodes first, whose GPUs fewest pods
// can use, and leave the nodes with cores beside their GPUs to the pods that
// need them. A caller may drop the pod's credit (Plan.NoBundleCredit: own(p)
// = p_g and C = 0); the plugin does on nodes that pods bound to GPU models
// may use.
// Fragmentation asks whether the next pod of a shape fits; B asks whether
// the free GPUs and the free cores of the node can still serve the GPU
// demand together, which decides compaction when cpu fills the nodes.
//
// snug's defaults (1, 16, 4, scarce x50; host and bundle 16) were chosen on
// the Alibaba GPU trace and mixes generated from it (docs/benchmarks.md,
// docs/benchmarks-family.md): fragmentation first, level second, packing
// to break ties.
//
// Scarce dimensions (by default every extended resource) add a tier: a pod
// that requests none of them and would land on a node where one is free is
// in tier 1, every other placement in tier 0. Callers order placements
// lexicographically: scarce tier, then reserved (the caller's judgement
// that the node's scarce capacity is needed by pods that may use nothing
// else), then topology-spread violation (computed by the caller), then R;
// Normalize maps that order onto node scores (Tier, Encode).
package stranding
