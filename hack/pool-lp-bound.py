#!/usr/bin/env python3
"""Protocol C's lower bound on a pool of GPU models, tightened by the LP.

When some pods are bound to GPU models (an openb gpu_spec, a required node
affinity on snug.io/gpu-model), protocol C (test/benchmark/quality) sizes a
pool, not one node shape: per GPU model the node list's most common GPU-node
shape, and one deterministic sequence of those shapes, of which pool(N) is
the first N (pool.go: PoolShapes, NewPool, newSeq/next). Its bound
(Pool.LowerBound) is per resource over the whole pool plus, per set of
accepted models, GPUs only. This script rebuilds the pool exactly as pool.go
does, prints that bound, and bounds the pool size by the LP relaxation of
the vector bin packing with models (cpu milli, memory MiB, whole GPUs, pod
slots at 1 each; a pod that shares a GPU counts one whole GPU, as protocol
C does, dff-bound.py's rule). Every pool node has a GPU model; a pod
without gpu_spec (CPU-only pods included) accepts every shape, one with a
gpu_spec the shapes of the models it names; a pod that fits no shape it
accepts when empty is oversize and left out, as NewPool does.

Model. Pods with the same request vector and the same set of accepted
shapes are one type t with demand d_t. A pattern of shape k is an integer
vector a (0 <= a_t <= d_t) of pods all accepted by k's model that fit one
node of shape k together. pool(N) has c_k(N) nodes of shape k (its
composition). The LP for N is, over patterns p (shape k(p)):

  sum_p a_tp x_p >= d_t (every type),  sum_{p of k} x_p <= c_k(N),  x >= 0.

Feasibility is decided by its Phase-1 problem, solved by column generation:
min sum_t s_t s.t. sum_p a_tp x_p + s_t >= d_t, the budgets, x, s >= 0 (the
total uncovered demand, in pods; feasible iff 0). Its restricted master is
always feasible; its duals are y_t in [0, 1] (cover rows) and u_k >= 0
(budgets); pricing is, per shape k (patterns enter if c_k(N) > 0), the knapsack
v_k(y) = max y.a over the patterns of k (scipy.optimize.milp, HiGHS; loose
gap first, exact when that finds nothing; greedy patterns too), and a
pattern enters if y.a > u_k.

Why the bound is valid (the certificate, Farley-like). For any y >= 0 and
upper bounds V_k >= max over patterns of shape k of y.a: if the pods can be
packed on pool(N), the nodes used give patterns x (integers) with
d.y <= sum_p (y.a_p) x_p <= sum_k V_k (nodes of shape k used)
   <= sum_k c_k(N) V_k.
So d.y > sum_k c_k(N) V_k proves that no packing (nor LP solution) on
pool(N) exists. The V_k are the knapsacks' dual bounds (valid at any gap),
and as c_k(N) only grows with N (pool(N) is part of pool(N+1)), one y proves
infeasibility for every N up to the smallest N' with sum c_k(N') V_k >= d.y:
the search jumps there. Each iteration's duals are checked this way; a
restricted master of value 0 proves the LP feasible at N. So the search runs
N upward from the benchmark's bound and the LP bound printed is the
smallest N not refuted by a certificate, which is also (up to tolerance) the
smallest LP-feasible N: at an exact pricing with no entering pattern the
master's duals certify its value z > 0 (d.y - sum c_k u_k = z, u_k >= v_k).
Certificates are accepted only with a margin d.y - sum c_k V_k > 1e-6 d.y +
1e-6, against HiGHS's tolerances; the margin at N is printed (in the Phase-1
duals' units: pods). The search may start at the benchmark's bound because
that bound is itself such a certificate (y = a resource's requests, V_k the
shape's capacity; or y = the GPUs of pods accepting only models of a set S,
V_k = the shape's GPUs for k in S, 0 otherwise). -start N searches from N
instead (a check of the certificates: they must refute up to the bound).

Packing (upper side; -pack seconds, 0: none): the LP's x rounded down plus
first-fit decreasing, then at M = N, N+1, ...: diving (solve the LP by
column generation on what is left, fix floor(x) copies of its patterns, or
one copy of the largest x, take them off the demand and the budgets, repeat)
and, where diving fails, the integer master over the generated patterns
(-ip seconds) plus first-fit decreasing, adding nodes in sequence order if
needed. Every packing is checked (each pod placed once, capacities, models):
the whole list on pool(M), in any order, not protocol C's creation order; at
M = the LP bound it is optimal.

Sampling: like -every / quick mode (NewTrace), every n-th row of the node
list and of the pod list, from the first; pods are then sorted by creation
time (stable), which fixes the float sums of the models' target shares.

  go run ./test/benchmark/quality/cmd/bench-quality -family -mixes gpu-spec -write-mix /tmp/mixes
  hack/pool-lp-bound.py /tmp/mixes/gpu-spec/openb_node_list_all_node.csv \\
      /tmp/mixes/gpu-spec/openb_pod_list_default.csv 8    # every 8th: -quick family

Needs scipy >= 1.9 (apt-get install python3-scipy; run it with the python3
that has it). Only openb-format node lists (sn, cpu_milli, memory_mib, gpu,
model; 110 pod slots per node, pkg/workload's default) and openb pod lists.
"""
import argparse
import collections
import csv
import sys
import time

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

