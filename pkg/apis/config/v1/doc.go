// Package v1 holds the versioned (kubescheduler.config.k8s.io/v1) form of
// snug's plugin args, with their defaults.
//
// +k8s:deepcopy-gen=package
// +k8s:conversion-gen=github.com/snug-sched/snug/pkg/apis/config
// +k8s:defaulter-gen=TypeMeta
// +k8s:defaulter-gen-input=github.com/snug-sched/snug/pkg/apis/config/v1
package v1
