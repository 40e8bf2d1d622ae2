#!/bin/sh
# Runs the throughput benchmark: every test case of config/*.yaml under the
# default profile and under snug's, back to back, alternating which goes
# first (ABBA), so that load changes on the machine hit both profiles alike.
# A failing run does not stop the others; the exit status says whether any
# failed (their logs stay in <output dir>/logs).
#
# usage: bench.sh <test binary> <output dir> [label filter] [runs]
#   test binary: go test -c ./test/benchmark/throughput/
#   output dir:  receives scheduler_perf's JSON data files and, in
#                logs/run<N>/, the logs of failed workloads
#   label filter: scheduler_perf's -perf-scheduling-label-filter, default
#                "throughput"
#   runs:        how many times to run everything, default 1; the report
#                averages the runs and shows the spread of the ratio. Data
#                already in the output directory stays and counts.
# BENCH_CASES in the environment (space-separated test case names) runs only
# those test cases.
set -eu

bin=$(realpath "$1")
out=$(realpath "$2")
labels=${3:-throughput}
runs=${4:-1}
cd "$(dirname "$0")" # scheduler_perf resolves config paths here


cases=${BENCH_CASES:-$(sed -n 's/^- name: *//p' config/upstream.yaml config/snug.yaml)}
first=Default second=Snug
failed=""
# Runs added to an earlier run's output directory (make bench-throughput-more)
# continue its numbering, so their logs do not mix.
run=$(($(find "$out/logs" -mindepth 1 -maxdepth 1 -name 'run*' 2>/dev/null | wc -l) + 1))
last=$((run + runs - 1))
while [ "$run" -le "$last" ]; do
	# A workload's log is removed when it passes, so each run gets its own directory.
	export ARTIFACTS="$out/logs/run$run"
	mkdir -p "$ARTIFACTS"
	for tc in $cases; do
		for p in $first $second; do
			echo "== run $run/$last: $tc, profile $p"
			if ! (
				set -x
				"$bin" -test.run='^$' -test.bench="^BenchmarkPerfScheduling$p\$/^$tc\$" -test.benchtime=1x -test.timeout=60m \
					-perf-scheduling-label-filter="$labels" -data-items-dir="$out"
			); then
				failed="$failed $tc/$p(run$run)"
			fi
		done
		tmp=$first first=$second second=$tmp
	done
	run=$((run + 1))
done
if [ -n "$failed" ]; then
	echo "FAILED:$failed (logs in $out/logs)" >&2
	exit 1
fi