MAX_PODS = 110  # pkg/workload DefaultMaxPods: openb nodes state no pods allocatable
EPS = 1e-7  # a pattern enters if y.a > u_k + EPS (y in [0, 1], in pods)
CERT_REL, CERT_ABS = 1e-6, 1e-6  # certificate margin required
GAPS = (1e-2, 1e-4, 0)  # knapsack relative gaps, looser first
PRICE_TIME = 60  # seconds per knapsack


# ---------------------------------------------------------------- input

def load_nodes(path, every):
    """Sampled nodes (NewTrace: rows 0, every, 2 every, ...) as (model, cpu milli, memory MiB, GPUs, pods)."""
    rows = list(csv.DictReader(open(path)))[::every]
    return [((r.get("model") or "").strip(), int(r["cpu_milli"]), int(r["memory_mib"]), int(r["gpu"]), MAX_PODS) for r in rows]


def created(r):
    """workload.Times' creation time for NewTrace's sort (0 when none)."""
    s = (r.get("creation_time") or "").strip()
    if not s:
        return 0
    try:
        return int(s)
    except ValueError:
        return int(float(s))


def load_pods(path, every):
    """Sampled pods sorted by creation time (stable), as (name, cpu milli, memory MiB, GPUs, models or None).
    GPUs as pkg/workload requests them: num_gpu, or 1 for a share of a GPU without num_gpu."""
    rows = list(csv.DictReader(open(path)))[::every]
    rows.sort(key=created)  # stable
    pods = []
    for r in rows:
        num, milli = int(r["num_gpu"]), int(r["gpu_milli"])
        gpus = num if num > 0 else (1 if milli > 0 else 0)
        spec = (r.get("gpu_spec") or "").strip()
        models = None
        if spec:
            models = []
            for m in spec.split("|"):
                m = m.strip()
                if m and m not in models:
                    models.append(m)
        pods.append((r["name"], int(r["cpu_milli"]), int(r["memory_mib"]), gpus, models))
    return pods


# ---------------------------------------------------------------- pool.go

class Shape:
    def __init__(self, model, cpu, mem, gpus, pods, nodes, model_nodes, share):
        self.model, self.cpu, self.mem, self.gpus, self.pods = model, cpu, mem, gpus, pods
        self.nodes, self.model_nodes, self.trace_share = nodes, model_nodes, share
        self.constrained_gpus = self.demand_gpus = self.target = 0.0
        self.demanded = False

    def cap(self):
        return (self.cpu, self.mem, self.gpus, self.pods)

    def fits(self, v):
        return v[0] <= self.cpu and v[1] <= self.mem and v[2] <= self.gpus


