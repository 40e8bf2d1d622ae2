// Package workload is the input side of snug's placement simulator and
// capacity planner: it turns files into *corev1.Node and *corev1.Pod objects.
//
//	nodes, err := workload.LoadNodes("nodes.csv")
//	pods, err := workload.LoadPods("workload.yaml")
//	nodes, pods, err := workload.Example("kubernetes-patterns-table-2-2")
//
// The format is chosen by extension: .yaml, .yml and .json are Kubernetes
// objects, .csv is one of the CSV formats below, chosen by the header. For
// other names the first line that is neither blank nor a comment decides
// (apiVersion:, kind:, --- or { means YAML/JSON; a comma means CSV).
// Results are in file order (workloads expanded in place), and loading the
// same file twice gives equal objects, UIDs included.
//
// # YAML and JSON
//
// Multi-document streams (---) and lists (kind: List, or typed lists such as
// PodList) are read. Each object is decoded with client-go's scheme, strictly
// (unknown and duplicate fields are errors) and without defaulting.
//
// LoadNodes reads v1 Node objects and ignores other kinds, so that one file
// can hold a whole cluster (kubectl get nodes,pods -o yaml). For each node,
// status.allocatable takes each resource it lacks from status.capacity,
// allocatable pods defaults to 110 and capacity takes what it lacks from
// allocatable; the kubernetes.io/hostname label defaults to the name (as the
// kubelet sets it). Negative quantities and duplicate names are errors, and a
// file without nodes is an error.
//
// LoadPods reads:
//
//   - v1 Pod: as it is (spec.nodeName and status included).
//   - apps/v1 Deployment, ReplicaSet, v1 ReplicationController: spec.replicas
//     pods (default 1) named <name>-<i>, i from 0.
//   - apps/v1 StatefulSet: spec.replicas pods named <name>-<ordinal>, ordinals
//     from spec.ordinals.start (default 0).
//   - batch/v1 Job: min(parallelism, completions) pods running at once;
//     parallelism defaults to 1, unset completions do not limit, a suspended
//     Job runs none.
//
// Expanded pods carry the template's labels, annotations and whole pod spec
// unchanged (requests, limits, affinity, tolerations,
// topologySpreadConstraints, nodeSelector, priorityClassName, schedulerName,
// ...), and one controller owner reference to the workload (its apiVersion,
// kind, name and UID, BlockOwnerDeletion true), so that owner-based logic
// such as the descheduler's RemoveDuplicates sees them as siblings. Note
// that the scheduler's DefaultSelector only follows ReplicaSet, StatefulSet
// and ReplicationController owners, and only if it can look the owner up:
// pods of a Deployment are owned by the Deployment itself here (a real
// cluster puts a ReplicaSet in between).
//
// Namespaces default to "default". A workload without metadata.uid gets
// FakeUID(kind, namespace, name); every pod without one gets
// FakeUID("Pod", namespace, name). The apps/v1 rules for selectors (required,
// not empty, matching the template's labels) are checked, as are: a name,
// at least one container, requests and limits >= 0, requests <= limits,
// replicas, parallelism and completions >= 0, and unique pod names.
//
// DaemonSets are rejected: how many pods they run and where depends on the
// nodes, so they are not a demand to place; model them as per-node overhead
// by lowering allocatable. CronJobs are rejected too (describe the Job they
// run). Workload kinds in other group versions (apps/v1beta1, ...) are
// errors; other built-in kinds (Service, ConfigMap, Node, ...) are ignored;
// kinds outside client-go's scheme are errors.
//
// A file should describe desired workloads: a dump that holds both a
// Deployment and the pods it made counts them twice.
//
// # Generic CSV
//
// A header line is required; it names the columns, in any order, and every
// record has as many fields. Blank lines and lines starting with # are
// skipped. Quantities are Kubernetes quantities (500m, 2, 512Mi, 4Gi; a bare
// number of memory is bytes).
//
// Nodes: name,cpu,memory[,gpu[,labels]]
//
//	name    node name (DNS subdomain)
//	cpu     allocatable CPU, quantity
//	memory  allocatable memory, quantity
//	gpu     nvidia.com/gpu count, integer (empty or 0: none)
//	labels  key=value pairs separated by ';' (or ',' inside a quoted field)
//
// Allocatable pods is 110; capacity equals allocatable.
//
// Pods: name,cpu,memory[,gpu[,replicas]]
//
//	name      pod name (DNS subdomain)
//	cpu       CPU request, quantity
//	memory    memory request, quantity
//	gpu       nvidia.com/gpu count, integer; requested with an equal limit
//	replicas  empty: one pod named <name>; a number (0 included): that many
//	          pods <name>-<i> owned by a ReplicaSet <name>
//
// Pods have one container "main" with image registry.k8s.io/pause:3.10,
// requests as given, no CPU or memory limits, namespace default.
//
// # Alibaba openb CSV
//
// The format of Alibaba's cluster-trace-gpu-v2023 ("openb"), chosen when the
// header has cpu_milli (or sn). Columns are matched by name.
//
// Nodes: sn,cpu_milli,memory_mib,gpu[,model]
//
//	sn          node name
//	cpu_milli   allocatable CPU in millicores
//	memory_mib  allocatable memory in MiB
//	gpu         nvidia.com/gpu (omitted when 0)
//	model       GPU model; non-empty gives the label snug.io/gpu-model=<model>
//
// Allocatable pods is 110. No topology.kubernetes.io/zone label is set: the
// trace has no zones.
//
// Pods: name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec,qos,pod_phase,
// creation_time,deletion_time,scheduled_time]
//
//	cpu_milli, memory_mib  CPU and memory requests (a memory of 0 is kept as
//	                       an explicit request of 0)
//	num_gpu                nvidia.com/gpu requested (and limited: extended
//	                       resources need limit == request)
//	gpu_milli              thousandths of one GPU the pod uses (0..1000)
//	gpu_spec               "G1|G2": required node affinity
//	                       snug.io/gpu-model In [G1, G2]
//	qos                    LS, BE, Burstable or Guaranteed, kept in the
//	                       annotation snug.io/qos; Guaranteed also sets limits
//	                       = requests, all others keep their requests and get
//	                       no CPU or memory limits (so Kubernetes would class
//	                       BE and LS pods as Burstable)
//	pod_phase              kept in the annotation snug.io/pod-phase
//	creation_time,         seconds from the start of the trace, kept in the
//	deletion_time,         annotations snug.io/creation-time,
//	scheduled_time         snug.io/deletion-time, snug.io/scheduled-time;
//	                       read them with Times
//
// GPU sharing: vanilla Kubernetes has no fractional GPUs, so a pod with
// num_gpu 1 and 0 < gpu_milli < 1000 requests one whole nvidia.com/gpu and
// keeps gpu_milli in the annotation snug.io/gpu-milli (see GPUMilli). A pod
// with num_gpu 0 but gpu_milli > 0 is treated as num_gpu 1 (the published
// openb_pod_list_default.csv has no such row: every pod with num_gpu 0 has
// gpu_milli 0, and every pod with num_gpu > 1 has gpu_milli 1000). gpu_milli
// above 1000 is an error.
//
// Times: an empty time gives no annotation (pods Pending at the end of the
// trace have no scheduled_time); Times then reports a missing deletion as
// Never. A time beyond int64 is Never, a whole number written as a float
// (1.29e7) is accepted, a negative time or a deletion before the creation is
// an error. In the published trace deletion_time is never empty: pods still
// running when the trace ends have the trace's last second (12902960).
//
// # Errors
//
// Errors are *Error and name the file, the line (for CSV the record's line;
// for YAML the document's index and the line where it starts), the object
// and the field:
//
//	pods.csv:17: field "cpu_milli": invalid integer "12a"
//	workload.yaml: document 3 (line 41): Deployment "web": spec.replicas: must be >= 0, got -1
package workload
