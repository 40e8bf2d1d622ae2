//go:build linux

package build

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The version the test stamps: shaped like `git describe --tags --always
// --dirty` output, so it also exercises its embedding in the Kubernetes
// version's semver build metadata.
const (
	testVersion   = "v1.2.3-4-gabcdef0-dirty"
	testCommit    = "abcdef0123456789abcdef0123456789abcdef01"
	testBuildDate = "2001-02-03T04:05:06Z"
)

// repoRoot is the repository root, relative to this package's directory
// (where go test runs the test).
const repoRoot = "../.."

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
	tempDir   string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if tempDir != "" {
		os.RemoveAll(tempDir)
	}
	os.Exit(code)
}

// makeBuild runs `make build` once into a temporary BIN with the test's
// version and returns that directory: the binaries are exactly what make
// build makes (and what the Dockerfile's builder stage runs).
func makeBuild(t *testing.T) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the binaries are checked as Linux ELF executables")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
	buildOnce.Do(func() {
		tempDir, buildErr = os.MkdirTemp("", "snug-build-test-")
		if buildErr != nil {
			return
		}
		binDir = filepath.Join(tempDir, "bin")
		// Warm, make build only links (seconds); cold (a fresh Go cache or
		// changed dependencies), it compiles everything, which can take
		// longer than go test's timeout on a small machine. Stop it in time
		// to say so, killing go build with make.
		ctx := context.Background()
		if deadline, ok := t.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline.Add(-30*time.Second))
			defer cancel()
		}
		cmd := exec.CommandContext(ctx, "make", "--no-print-directory", "build", "BIN="+binDir,
			"VERSION="+testVersion, "GIT_COMMIT="+testCommit, "BUILD_DATE="+testBuildDate)
		cmd.Dir = repoRoot
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		// Run from make test: the child make must not join the parent's jobserver.
		cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
			return strings.HasPrefix(kv, "MAKEFLAGS=") || strings.HasPrefix(kv, "MFLAGS=") || strings.HasPrefix(kv, "MAKELEVEL=")
		})
		start := time.Now()
		out, err := cmd.CombinedOutput()
		switch {
		case ctx.Err() != nil:
			buildErr = fmt.Errorf("make build did not finish in %v, before the test's deadline (a cold Go build cache?): run make build first (make test does) or raise go test's -timeout\n%s", time.Since(start).Round(time.Second), out)
		case err != nil:
			buildErr = fmt.Errorf("make build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// builtCommands lists the files make build put into its BIN directory.
func builtCommands(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(makeBuild(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) == 0 {
		t.Fatal("make build produced no binaries")
	}
	return names
}

func TestMakeBuildProducesTheThreeCommands(t *testing.T) {
	got := builtCommands(t)
	want := []string{"capacity-planner", "descheduler", "scheduler"}
	if !slices.Equal(got, want) {
		t.Errorf("make build produced %v, want %v", got, want)
	}
}

// TestStaticallyLinked: no program interpreter and no shared libraries, so
// the binaries run on distroless static (no libc) or scratch; and the build
// settings recorded in them are the Makefile's.
func TestStaticallyLinked(t *testing.T) {
	dir := makeBuild(t)
	for _, name := range builtCommands(t) {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(dir, name)
			f, err := elf.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Errorf("has a program interpreter (PT_INTERP): dynamically linked")
				}
				if p.Type == elf.PT_DYNAMIC {
					t.Errorf("has a dynamic section (PT_DYNAMIC)")
				}
			}
			libs, err := f.ImportedLibraries()
			if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
				t.Fatal(err)
			}
			if len(libs) > 0 {
				t.Errorf("needs shared libraries (DT_NEEDED): %v", libs)
			}
			bi, err := buildinfo.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			settings := map[string]string{}
			for _, s := range bi.Settings {
				settings[s.Key] = s.Value
			}
			if settings["CGO_ENABLED"] != "0" {
				t.Errorf("CGO_ENABLED=%q, want 0", settings["CGO_ENABLED"])
			}
			if settings["-trimpath"] != "true" {
				t.Errorf("not built with -trimpath")
			}
		})
	}
}