def pool_shapes(nodes):
    """PoolShapes: per model (sorted by name) its most common GPU-node shape, ties to more GPUs, cpu, memory, pods."""
    counts, model_nodes, model_gpus = collections.Counter(), collections.Counter(), collections.defaultdict(float)
    gpus = 0.0
    for model, cpu, mem, g, pods in nodes:
        if model == "" or g <= 0:
            continue
        counts[(model, cpu, mem, g, pods)] += 1
        model_nodes[model] += 1
        model_gpus[model] += float(g)
        gpus += float(g)
    best = {}
    for k, n in counts.items():
        b = best.get(k[0])
        if b is None or n > counts[b] or n == counts[b] and (k[3], k[1], k[2], k[4]) > (b[3], b[1], b[2], b[4]):
            best[k[0]] = k
    return [Shape(m, best[m][1], best[m][2], best[m][3], best[m][4], counts[best[m]], model_nodes[m], model_gpus[m] / gpus)
            for m in sorted(best)]


def new_pool(nodes, pods):
    """NewPool: shapes (with target shares), fit pods as (request, accepted mask), oversize pods, fit pods'
    names. Exits on a PoolError."""
    shapes = pool_shapes(nodes)
    if not shapes:
        sys.exit("the node list has no GPU node with a model, so no pool of GPU models can be sized")
    if len(shapes) > 64:
        sys.exit("more than 64 GPU models")
    full = (1 << len(shapes)) - 1
    masks, refused = [], 0
    for p in pods:
        m = full if p[4] is None else sum(1 << k for k, s in enumerate(shapes) if s.model in p[4])
        refused += m == 0
        masks.append(m)
    if refused:
        sys.exit("%d pods accept no node of the pool (models %s)" % (refused, ", ".join(s.model for s in shapes)))
    fit, oversize, names = [], [], []
    for p, m in zip(pods, masks):
        v = p[1:4]
        if not any(m >> k & 1 and s.fits(v) for k, s in enumerate(shapes)):
            oversize.append(p)
            continue
        fit.append((v, m))
        names.append(p[0])
        g = float(v[2])
        if m != full:
            for k, s in enumerate(shapes):
                if m >> k & 1:
                    s.demanded = True
            if bin(m).count("1") == 1:
                shapes[m.bit_length() - 1].constrained_gpus += g
        if g == 0:
            continue
        w = 0.0
        for k, s in enumerate(shapes):
            if m >> k & 1:
                w += s.trace_share
        for k, s in enumerate(shapes):
            if m >> k & 1:
                s.demand_gpus += g * s.trace_share / w
    total = 0.0
    for s in shapes:
        total += s.demand_gpus
    for s in shapes:
        s.target = s.demand_gpus / total if total > 0 else s.trace_share
    return shapes, fit, oversize, names


class Seq:
    """newSeq/next: the pool's sequence of shapes, node by node."""

    def __init__(self, shapes):
        self.shapes = shapes
        self.order = sorted([k for k, s in enumerate(shapes) if s.demanded], key=lambda k: -shapes[k].target)  # stable
        self.n, self.gpus, self.gpu_sum = 0, [0.0] * len(shapes), 0.0

    def next(self):
        k = -1
        if self.n < len(self.order):
            k = self.order[self.n]
        else:
            gap = 0.0
            for j, s in enumerate(self.shapes):
                if s.target <= 0:
                    continue
                g = s.target
                if self.gpu_sum > 0:
                    g -= self.gpus[j] / self.gpu_sum
                if k < 0 or g > gap or g == gap and s.target > self.shapes[k].target:
                    k, gap = j, g
        self.n += 1
        self.gpus[k] += float(self.shapes[k].gpus)
        self.gpu_sum += float(self.shapes[k].gpus)
        return k


