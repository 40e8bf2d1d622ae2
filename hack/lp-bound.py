#!/usr/bin/env python3
"""Protocol C's lower bound, tightened by the Gilmore-Gomory LP, if it can be.

Protocol C (test/benchmark/quality) bounds the node count by max over
resources of ceil(total request / node capacity), one resource at a time.
This bounds it with all resources at once: the LP relaxation of vector bin
packing in 4 dimensions (cpu milli, memory MiB, GPU milli, pod slots at 1
each), solved by column generation.

Pods with the same request vector are one item type t with demand d_t. The
master LP is min sum_p x_p subject to sum_p a_tp x_p >= d_t, x >= 0, over
patterns p (a_tp pods of type t that fit one node together); it starts from
one maximal single-type pattern per type. Pricing is the integer knapsack
max sum_t y_t a_t subject to the node's 4 capacities and 0 <= a_t <= d_t,
solved with scipy.optimize.milp (HiGHS), loose gap first, exactly when that
finds nothing; greedy patterns are added too. Patterns worth more than
1 + 1e-9 under the master's duals are added; the LP is solved when the exact
knapsack finds none. The duals priced are smoothed towards the best
Farley duals so far (Wentges), unsmoothed after a mispricing.

Any duals y >= 0 give Farley's bound LP >= d.y / v, v the knapsack's upper
bound under y, and the restricted master's value z is >= LP, so
max(per-resource, ceil(Farley - 1e-6)) <= ceil(LP) <= ceil(z - 1e-6) at
every iteration. It stops as soon as the two meet (the LP bound is then
known without solving the LP; -exact solves it), or at -time, printing the
range. The best Farley duals are priced once more exactly at the end.

As a sanity check it also gives two packings of the same 4-dim model: the
final LP rounded up (ceil every x_p, then drop copies the demand no longer
needs), and the integer master over the generated patterns (-ip seconds).

Pods are loaded by hack/dff-bound.py's load, as protocol C counts them
(whole GPUs), so the 4-dim model is protocol C's resource check and its
packings are real packings (in any order, not protocol C's creation order).

  go run ./test/benchmark/quality/cmd/bench-quality -family -write-mix /tmp/mixes
  hack/lp-bound.py /tmp/mixes/cpu-x2.5/openb_pod_list_default.csv 8   # every 8th pod: -quick family
  hack/lp-bound.py -time 1200 /tmp/mixes/cpu-x2.5/openb_pod_list_default.csv

Needs scipy >= 1.9 (apt-get install python3-scipy; run it with the python3
that has it). Protocol C's single node shape (96 cores, 384 GiB, 8 GPUs,
110 pods); pods that do not fit it empty are left out, as protocol C does.
"""
import argparse
import collections
import importlib.util
import math
import os
import time

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

_spec = importlib.util.spec_from_file_location("dff_bound", os.path.join(os.path.dirname(os.path.abspath(__file__)), "dff-bound.py"))
dff = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dff)

CAP = np.array(dff.CAP + (dff.SLOTS,), dtype=float)  # cpu, memory, GPU milli, pod slots
EPS = 1e-9
ALPHA = 0.5  # dual smoothing
GAPS = (1e-2, 1e-4, 0)  # knapsack relative gaps, looser first
PRICE_TIME = 60  # seconds per knapsack


def master(A, d):
    """Solves min sum x s.t. A x >= d, x >= 0; returns (value, x, duals y >= 0)."""
    r = linprog(np.ones(A.shape[1]), A_ub=-A, b_ub=-d, bounds=(0, None), method="highs")
    assert r.status == 0, r.message
    return r.fun, r.x, -r.ineqlin.marginals


def price(W, d, y, gap, limit):
    """Max y.a s.t. W^T a <= CAP, 0 <= a <= d integer, to relative gap; returns (pattern, value, upper bound on the max)."""
    r = milp(-y, integrality=np.ones(len(d)), bounds=Bounds(0, d),
             constraints=LinearConstraint(W.T, -np.inf, CAP), options={"mip_rel_gap": gap, "time_limit": limit})
    if r.x is None:  # no pattern in time
        return np.zeros(len(d)), 0.0, -r.mip_dual_bound if r.mip_dual_bound is not None else np.inf
    a = np.round(r.x)
    assert np.all(W.T @ a <= CAP) and np.all(a <= d)
    ub = -r.mip_dual_bound if r.mip_dual_bound is not None else np.inf
    return a, y @ a, max(ub, y @ a)


