#!/usr/bin/env python3
"""Protocol C's lower bound, tightened by dual-feasible functions, if they can.

Protocol C (test/benchmark/quality) bounds the node count by max over
resources of ceil(total request / node capacity). A dual-feasible function
f (sum of f(x) <= 1 over any set of sizes x that fit in one bin) gives another
valid bound, ceil(sum of f(x_i)), that can be tighter when large requests
cannot share a node. This tries Fekete and Schepers' u^(k) (k <= 20), U^(eps)
at every threshold the requests make, and u^(k) after U^(eps), on cpu and
memory, and prints the best against the per-resource bound.

  go run ./test/benchmark/quality/cmd/bench-quality -family -write-mix /tmp/mixes
  hack/dff-bound.py /tmp/mixes/cpu-x2.5/openb_pod_list_default.csv 8   # every 8th pod: -quick family

The node shape is protocol C's single shape (96 cores, 384 GiB, 8 GPUs);
pods that do not fit it empty are left out, as protocol C does.
"""
import csv
import math
import sys
from fractions import Fraction as F

CAP = (96000, 384 * 1024, 8000)  # cpu milli, memory MiB, GPU milli
SLOTS = 110


def load(path, every):
    """Pods as protocol C counts them: pkg/workload requests whole GPUs, one
    for a pod that shares a GPU (gpu_milli < 1000), in GPU milli here."""
    pods = []
    for r in list(csv.DictReader(open(path)))[::every]:
        gpus, milli = int(r["num_gpu"]), int(r["gpu_milli"])
        gpu = max(gpus, 1 if milli > 0 else 0) * 1000
        pods.append((int(r["cpu_milli"]), int(r["memory_mib"]), gpu))
    return [p for p in pods if all(p[i] <= CAP[i] for i in range(3))]


def u(x, k):
    y = (k + 1) * x
    return x if y == math.floor(y) else F(math.floor(y), k)


def U(x, eps):
    return F(1) if x > 1 - eps else F(0) if x < eps else x


def main(path, every):
    pods = load(path, every)
    basic = max([math.ceil(sum(p[i] for p in pods) / CAP[i]) for i in range(3)] + [math.ceil(len(pods) / SLOTS)])
    best, arg = 0, None
    for d, name in enumerate(("cpu", "memory")):
        xs = [F(p[d], CAP[d]) for p in pods]
        fs = [("u^(%d)" % k, lambda x, k=k: u(x, k)) for k in range(1, 21)]
        thresholds = {x for x in xs if x <= F(1, 2)} | {1 - x for x in xs if 0 < 1 - x <= F(1, 2)}
        for e in sorted(thresholds):
            fs.append(("U^(%.4f)" % e, lambda x, e=e: U(x, e)))
            fs += [("u^(%d)∘U^(%.4f)" % (k, e), lambda x, e=e, k=k: u(U(x, e), k)) for k in (1, 2, 3, 4)]
        for fname, f in fs:
            v = math.ceil(sum(f(x) for x in xs))
            if v > best:
                best, arg = v, "%s on %s" % (fname, name)
    print("%s (every %d): %d pods; per-resource bound %d nodes; best dual-feasible bound %d nodes (%s)" % (path, every, len(pods), basic, best, arg))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1)
