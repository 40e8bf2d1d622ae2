package framework

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

const modulePath = "github.com/snug-sched/snug"

// Names of the control-plane binaries and the packages they are built from.
// The packages are `tool` entries in go.mod, so they build from the pinned
// module graph without any download.
var controlPlaneBinaries = []struct{ name, pkg string }{
	{"kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver"},
	{"kube-controller-manager", "k8s.io/kubernetes/cmd/kube-controller-manager"},
	{"kube-scheduler", "k8s.io/kubernetes/cmd/kube-scheduler"},
	{"etcd", "go.etcd.io/etcd/server/v3"},
}

// RepoRoot walks up from the working directory to the directory holding the
// go.mod of module github.com/snug-sched/snug.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isSnugModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod for module %s above the working directory", modulePath)
		}
		dir = parent
	}
}

func isSnugModule(goMod string) bool {
	f, err := os.Open(goMod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`) == modulePath
		}
	}
	return false
}

// ControlPlaneBinDir returns $SNUG_CONTROLPLANE_BIN if set, else
// <repo root>/bin/controlplane.
func ControlPlaneBinDir() (string, error) {
	if d := os.Getenv("SNUG_CONTROLPLANE_BIN"); d != "" {
		return filepath.Abs(d)
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "bin", "controlplane"), nil
}

// EnsureControlPlaneBinaries builds whichever of kube-apiserver,
// kube-controller-manager, kube-scheduler and etcd is missing from dir.
// An flock on dir/.build.lock serialises concurrent callers (go test runs
// packages in parallel), so nobody executes a half-written binary.
func EnsureControlPlaneBinaries(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".build.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck

	var kubePkgs []string
	buildEtcd := false
	for _, b := range controlPlaneBinaries {
		if _, err := os.Stat(filepath.Join(dir, b.name)); err == nil {
			continue
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if b.name == "etcd" {
			buildEtcd = true
		} else {
			kubePkgs = append(kubePkgs, b.pkg)
		}
	}
	if len(kubePkgs) == 0 && !buildEtcd {
		return nil
	}
	root, err := RepoRoot()
	if err != nil {
		return fmt.Errorf("control-plane binaries missing in %s and cannot build them: %w", dir, err)
	}
	if len(kubePkgs) > 0 {
		// A trailing separator makes `go build -o` treat the target as a directory.
		if err := goBuild(root, append([]string{"-o", dir + string(filepath.Separator)}, kubePkgs...)); err != nil {
			return err
		}
	}
	if buildEtcd {
		if err := goBuild(root, []string{"-o", filepath.Join(dir, "etcd"), "go.etcd.io/etcd/server/v3"}); err != nil {
			return err
		}
	}
	return nil
}

func goBuild(root string, args []string) error {
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}
