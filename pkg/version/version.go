// Package version is snug's own version, stamped into the binaries by
// `make build` (see LDFLAGS in the Makefile):
//
//	-X github.com/snug-sched/snug/pkg/version.version=$(VERSION)
//
// The Kubernetes libraries carry their own version variables, which make
// build stamps as well: k8s.io/component-base/version (what the scheduler's
// --version prints) and sigs.k8s.io/descheduler/pkg/version (what the
// descheduler's version command prints).
package version

import "runtime/debug"

// version is set with -ldflags -X; empty in a plain `go build`.
var version string

// Get returns the stamped version; without one, the main module's version
// the go command recorded (a tag or pseudo-version for `go install`), else
// "unknown".
func Get() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "unknown"
}
