// Command gclulls runs a scheduler_perf benchmark and splits its measured
// pods' per-second scheduling rate by whether the Go garbage collector was
// marking in that second. In the 5,000-node workloads the test process
// (scheduler, in-process apiserver, informers) holds a heap of several
// hundred MiB on two cores, so each GC cycle marks for seconds, and the
// scheduling loop, which allocates on every cycle, pays mark assists.
//
// usage (from test/benchmark/throughput, ARTIFACTS unset so that the
// scheduler's log reaches stderr):
//
//	go run ./gclulls -namespace namespace-3 -- ./throughput.test -test.run='^$' \
//	  -test.bench='^BenchmarkPerfSchedulingSnug$/^PreemptionAsync$/^5000Nodes_AsyncPreemptionEnabled$' \
//	  -test.benchtime=1x -test.timeout=60m -perf-scheduling-label-filter=throughput -data-items-dir=/tmp/pa
//
// It sets GODEBUG=gctrace=1 for the child, stamps each gctrace line with its
// arrival time (the runtime prints it when the cycle ends, and the line gives
// the cycle's wall-clock phases), and reads the scheduler's "Successfully
// bound pod to node" lines (klog, verbosity 2, which scheduler_perf sets) for
// when each pod was bound. The child's stdout passes through; its stderr
// goes to -log.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"
)

func main() {
	namespace := flag.String("namespace", "", "count only pods of this namespace (scheduler_perf's measured pods' namespace); empty counts every pod")
	logPath := flag.String("log", "gclulls.log", "where the child's stderr goes")
	perSecond := flag.Bool("per-second", false, "also print every second of the measured span")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "gclulls: want the benchmark command after --")
		os.Exit(2)
	}
	if err := run(*namespace, *logPath, *perSecond, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "gclulls:", err)
		os.Exit(1)
	}
}

func run(namespace, logPath string, perSecond bool, argv []string) error {
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "GODEBUG=gctrace=1")
	cmd.Stdout = os.Stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	var tl timeline
	readErr := tl.read(stderr, logFile, time.Now, time.Now().Year())
	waitErr := cmd.Wait()
	if err := errors.Join(readErr, waitErr); err != nil {
		return fmt.Errorf("%s: %w", argv[0], err)
	}
	s, err := tl.summarize(namespace)
	if err != nil {
		return err
	}
	fmt.Print(s.String())
	if perSecond {
		for _, sec := range s.seconds {
			fmt.Printf("%4d s  %4d pods  marking %.2f\n", sec.offset, sec.pods, sec.marking)
		}
	}
	return nil
}

// read copies r to log line by line, recording GC cycles (stamped with
// now() when their line arrives) and bound pods (at their klog time, whose
// year is the given one: klog leaves it out).
func (tl *timeline) read(r io.Reader, log io.Writer, now func() time.Time, year int) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	w := bufio.NewWriter(log)
	for sc.Scan() {
		line := sc.Text()
		if mark, ok := parseGCTrace(line); ok {
			end := now()
			tl.marks = append(tl.marks, interval{end.Add(-mark), end})
		} else if at, ns, ok := parseBound(line, year); ok {
			tl.bound = append(tl.bound, boundPod{at, ns})
		}
		w.WriteString(line)
		w.WriteByte('\n')
	}
	return errors.Join(sc.Err(), w.Flush())
}
