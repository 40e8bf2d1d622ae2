// Command report turns the scheduler_perf data files of a
// `make bench-throughput` run into the Throughput section of
// docs/benchmarks.md, replacing the section if it exists (the rest of the
// document is kept).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/snug-sched/snug/test/benchmark/throughput"
)

func main() {
	dataDir := flag.String("data-dir", "bin/bench-throughput", "directory holding scheduler_perf's BenchmarkPerfScheduling_*.json files (its -data-items-dir)")
	doc := flag.String("doc", "docs/benchmarks.md", "markdown file whose Throughput section is written")
	command := flag.String("command", "make bench-throughput", "command to print as the way to reproduce the table")
	expanded := flag.String("expanded", "", "what -command ran, printed below it")
	goMod := flag.String("go-mod", "go.mod", "go.mod to read the k8s.io/kubernetes version from")
	flag.Parse()
	if err := run(*dataDir, *doc, *command, *expanded, *goMod); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(dataDir, doc, command, expanded, goMod string) error {
	items, err := throughput.Load(dataDir)
	if err != nil {
		return err
	}
	rows := throughput.Table(items)
	if len(rows) == 0 {
		return fmt.Errorf("no SchedulingThroughput data in %s", dataDir)
	}
	files := map[string]bool{}
	var fileList []string
	for _, it := range items {
		if !files[it.File] {
			files[it.File] = true
			fileList = append(fileList, it.File)
		}
	}
	m := throughput.Meta{
		Date:              time.Now().UTC().Format("2006-01-02"),
		CPUs:              nproc(),
		CPUModel:          cpuModel(),
		Memory:            memTotal(),
		GoVersion:         goVersion(),
		KubernetesVersion: moduleVersion(goMod, "k8s.io/kubernetes"),
		Revision:          revision(filepath.Join(dataDir, "revision")),
		Command:           command,
		Expanded:          expanded,
		Failed:            failedRuns(filepath.Join(dataDir, "logs")),
		DataDir:           dataDir,
		DataFiles:         fileList,
	}
	old, err := os.ReadFile(doc)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	out := throughput.Replace(string(old), throughput.Render(rows, m))
	if err := os.MkdirAll(filepath.Dir(doc), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(doc, []byte(out), 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote section %q of %s\n", throughput.SectionHeading, doc)
	for _, r := range rows {
		fmt.Printf("  %-60s default %s  snug %s  ratio %.2f\n", r.Workload, avg(r.Default), avg(r.Snug), r.Ratio())
	}
	return nil
}

func avg(t *throughput.Throughput) string {
	if t == nil {
		return "     n/a"
	}
	return fmt.Sprintf("%8.1f", t.Average)
}

// failedRuns names the runs whose logs scheduler_perf kept: it removes a
// workload's $ARTIFACTS/<test name>.log when the workload passes.
func failedRuns(logs string) []string {
	files, _ := filepath.Glob(filepath.Join(logs, "*", "BenchmarkPerfScheduling*.log"))
	var out []string
	for _, f := range files {
		run := filepath.Base(filepath.Dir(f))
		out = append(out, "`"+strings.TrimSuffix(filepath.Base(f), ".log")+"` ("+run+")")
	}
	return out
}

// revision is the commit the Makefile recorded before building the benchmark.
func revision(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

func nproc() int {
	if out, err := exec.Command("nproc").Output(); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil {
			return n
		}
	}
	return runtime.NumCPU()
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func cpuModel() string {
	if m := procField("/proc/cpuinfo", "model name"); m != "" {
		return m
	}
	return "unknown CPU model"
}

func memTotal() string {
	v := procField("/proc/meminfo", "MemTotal") // "24534160 kB"
	kb, err := strconv.ParseFloat(strings.TrimSuffix(v, " kB"), 64)
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%.1f GiB", kb/(1<<20))
}

// goVersion is the toolchain's version: `go run` builds this program with
// the toolchain that built the benchmark.
func goVersion() string {
	if out, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		if v := strings.TrimSpace(string(out)); v != "" {
			return v
		}
	}
	return runtime.Version()
}

func moduleVersion(goMod, module string) string {
	data, err := os.ReadFile(goMod)
	if err != nil {
		return "(unknown version)"
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == module && strings.HasPrefix(f[1], "v") {
			return f[1]
		}
		if len(f) >= 3 && f[0] == "require" && f[1] == module {
			return f[2]
		}
	}
	return "(unknown version)"
}
