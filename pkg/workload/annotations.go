package workload

import (
	"math"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

const (
	// GPUResource is the extended resource of GPUs (NVIDIA device plugin).
	GPUResource corev1.ResourceName = "nvidia.com/gpu"

	// LabelGPUModel is the node label with the GPU model (openb "model");
	// pods with an openb gpu_spec require it through node affinity.
	LabelGPUModel = "snug.io/gpu-model"

	// AnnotationGPUMilli keeps the openb gpu_milli of a pod that asked for a
	// share (1..999 thousandths) of one GPU; it requests a whole GPU here.
	AnnotationGPUMilli = "snug.io/gpu-milli"
	// AnnotationQoS keeps the openb qos column (LS, BE, Burstable,
	// Guaranteed).
	AnnotationQoS = "snug.io/qos"
	// AnnotationPodPhase keeps the openb pod_phase column (the phase at the
	// end of the trace: Running, Succeeded, Failed, Pending).
	AnnotationPodPhase = "snug.io/pod-phase"
	// AnnotationCreationTime, AnnotationDeletionTime and
	// AnnotationScheduledTime keep the openb times, in seconds from the start
	// of the trace, as decimal integers. An empty column gives no annotation.
	AnnotationCreationTime  = "snug.io/creation-time"
	AnnotationDeletionTime  = "snug.io/deletion-time"
	AnnotationScheduledTime = "snug.io/scheduled-time"

	// PlaceholderImage is the image of the containers of pods made from CSV
	// rows.
	PlaceholderImage = "registry.k8s.io/pause:3.10"
)

// Never is the deletion time Times reports for a pod without one.
const Never int64 = math.MaxInt64

// Times returns the creation and deletion times of a pod, in seconds, from
// its snug.io/creation-time and snug.io/deletion-time annotations (set for
// openb pods), for replays with arrivals and departures. deleted is Never
// when the pod has no deletion time. ok is false when the pod has no valid
// creation time or has an invalid deletion time.
func Times(pod *corev1.Pod) (created, deleted int64, ok bool) {
	c, found := pod.Annotations[AnnotationCreationTime]
	if !found {
		return 0, 0, false
	}
	created, err := strconv.ParseInt(c, 10, 64)
	if err != nil || created < 0 {
		return 0, 0, false
	}
	d, found := pod.Annotations[AnnotationDeletionTime]
	if !found {
		return created, Never, true
	}
	deleted, err = strconv.ParseInt(d, 10, 64)
	if err != nil || deleted < created {
		return 0, 0, false
	}
	return created, deleted, true
}

// GPUMilli returns the share of one GPU, in thousandths, that an openb pod
// asked for when it was less than a whole GPU (its snug.io/gpu-milli
// annotation).
func GPUMilli(pod *corev1.Pod) (int64, bool) {
	v, found := pod.Annotations[AnnotationGPUMilli]
	if !found {
		return 0, false
	}
	m, err := strconv.ParseInt(v, 10, 64)
	if err != nil || m <= 0 || m >= 1000 {
		return 0, false
	}
	return m, true
}