// kubeVersion is the k8s.io/kubernetes version the binary was built with.
func kubeVersion(t *testing.T, file string) string {
	t.Helper()
	bi, err := buildinfo.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range bi.Deps {
		if d.Path == "k8s.io/kubernetes" {
			if d.Replace != nil {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	t.Fatalf("%s: no k8s.io/kubernetes in its build info", file)
	return ""
}

// run runs the binary and returns its stdout; a failure is fatal.
func run(t *testing.T, file string, args ...string) string {
	t.Helper()
	out, stderr, err := runErr(t, file, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(file), strings.Join(args, " "), err, out, stderr)
	}
	return out
}

// runErr runs the binary with its own TMPDIR (the scheduler writes its
// shipped config there, and --version exits before removing it).
func runErr(t *testing.T, file string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	cmd := exec.Command(file, args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func TestVersionStamped(t *testing.T) {
	dir := makeBuild(t)
	scheduler := filepath.Join(dir, "scheduler")
	kube := kubeVersion(t, scheduler)
	// kube-scheduler derives its binary version (feature gates, emulation
	// version) from component-base's gitVersion: it must be the Kubernetes
	// release, with snug's version as build metadata.
	wantGitVersion := kube + "+snug." + testVersion

	t.Run("scheduler --version", func(t *testing.T) {
		out := run(t, scheduler, "--version")
		if strings.Contains(out, "v0.0.0-master") {
			t.Errorf("unstamped: %q", out)
		}
		if strings.TrimSpace(out) != "Kubernetes "+wantGitVersion {
			t.Errorf("got %q, want %q", out, "Kubernetes "+wantGitVersion)
		}
	})
	t.Run("scheduler --version=raw", func(t *testing.T) {
		out := run(t, scheduler, "--version=raw")
		major, minor, _ := strings.Cut(strings.TrimPrefix(kube, "v"), ".")
		minor, _, _ = strings.Cut(minor, ".")
		for _, want := range []string{
			fmt.Sprintf("Major:%q", major), fmt.Sprintf("Minor:%q", minor),
			fmt.Sprintf("GitVersion:%q", wantGitVersion), fmt.Sprintf("GitCommit:%q", testCommit),
			`GitTreeState:"dirty"`, fmt.Sprintf("BuildDate:%q", testBuildDate),
		} {
			if !strings.Contains(out, want) {
				t.Errorf("no %s in %q", want, out)
			}
		}
	})
	t.Run("scheduler binary version", func(t *testing.T) {
		// The stamp leaves kube-scheduler's binary version at the
		// Kubernetes release: emulation versions are bounded by it and by
		// its minor-3 floor, as upstream's. (A gitVersion of snug's own
		// would panic or make the binary version 0.x, breaking feature gates.)
		v, err := semverMajorMinor(kube)
		if err != nil {
			t.Fatal(err)
		}
		_, stderr, err := runErr(t, scheduler, "--emulated-version=1.0", "--kubeconfig=/nonexistent/kubeconfig")
		want := fmt.Sprintf("emulation version 1.0 is not between [%d.%d, %d.%d.", v[0], v[1]-3, v[0], v[1])
		if err == nil || !strings.Contains(stderr, want) {
			t.Errorf("--emulated-version=1.0: err %v, want %q in\n%s", err, want, stderr)
		}
		_, stderr, err = runErr(t, scheduler, fmt.Sprintf("--emulated-version=%d.%d", v[0], v[1]-1), "--kubeconfig=/nonexistent/kubeconfig")
		if err == nil || !strings.Contains(stderr, "/nonexistent/kubeconfig") || strings.Contains(stderr, "emulation version") {
			t.Errorf("--emulated-version=%d.%d: want it accepted and the missing kubeconfig to fail the run, got %v\n%s", v[0], v[1]-1, err, stderr)
		}
	})
	t.Run("descheduler version", func(t *testing.T) {
		out := run(t, filepath.Join(dir, "descheduler"), "version")
		for _, want := range []string{"GitVersion:" + testVersion + " ", "GitSha1:" + testCommit, "BuildDate:" + testBuildDate} {
			if !strings.Contains(out, want) {
				t.Errorf("no %q in %q", want, out)
			}
		}
	})
	t.Run("descheduler --version", func(t *testing.T) {
		out := run(t, filepath.Join(dir, "descheduler"), "--version")
		if want := "descheduler version " + testVersion + "\n"; out != want {
			t.Errorf("got %q, want %q", out, want)
		}
	})
	t.Run("capacity-planner --version", func(t *testing.T) {
		out := run(t, filepath.Join(dir, "capacity-planner"), "--version")
		if want := "capacity-planner " + testVersion + "\n"; out != want {
			t.Errorf("got %q, want %q", out, want)
		}
	})
}

// semverMajorMinor returns major and minor of a version such as v1.36.3.
func semverMajorMinor(v string) ([2]int, error) {
	var mm [2]int
	_, err := fmt.Sscanf(strings.TrimPrefix(v, "v"), "%d.%d.", &mm[0], &mm[1])
	return mm, err
}

// dockerfile is the Dockerfile as instructions: continuation lines joined,
// comments and the parser directive dropped.
type instruction struct{ cmd, args string }

func readDockerfile(t *testing.T) []instruction {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out  []instruction
		cont string
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cont == "") {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cont += strings.TrimSuffix(line, `\`) + " "
			continue
		}
		line = cont + line
		cont = ""
		cmd, args, _ := strings.Cut(line, " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.Join(strings.Fields(args), " ")})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDockerfileShipsWhatMakeBuildMakes: the builder stage runs make build
// into one directory, and the final stage (distroless static, nonroot)
// copies exactly the binaries make build put there, each to /<name>.
func TestDockerfileShipsWhatMakeBuildMakes(t *testing.T) {
	built := builtCommands(t)
	ins := readDockerfile(t)

	var stages []string // FROM lines
	var builderStage, outDir string
	var finalIns []instruction
	for _, in := range ins {
		if in.cmd == "FROM" {
			stages = append(stages, in.args)
			finalIns = nil
			if m := regexp.MustCompile(`^(?:--platform=\S+ )?golang:\S+ AS (\S+)$`).FindStringSubmatch(in.args); m != nil {
				builderStage = m[1]
			}
			continue
		}
		finalIns = append(finalIns, in)
		if in.cmd == "RUN" && strings.Contains(in.args, "make build") {
			m := regexp.MustCompile(`make build BIN=(\S+)`).FindStringSubmatch(in.args)
			if m == nil {
				t.Fatalf("RUN %s: make build without BIN=", in.args)
			}
			outDir = m[1]
		}
	}
	if builderStage == "" {
		t.Fatalf("no golang builder stage among %q", stages)
	}
	if outDir == "" {
		t.Fatal("the builder stage does not run make build")
	}
	if final := stages[len(stages)-1]; final != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("final stage FROM %s, want gcr.io/distroless/static-debian12:nonroot", final)
	}

	var copied []string
	user, entrypoint := "", ""
	for _, in := range finalIns {
		switch in.cmd {
		case "COPY", "ADD":
			f := strings.Fields(in.args)
			if in.cmd != "COPY" || len(f) != 3 || f[0] != "--from="+builderStage {
				t.Errorf("final stage: %s %s: want COPY --from=%s %s/NAME /NAME", in.cmd, in.args, builderStage, outDir)
				continue
			}
			src, dst := f[1], f[2]
			if path.Dir(src) != outDir || dst != "/"+path.Base(src) {
				t.Errorf("COPY %s: want COPY --from=%s %s/NAME /NAME", in.args, builderStage, outDir)
			}
			copied = append(copied, path.Base(src))
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "RUN", "SHELL":
			t.Errorf("final stage: %s %s: distroless has no shell", in.cmd, in.args)
		}
	}
	slices.Sort(copied)
	if !slices.Equal(copied, built) {
		t.Errorf("the Dockerfile copies %v; make build makes %v", copied, built)
	}
	if user != "65532:65532" {
		t.Errorf("USER %q, want 65532:65532 (distroless nonroot)", user)
	}
	var ep []string
	if err := json.Unmarshal([]byte(entrypoint), &ep); err != nil || len(ep) == 0 || !slices.Contains(copied, strings.TrimPrefix(ep[0], "/")) {
		t.Errorf("ENTRYPOINT %s: want the exec form of one of the copied binaries", entrypoint)
	}
}

// dockerignore is .dockerignore's patterns with Docker's semantics (the
// subset of them: *, ?, **, ! exceptions; a match on a directory excludes
// everything under it).
type dockerignore []struct {
	re     *regexp.Regexp
	negate bool
}

func readDockerignore(t *testing.T) dockerignore {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var d dockerignore
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		negate := strings.HasPrefix(line, "!")
		line = path.Clean(strings.TrimPrefix(strings.TrimPrefix(line, "!"), "/"))
		if strings.ContainsAny(line, `[\`) {
			t.Fatalf(".dockerignore: %q: character classes and escapes are not supported by this test", line)
		}
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case strings.HasPrefix(line[i:], "**/"):
				re.WriteString("(?:.*/)?")
				i += 2
			case strings.HasPrefix(line[i:], "**"):
				re.WriteString(".*")
				i++
			case c == '*':
				re.WriteString("[^/]*")
			case c == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString("$")
		d = append(d, struct {
			re     *regexp.Regexp
			negate bool
		}{regexp.MustCompile(re.String()), negate})
	}
	return d
}

// excluded reports whether the file (slash-separated, relative to the
// context root) is left out of the build context.
func (d dockerignore) excluded(file string) bool {
	var candidates []string // the file and its parent directories
	for p := file; p != "." && p != "/"; p = path.Dir(p) {
		candidates = append(candidates, p)
	}
	excluded := false
	for _, pat := range d {
		for _, c := range candidates {
			if pat.re.MatchString(c) {
				excluded = !pat.negate
				break
			}
		}
	}
	return excluded
}

func TestDockerignoreMatcher(t *testing.T) {
	d := dockerignore{}
	for _, p := range []struct {
		re  string
		neg bool
	}{{`^bin$`, false}, {`^(?:.*/)?[^/]*\.test$`, false}, {`^docs$`, false}, {`^docs/keep\.md$`, true}} {
		d = append(d, struct {
			re     *regexp.Regexp
			negate bool
		}{regexp.MustCompile(p.re), p.neg})
	}
	for file, want := range map[string]bool{
		"bin/scheduler": true, "pkg/bin/x.go": false, "a/b/c.test": true, "x.test": true,
		"docs/a.md": true, "docs/keep.md": false, "cmd/scheduler/main.go": false,
	} {
		if got := d.excluded(file); got != want {
			t.Errorf("excluded(%q) = %v, want %v", file, got, want)
		}
	}
}

// TestDockerignoreKeepsTheBuildInputs: COPY . . must bring every file make
// build reads: the Makefile, go.mod, go.sum and every source and embedded
// file of the three commands' packages in this module.
func TestDockerignoreKeepsTheBuildInputs(t *testing.T) {
	d := readDockerignore(t)
	for _, required := range []string{"Dockerfile", ".dockerignore"} {
		if _, err := os.Stat(filepath.Join(repoRoot, required)); err != nil {
			t.Fatal(err)
		}
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-deps", "-json=Dir,Module,GoFiles,EmbedFiles", "./cmd/...")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	inputs := []string{"Makefile", "go.mod", "go.sum"}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			Dir                 string
			Module              *struct{ Main bool }
			GoFiles, EmbedFiles []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if p.Module == nil || !p.Module.Main {
			continue
		}
		rel, err := filepath.Rel(root, p.Dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range append(p.GoFiles, p.EmbedFiles...) {
			inputs = append(inputs, filepath.ToSlash(filepath.Join(rel, f)))
		}
	}
	if len(inputs) < 10 {
		t.Fatalf("go list found only %v", inputs)
	}
	for _, f := range inputs {
		if d.excluded(f) {
			t.Errorf(".dockerignore excludes %s, which make build needs", f)
		}
	}
	for _, f := range []string{"bin/scheduler", ".git/HEAD", "docs/benchmarks.md"} {
		if !d.excluded(f) {
			t.Errorf(".dockerignore does not exclude %s", f)
		}
	}
}
