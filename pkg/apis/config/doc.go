// Package config holds the internal (hub) version of snug's plugin args.
//
// The types live in the kube-scheduler's own API group,
// kubescheduler.config.k8s.io, exactly as upstream and scheduler-plugins
// register theirs: a KubeSchedulerConfiguration names a plugin in
// pluginConfig, the kube-scheduler decodes args as kind "<PluginName>Args" of
// that group, and the plugin receives the internal type defined here.
//
// +k8s:deepcopy-gen=package
package config
