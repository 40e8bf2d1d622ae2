#!/bin/sh
# Runs the throughput benchmark: every test case of config/*.yaml under the
# default profile and under snug's, back to back, alternating which goes
# first (ABBA), so that load changes on the machine hit both profiles alike.
# A failing run does not stop the others; the exit status says whether any
# failed (their logs stay in <output dir>/logs).
#
# usage: bench.sh <test binary> <output dir> [scheduler_perf label filter]
#   test binary: go test -c ./test/benchmark/throughput/
#   output dir:  receives scheduler_perf's JSON data files and, in logs/, the
#                logs of failed workloads
#   label filter: default "throughput"
set -eu

bin=$(realpath "$1")
out=$(realpath "$2")
labels=${3:-throughput}
cd "$(dirname "$0")" # scheduler_perf resolves config paths here

mkdir -p "$out/logs"
export ARTIFACTS="$out/logs"

cases=$(sed -n 's/^- name: *//p' config/upstream.yaml config/snug.yaml)
first=Default second=Snug
failed=""
for tc in $cases; do
	for p in $first $second; do
		echo "== $tc, profile $p"
		if ! (
			set -x
			"$bin" -test.run='^$' -test.bench="^BenchmarkPerfScheduling$p\$/^$tc\$" -test.benchtime=1x -test.timeout=60m \
				-perf-scheduling-label-filter="$labels" -data-items-dir="$out"
		); then
			failed="$failed $tc/$p"
		fi
	done
	tmp=$first first=$second second=$tmp
done
if [ -n "$failed" ]; then
	echo "FAILED:$failed (logs in $out/logs)" >&2
	exit 1
fi