class Pool:
    """The sequence, grown on demand; comp(n) is the composition of pool(n)."""

    def __init__(self, shapes):
        self.shapes, self.q, self.seq, self.comps = shapes, Seq(shapes), [], [np.zeros(len(shapes), dtype=np.int64)]

    def grow(self, n):
        while len(self.seq) < n:
            k = self.q.next()
            self.seq.append(k)
            c = self.comps[-1].copy()
            c[k] += 1
            self.comps.append(c)

    def comp(self, n):
        self.grow(n)
        return self.comps[n]

    def comp_string(self, n):
        c = self.comp(n)
        idx = sorted([k for k in range(len(c)) if c[k] > 0], key=lambda k: -c[k])  # stable: ties by model
        return ", ".join("%s %d" % (self.shapes[k].model, c[k]) for k in idx)

    def first_n(self, ok, start=0):
        """Smallest n >= start with ok(comp(n))."""
        n = start
        while not ok(self.comp(n)):
            n += 1
            if n > 10_000_000:
                raise RuntimeError("no pool of up to 10,000,000 nodes")
        return n


def benchmark_bound(pool, fit):
    """Pool.LowerBound: per resource (cpu, memory, GPUs, pod slots) and per set of accepted models (GPUs)."""
    shapes = pool.shapes
    full = (1 << len(shapes)) - 1
    demand = [sum(v[0] for v, _ in fit), sum(v[1] for v, _ in fit), sum(v[2] for v, _ in fit), len(fit)]
    sets = sorted({m for _, m in fit if m != full})
    set_gpus = [sum(v[2] for v, m in fit if m & ~s == 0) for s in sets]
    caps = np.array([s.cap() for s in shapes], dtype=np.int64)
    gpus = np.array([s.gpus for s in shapes], dtype=np.int64)
    per = [0 if d <= 0 else pool.first_n(lambda c, j=j, d=d: c @ caps[:, j] >= d) for j, d in enumerate(demand)]
    per_set = []
    for s, g in zip(sets, set_gpus):
        sel = np.array([s >> k & 1 for k in range(len(shapes))])
        per_set.append(0 if g <= 0 else pool.first_n(lambda c, g=g, sel=sel: c @ (gpus * sel) >= g))
    return max(per + per_set), per, list(zip(sets, set_gpus, per_set))


# ---------------------------------------------------------------- LP