def greedy(W, d, y):
    """Cheap patterns for duals y: fill a node by y_t over size, sizes measured a few ways."""
    out = []
    for size in (W / CAP).max(axis=1), (W / CAP).sum(axis=1), W[:, 0] / CAP[0]:
        left, a = CAP.copy(), np.zeros(len(d))
        for t in np.argsort(-y / np.maximum(size, 1e-12)):
            if y[t] > 0:
                a[t] = min(d[t], np.min(np.where(W[t] > 0, left // np.maximum(W[t], 1), np.inf)))
                left -= a[t] * W[t]
        out.append(a)
    return out


def round_up(A, d, x):
    """Ceil every x_p, then drop one copy of a pattern while the rest still cover d."""
    n = np.ceil(x - 1e-9)
    for p in np.argsort(x - np.floor(x)):  # least needed copies first
        while n[p] > 0 and np.all(A @ n - A[:, p] >= d):
            n[p] -= 1
    return int(n.sum())


def integer_master(A, d, limit):
    """The integer master over the generated patterns: a packing count, or None in time."""
    r = milp(np.ones(A.shape[1]), integrality=np.ones(A.shape[1]), bounds=Bounds(0, np.inf),
             constraints=LinearConstraint(A, d, np.inf), options={"time_limit": limit})
    return None if r.x is None else int(round(r.fun))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("path")
    ap.add_argument("every", nargs="?", type=int, default=1)
    ap.add_argument("-time", type=float, default=1200, help="stop column generation after this many seconds")
    ap.add_argument("-exact", action="store_true", help="solve the LP to the end, not only until its ceiling is known")
    ap.add_argument("-ip", type=float, default=60, help="seconds for the integer master (0: skip)")
    ap.add_argument("-v", action="store_true", help="print every iteration")
    args = ap.parse_args()
    start = time.time()
    left = lambda: args.time - (time.time() - start)

    pods = dff.load(args.path, args.every)
    basic = max([math.ceil(sum(p[i] for p in pods) / dff.CAP[i]) for i in range(3)] + [math.ceil(len(pods) / dff.SLOTS)])
    types = collections.Counter(pods)
    W = np.array([t + (1,) for t in types], dtype=float)  # one row per type: cpu, memory, GPU milli, slot
    d = np.array(list(types.values()), dtype=float)
    fit = np.floor(np.min(np.where(W > 0, CAP / np.maximum(W, 1), np.inf), axis=1))
    A = np.diag(np.minimum(d, fit))  # columns are patterns

    # z (restricted master) >= LP >= farley (d.y / max pattern value, any y >= 0). Duals are priced
    # smoothed towards the best Farley duals (Wentges, ALPHA); on a mispricing, unsmoothed.
    farley, center, alpha, it, done = 0.0, None, ALPHA, 0, False
    while left() > 0:
        it += 1
        z, x, y = master(A, d)
        if not args.exact and math.ceil(z - 1e-6) <= max(basic, math.ceil(farley - 1e-6)):
            break
        new = [a for a in greedy(W, d, y) if y @ a > 1 + EPS]
        ys = y if center is None or alpha == 0 else alpha * center + (1 - alpha) * y
        for gap in GAPS:
            a, v, ub = price(W, d, ys, gap, max(1, min(left(), PRICE_TIME)))
            if d @ ys / max(ub, 1) > farley:
                farley, center = d @ ys / max(ub, 1), ys
            if y @ a > 1 + EPS or v > 1 + EPS:
                break
        if y @ a > 1 + EPS:
            new.append(a)
        if args.v:
            print("  iter %d: %d patterns, LP <= %.6f, >= %.6f (Farley); pattern %.6f at %s duals" % (
                it, A.shape[1], z, farley, v, "smoothed" if ys is not y else "master"))
        if not new:
            if ys is y and ub <= 1 + EPS:
                done = True
                break
            alpha = 0  # mispriced, or the knapsack ran out of time: price at the master's duals
            continue
        alpha = ALPHA
        A = np.column_stack([A] + new)
    z, x, y = master(A, d)
    if center is not None:  # the best Farley duals once more, with an exact knapsack
        farley = max(farley, d @ center / max(price(W, d, center, 0, PRICE_TIME * 2)[2], 1))
    hi, lo = math.ceil(z - 1e-6), max(basic, math.ceil(farley - 1e-6))
    used = x > 1e-9
    rounded = round_up(A[:, used], d, x[used])
    ip = integer_master(A, d, args.ip) if args.ip > 0 else None

    print("%s (every %d): %d pods, %d types; per-resource bound %d nodes" % (
        args.path, args.every, len(pods), len(types), basic))
    print("  LP %s %.6f, >= %.6f (Farley) -> LP bound %s nodes" % (
        "=" if done else "<=", z, farley, hi if hi == lo or done else "%d..%d" % (lo, hi)))
    print("  packings (4-dim model): LP rounded up %d nodes; integer master over %d patterns %s" % (
        rounded, A.shape[1], "%d nodes" % ip if ip is not None else "none in time"))
    print("  %d iterations, %.1f s; %s" % (it, time.time() - start,
        "LP solved" if done else "stopped: LP bound known" if hi == lo else "stopped at -time"))


if __name__ == "__main__":
    main()
