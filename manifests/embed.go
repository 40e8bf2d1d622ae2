// Package manifests embeds the files that are shipped as they are, so that the
// binaries and tests use exactly what a cluster operator deploys.
package manifests

import _ "embed"

// SchedulerConfig is the shipped KubeSchedulerConfiguration (profile snug-scheduler).
//
//go:embed scheduler-config.yaml
var SchedulerConfig []byte

// SchedulerName is the profile name pods select with spec.schedulerName.
const SchedulerName = "snug-scheduler"