class LP:
    """Phase-1 column generation for the pool's LP; columns are kept across N."""

    def __init__(self, shapes, W, M, d, verbose, seed=()):
        """seed: (shape, pattern) columns to start from, cut down to the demand d."""
        self.shapes, self.W, self.M, self.d, self.v = shapes, W, M, d, verbose
        self.T, self.K = len(d), len(shapes)
        self.caps = np.array([s.cap() for s in shapes], dtype=float)
        # ok[k]: types with demand that shape k accepts and fits empty
        self.ok = [np.array([t for t in range(self.T) if d[t] > 0 and M[t] >> k & 1 and np.all(W[t] <= self.caps[k])], dtype=int)
                   for k in range(self.K)]
        self.cols, self.kinds, self.seen = [], [], set()
        for k in range(self.K):  # one maximal single-type pattern per (shape, type)
            for t in self.ok[k]:
                a = np.zeros(self.T)
                a[t] = min(d[t], np.floor(np.min(np.where(W[t] > 0, self.caps[k] / np.maximum(W[t], 1), np.inf))))
                self.add(k, a)
        for k, a in seed:
            self.add(k, np.minimum(a, d))

    def add(self, k, a):
        key = (k, a.tobytes())
        if key in self.seen or not a.any():
            return False
        assert np.all(self.W.T @ a <= self.caps[k]) and np.all(a <= self.d) and np.all(a[[t for t in range(self.T) if not self.M[t] >> k & 1]] == 0)
        self.seen.add(key)
        self.cols.append(a)
        self.kinds.append(k)
        return True

    def master(self, c):
        """Phase 1 on the columns: (uncovered z, x, y, u)."""
        A = np.array(self.cols).T
        P, T = A.shape[1], self.T
        B = np.zeros((self.K, P))
        B[self.kinds, np.arange(P)] = 1
        A_ub = np.block([[-A, -np.eye(T)], [B, np.zeros((self.K, T))]])
        b_ub = np.concatenate([-self.d, c])
        r = linprog(np.concatenate([np.zeros(P), np.ones(T)]), A_ub=A_ub, b_ub=b_ub, bounds=(0, None), method="highs")
        assert r.status == 0, r.message
        mg = -r.ineqlin.marginals
        return r.fun, r.x[:P], np.clip(mg[:T], 0, None), np.clip(mg[T:], 0, None)

    def price(self, k, y, gap, limit):
        """max y.a over patterns of shape k: (pattern, value, upper bound)."""
        idx = self.ok[k][y[self.ok[k]] > 0]
        a = np.zeros(self.T)
        if len(idx) == 0:
            return a, 0.0, 0.0
        W = self.W[idx]
        r = milp(-y[idx], integrality=np.ones(len(idx)), bounds=Bounds(0, self.d[idx]),
                 constraints=LinearConstraint(W.T, -np.inf, self.caps[k]), options={"mip_rel_gap": gap, "time_limit": limit})
        ub = -r.mip_dual_bound if r.mip_dual_bound is not None and np.isfinite(r.mip_dual_bound) else np.inf
        if r.x is None:
            return a, 0.0, ub
        a[idx] = np.round(r.x)
        if not (np.all(self.W.T @ a <= self.caps[k]) and np.all(a <= self.d)):
            return np.zeros(self.T), 0.0, ub
        return a, y @ a, max(ub, y @ a)

    def greedy(self, k, y):
        """Cheap patterns of shape k: fill a node by y_t over size, sizes measured a few ways."""
        out, ok = [], self.ok[k]
        W, cap = self.W, self.caps[k]
        for size in (W / cap).max(axis=1), (W / cap).sum(axis=1), W[:, 0] / cap[0]:
            left, a = cap.copy(), np.zeros(self.T)
            for t in ok[np.argsort(-y[ok] / np.maximum(size[ok], 1e-12))]:
                if y[t] > 0:
                    a[t] = min(self.d[t], np.min(np.where(W[t] > 0, left // np.maximum(W[t], 1), np.inf)))
                    left -= a[t] * W[t]
            out.append(a)
        return out


def certificate(pool, d, y, V, start):
    """The smallest n >= start that y, V do not refute: d.y <= sum c_k(n) V_k + margin."""
    dy = d @ y
    return pool.first_n(lambda c: dy - covered(c, V) <= CERT_REL * dy + CERT_ABS, start), dy


def covered(c, V):
    """sum_k c_k V_k over the shapes the pool has (V_k may be inf where the knapsack found no bound)."""
    return sum(c[k] * V[k] for k in range(len(c)) if c[k] > 0)


def phase1(lp, c, deadline, it, check=None):
    """Column generation for Phase 1 at budgets c (nodes per shape). After each round of pricing,
    check(y, V, z, gap, new) may end it with its own result (V: the knapsacks' upper bounds, every
    shape). Returns ('feasible', z, x) when the restricted master covers all demand, ('stopped', z, x)
    at the deadline or when exact pricing finds nothing (then z > 0 is the LP's optimum)."""
    while True:
        z, x, y, u = lp.master(c)
        y[y <= 1e-12] = 0  # priced over types with y_t > 0 only: V is exact for this y
        it[0] += 1
        if z <= 1e-9:
            return "feasible", z, x
        if time.time() > deadline:
            return "stopped", z, x
        for gap in GAPS:
            V, new = np.zeros(lp.K), 0
            for k in range(lp.K):  # every shape if checked: V bounds the pools beyond n too (the jump)
                if c[k] == 0 and check is None:
                    continue
                a, val, ub = lp.price(k, y, gap, max(1, min(deadline - time.time(), PRICE_TIME)))
                V[k] = ub
                if c[k] == 0:
                    continue
                if val > u[k] + EPS:
                    new += lp.add(k, a)
                for g in lp.greedy(k, y):
                    if y @ g > u[k] + EPS:
                        new += lp.add(k, g)
            if check is not None:
                r = check(y, V, z, gap, new)
                if r is not None:
                    return r
            if new:
                break
        else:
            return "stopped", z, x


def decide(lp, pool, n, deadline, it):
    """Column generation at pool(n): ('feasible', z, x), ('refuted', next n, margin) or ('stopped', z, x)."""
    c = pool.comp(n).astype(float)

    def check(y, V, z, gap, new):
        nxt, dy = certificate(pool, lp.d, y, V, n)
        if lp.v:
            print("    n=%d iter %d: %d patterns, uncovered %.6f, gap %g, %d new, d.y %.4f, sum c V %.4f" % (
                n, it[0], len(lp.cols), z, gap, new, dy, covered(c, V)), flush=True)
        if nxt > n:
            return "refuted", nxt, dy - covered(c, V)
        return None

    return phase1(lp, c, deadline, it, check)


def dive(lp0, c0, deadline, it):
    """Diving heuristic for an integer packing on budgets c0: solve the LP (column generation), fix
    floor(x) copies of its patterns (or one copy of the largest x if all are below 1), take what they
    cover off the demand and their nodes off the budgets, and repeat on what is left. Returns the
    fixed (shape, pattern, copies), or None if a residual LP is infeasible or time runs out."""
    d, c, fixed, cols = lp0.d.copy(), c0.copy(), [], list(zip(lp0.kinds, lp0.cols))
    while d.sum() > 0:
        lp = LP(lp0.shapes, lp0.W, lp0.M, d, False, [(k, a) for k, a in cols if c[k] > 0])
        status, z, x = phase1(lp, c, deadline, it)
        if status != "feasible":
            return None
        cols = list(zip(lp.kinds, lp.cols))
        fix = np.floor(x + 1e-6)
        if fix.sum() == 0:
            fix[np.argmax(x)] = 1
        for p in np.nonzero(fix)[0]:
            k = lp.kinds[p]
            fixed.append((k, lp.cols[p].copy(), int(fix[p])))
            c[k] -= fix[p]
            d = np.maximum(d - lp.cols[p] * fix[p], 0)
        assert np.all(c >= 0)
    return fixed


# ---------------------------------------------------------------- packing

def integer_master(lp, c, limit):
    """min uncovered pods over integer multiples of the generated patterns within budgets c: (x, uncovered, optimal) or None."""
    A = np.array(lp.cols).T
    P, T = A.shape[1], lp.T
    B = np.zeros((lp.K, P))
    B[lp.kinds, np.arange(P)] = 1
    r = milp(np.concatenate([np.zeros(P), np.ones(T)]), integrality=np.concatenate([np.ones(P), np.zeros(T)]),
             bounds=Bounds(0, np.inf), constraints=[LinearConstraint(np.hstack([A, np.eye(T)]), lp.d, np.inf),
                                                     LinearConstraint(np.hstack([B, np.zeros((lp.K, T))]), -np.inf, c)],
             options={"time_limit": limit})
    if r.x is None:
        return None
    x = np.round(r.x[:P])
    return [(lp.kinds[p], lp.cols[p], int(x[p])) for p in np.nonzero(x)[0]], r.fun, r.status == 0


def packing(lp, pool, n, fixed):
    """A real packing on a prefix of the pool: the fixed (shape, pattern, copies) on the nodes of pool(n),
    then first-fit decreasing for the pods they leave, adding nodes in sequence order when needed.
    Checked: every pod placed once, capacities, models. Returns (nodes of the prefix used M, pods the
    patterns placed)."""
    T = lp.T
    # nodes of pool(n): patterns on the first nodes of their shape
    pool.grow(n)
    nodes = [[k, np.array(lp.caps[k]), collections.Counter()] for k in pool.seq[:n]]
    free = {k: [i for i in range(n) if pool.seq[i] == k] for k in range(lp.K)}
    left = lp.d.copy()
    for k, a, copies in fixed:
        for _ in range(copies):
            i = free[k].pop(0)
            for t in np.nonzero(a)[0]:
                take = min(int(a[t]), int(left[t]))
                if take:
                    nodes[i][1] -= take * lp.W[t]
                    nodes[i][2][t] += take
                    left[t] -= take
    by_master = int(lp.d.sum() - left.sum())
    # first-fit decreasing for the rest, adding nodes in sequence order
    order = sorted([t for t in range(T) for _ in range(int(left[t]))],
                   key=lambda t: -max(lp.W[t][:3] / lp.caps.max(axis=0)[:3]))
    for t in order:
        for node in nodes:
            if lp.M[t] >> node[0] & 1 and np.all(lp.W[t] <= node[1]):
                break
        else:
            while True:
                pool.grow(len(nodes) + 1)
                k = pool.seq[len(nodes)]
                nodes.append([k, np.array(lp.caps[k]), collections.Counter()])
                if lp.M[t] >> k & 1 and np.all(lp.W[t] <= lp.caps[k]):
                    break
            node = nodes[-1]
        node[1] -= lp.W[t]
        node[2][t] += 1
    # check
    placed = collections.Counter()
    for k, _, cnt in nodes:
        assert all(lp.M[t] >> k & 1 for t in cnt)
        assert np.all(sum((m * lp.W[t] for t, m in cnt.items()), np.zeros(4)) <= lp.caps[k])
        placed.update(cnt)
    assert all(placed[t] == lp.d[t] for t in range(T))
    used = max([i + 1 for i, (_, _, cnt) in enumerate(nodes) if cnt] or [0])
    lp.last_packing = [(k, cnt) for k, _, cnt in nodes[:used]]
    return used, by_master


def write_packing(path, shapes, nodes, names):
    """One line per node of pool(M): name (c-%05d as protocol C), model, its pods' names."""
    names = {t: list(v) for t, v in names.items()}
    with open(path, "w") as f:
        for i, (k, cnt) in enumerate(nodes):
            f.write("c-%05d,%s,%s\n" % (i, shapes[k].model, " ".join(names[t].pop() for t, m in sorted(cnt.items()) for _ in range(m))))


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("nodes", help="node list CSV (openb)")
    ap.add_argument("pods", help="pod list CSV (openb)")
    ap.add_argument("every", nargs="?", type=int, default=1, help="keep every n-th node and pod (quick family: 8)")
    ap.add_argument("-time", type=float, default=1800, help="stop column generation after this many seconds")
    ap.add_argument("-pack", type=float, default=1800, help="seconds for packings after the LP bound (0: none)")
    ap.add_argument("-ip", type=float, default=60, help="seconds for the integer master at a size where diving fails (0: skip)")
    ap.add_argument("-start", type=int, default=0, help="search the LP bound from this pool size (default: the benchmark's bound)")
    ap.add_argument("-out", help="write the best packing here: node, model, pod names (one line a node)")
    ap.add_argument("-v", action="store_true", help="print every iteration")
    args = ap.parse_args()
    start = time.time()
    every = max(1, args.every)

    nodes, pods = load_nodes(args.nodes, every), load_pods(args.pods, every)
    shapes, fit, oversize, fit_names = new_pool(nodes, pods)
    pool = Pool(shapes)
    full = (1 << len(shapes)) - 1
    models = lambda m: "|".join(s.model for k, s in enumerate(shapes) if m >> k & 1)
    print("%s, %s (every %d): %d nodes, %d pods, %d fit (%d oversize left out)" % (
        args.nodes, args.pods, every, len(nodes), len(pods), len(fit), len(oversize)))
    for s in shapes:
        print("  shape %-8s %6d milli, %8d MiB, %d GPUs, %d pods; %d of %d nodes; trace share %.4f, target %.4f%s" % (
            s.model, s.cpu, s.mem, s.gpus, s.pods, s.nodes, s.model_nodes, s.trace_share, s.target,
            ", demanded" if s.demanded else ""))

    lb, per, sets = benchmark_bound(pool, fit)
    print("benchmark bound (Pool.LowerBound): %d nodes (%s); per resource cpu %d, memory %d, GPUs %d, pod slots %d" % (
        lb, pool.comp_string(lb), *per))
    for s, g, n in sets:
        print("  GPUs of pods accepting only %s: %d -> %d nodes" % (models(s), g, n))

    types = collections.Counter((v[0], v[1], v[2], m) for v, m in fit)
    keys = list(types)
    W = np.array([k[:3] + (1,) for k in keys], dtype=float)  # cpu milli, memory MiB, GPUs, slot
    M = [k[3] for k in keys]
    d = np.array([types[k] for k in keys], dtype=float)
    lp = LP(shapes, W, M, d, args.v)
    print("LP: %d pod types (request vector x accepted models), %d of them constrained" % (
        len(keys), sum(m != full for m in M)))

    deadline, it, n = start + args.time, [0], args.start or lb
    while True:
        t0 = time.time()
        status, val, x = decide(lp, pool, n, deadline, it)
        if status == "refuted":
            print("  pool(%d..%d) refuted by a certificate (margin %.4f pods at %d), %.1f s" % (n, val - 1, x, n, time.time() - t0), flush=True)
            n = val
            continue
        if status == "feasible":
            A = np.array(lp.cols).T
            B = np.zeros((lp.K, A.shape[1]))
            B[lp.kinds, np.arange(A.shape[1])] = 1
            assert np.all(A @ x >= d - 1e-6) and np.all(B @ x <= pool.comp(n) + 1e-6)
            print("  pool(%d) LP-feasible (%s), %.1f s" % (n, pool.comp_string(n), time.time() - t0), flush=True)
        else:
            print("  pool(%d): stopped undecided, uncovered demand %.6f pods (time or tolerance), %.1f s" % (n, val, time.time() - t0), flush=True)
        break
    if args.start and args.start > lb and status == "feasible":
        print("(searched from %d, above the benchmark bound: the LP bound is at most that)" % args.start)
    print("LP bound: %d nodes%s (benchmark bound %d, +%d); %d iterations, %d patterns, %.1f s" % (
        n, "" if status == "feasible" else " at least", lb, n - lb, it[0], len(lp.cols), time.time() - start))

    if status == "feasible" and args.pack > 0:
        # packings: the LP's x rounded down (+ first-fit decreasing), then at m = n, n+1, ... diving and,
        # if it fails, the integer master over the generated patterns, until one hosts every pod
        t0, total = time.time(), int(d.sum())
        fixed = [(lp.kinds[p], lp.cols[p], int(np.floor(x[p] + 1e-9))) for p in range(len(x)) if x[p] >= 1 - 1e-9]
        best, _ = packing(lp, pool, n, fixed)
        best_nodes = lp.last_packing
        print("packing (any order), LP rounded down + first-fit decreasing: pool(%d), %.1f s" % (best, time.time() - t0), flush=True)
        deadline = time.time() + args.pack
        m = n
        while m < best and time.time() < deadline:
            t0 = time.time()
            fixed = dive(lp, pool.comp(m).astype(float), deadline, it)
            if fixed is not None:
                used, _ = packing(lp, pool, m, fixed)
                if used < best:
                    best, best_nodes = used, lp.last_packing
                print("  diving at pool(%d): every pod placed, %.1f s" % (m, time.time() - t0), flush=True)
                break
            print("  diving at pool(%d): failed, %.1f s" % (m, time.time() - t0), flush=True)
            if args.ip > 0:
                t0 = time.time()
                r = integer_master(lp, pool.comp(m).astype(float), args.ip)
                if r is not None:
                    used, placed = packing(lp, pool, m, r[0])
                    if used < best:
                        best, best_nodes = used, lp.last_packing
                    print("  integer master at pool(%d) (%s): %d of %d pods placed, + first-fit decreasing: pool(%d), %.1f s" % (
                        m, "optimal" if r[2] else "time limit", placed, total, used, time.time() - t0), flush=True)
                    if placed == total:
                        break
                else:
                    print("  integer master at pool(%d): nothing in %g s" % (m, args.ip), flush=True)
            m += 1
        print("best packing found (any order): pool(%d) (%s), %+d over the LP bound%s" % (
            best, pool.comp_string(best), best - n, " (optimal)" if best == n else ""))
        if args.out:
            names = collections.defaultdict(list)
            for (v, mask), name in zip(fit, fit_names):
                names[keys.index((v[0], v[1], v[2], mask))].append(name)
            write_packing(args.out, shapes, best_nodes, names)
            print("packing written to %s" % args.out)
    print("total %.1f s" % (time.time() - start))


if __name__ == "__main__":
    main()
