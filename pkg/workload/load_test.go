package workload

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// qty returns r of rl as a string, "-" when absent.
func qty(rl corev1.ResourceList, r corev1.ResourceName) string {
	q, ok := rl[r]
	if !ok {
		return "-"
	}
	return q.String()
}

func podNames(pods []*corev1.Pod) []string {
	var s []string
	for _, p := range pods {
		s = append(s, p.Namespace+"/"+p.Name)
	}
	return s
}

func TestLoadNodesYAML(t *testing.T) {
	nodes, err := LoadNodes("testdata/nodes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		name, cpu, mem, gpu, pods, hostname string
	}
	wants := []want{
		{"cap-only", "4", "8Gi", "-", "110", "cap-only"},
		{"alloc", "7500m", "15Gi", "2", "50", "custom-host"},
		{"in-list", "2", "4Gi", "-", "110", "in-list"},
	}
	if len(nodes) != len(wants) {
		t.Fatalf("got %d nodes, want %d", len(nodes), len(wants))
	}
	for i, w := range wants {
		n := nodes[i]
		a := n.Status.Allocatable
		got := want{n.Name, qty(a, corev1.ResourceCPU), qty(a, corev1.ResourceMemory), qty(a, GPUResource), qty(a, corev1.ResourcePods), n.Labels[corev1.LabelHostname]}
		if got != w {
			t.Errorf("node %d: got %+v, want %+v", i, got, w)
		}
		if n.UID != FakeUID("Node", "", n.Name) {
			t.Errorf("node %s: UID %q", n.Name, n.UID)
		}
		for r, q := range a {
			if c, ok := n.Status.Capacity[r]; !ok || (r != corev1.ResourcePods && c.Cmp(q) < 0) {
				t.Errorf("node %s: capacity %s = %v, allocatable %v", n.Name, r, c.String(), q.String())
			}
		}
	}
	if nodes[0].Labels["topology.kubernetes.io/zone"] != "zone-a" || len(nodes[1].Spec.Taints) != 1 {
		t.Errorf("labels or taints not kept: %v %v", nodes[0].Labels, nodes[1].Spec.Taints)
	}
}

func TestLoadPodsYAML(t *testing.T) {
	pods, err := LoadPods("testdata/workload.yaml")
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{
		"default/solo",
		"shop/web-0", "shop/web-1", "shop/web-2",
		"default/db-5", "default/db-6",
		"default/batch-0", "default/batch-1",
		"default/once-0",
		"default/rs-0",
	}
	if got := podNames(pods); !reflect.DeepEqual(got, wantNames) {
		t.Fatalf("pods:\n got %v\nwant %v", got, wantNames)
	}
	byName := map[string]*corev1.Pod{}
	for _, p := range pods {
		byName[p.Name] = p
		if p.UID != FakeUID("Pod", p.Namespace, p.Name) {
			t.Errorf("%s: UID %q", p.Name, p.UID)
		}
		if p.Kind != "Pod" || p.APIVersion != "v1" {
			t.Errorf("%s: TypeMeta %v", p.Name, p.TypeMeta)
		}
	}
	if solo := byName["solo"]; len(solo.OwnerReferences) != 0 || solo.Spec.NodeName != "alloc" {
		t.Errorf("bare pod changed: %+v", solo.ObjectMeta)
	}

	owners := []struct{ pod, apiVersion, kind, name, uid string }{
		{"web-1", "apps/v1", "Deployment", "web", string(FakeUID("Deployment", "shop", "web"))},
		{"db-6", "apps/v1", "StatefulSet", "db", string(FakeUID("StatefulSet", "default", "db"))},
		{"batch-0", "batch/v1", "Job", "batch", string(FakeUID("Job", "default", "batch"))},
		{"rs-0", "apps/v1", "ReplicaSet", "rs", "11111111-2222-3333-4444-555555555555"},
	}
	for _, o := range owners {
		refs := byName[o.pod].OwnerReferences
		if len(refs) != 1 {
			t.Fatalf("%s: %d owner references", o.pod, len(refs))
		}
		r := refs[0]
		if r.APIVersion != o.apiVersion || r.Kind != o.kind || r.Name != o.name || string(r.UID) != o.uid ||
			r.Controller == nil || !*r.Controller {
			t.Errorf("%s: owner %+v, want %+v", o.pod, r, o)
		}
	}

	// The template is copied unchanged.
	w := byName["web-2"]
	if w.Labels["app"] != "web" || w.Labels["tier"] != "front" || w.Annotations["note"] != "kept" ||
		w.Spec.SchedulerName != "snug-scheduler" || w.Spec.PriorityClassName != "high" ||
		w.Spec.NodeSelector["disk"] != "ssd" || len(w.Spec.Tolerations) != 1 ||
		w.Spec.Affinity == nil || w.Spec.Affinity.PodAntiAffinity == nil ||
		len(w.Spec.TopologySpreadConstraints) != 1 {
		t.Errorf("template not kept: %+v %+v", w.ObjectMeta, w.Spec)
	}
	res := w.Spec.Containers[0].Resources
	if qty(res.Requests, corev1.ResourceCPU) != "250m" || qty(res.Limits, corev1.ResourceMemory) != "512Mi" {
		t.Errorf("resources: %+v", res)
	}
	// Pods do not share maps with each other.
	byName["web-0"].Labels["app"] = "changed"
	byName["web-0"].Spec.NodeSelector["disk"] = "changed"
	if w.Labels["app"] != "web" || w.Spec.NodeSelector["disk"] != "ssd" {
		t.Error("expanded pods share maps")
	}
}

func TestLoadPodsJSON(t *testing.T) {
	pods, err := LoadPods("testdata/workload.json")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := podNames(pods), []string{"default/api-0", "default/api-1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestJobCounts(t *testing.T) {
	job := func(spec string) string {
		return "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n" + spec +
			"  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: x}]\n"
	}
	for _, tc := range []struct {
		spec string
		want int
	}{
		{"", 1},
		{"  parallelism: 3\n", 3},
		{"  completions: 5\n", 1},
		{"  parallelism: 3\n  completions: 5\n", 3},
		{"  parallelism: 5\n  completions: 2\n", 2},
		{"  parallelism: 0\n", 0},
		{"  parallelism: 3\n  suspend: true\n", 0},
	} {
		pods, err := ReadPods("job.yaml", []byte(job(tc.spec)))
		if err != nil {
			t.Fatalf("%q: %v", tc.spec, err)
		}
		if len(pods) != tc.want {
			t.Errorf("%q: %d pods, want %d", tc.spec, len(pods), tc.want)
		}
	}
}

func TestGenericCSV(t *testing.T) {
	nodes, err := LoadNodes("testdata/nodes.csv")
	if err != nil {
		t.Fatal(err)
	}
	type nw struct{ name, cpu, mem, gpu, pods, zone, pool string }
	wantNodes := []nw{
		{"small", "2", "4Gi", "-", "110", "", ""},
		{"big", "16", "64Gi", "4", "110", "z1", "gpu"},
		{"mid", "3500m", "8Gi", "-", "110", "z2", "general"},
	}
	if len(nodes) != len(wantNodes) {
		t.Fatalf("%d nodes", len(nodes))
	}
	for i, w := range wantNodes {
		n := nodes[i]
		a := n.Status.Allocatable
		got := nw{n.Name, qty(a, corev1.ResourceCPU), qty(a, corev1.ResourceMemory), qty(a, GPUResource), qty(a, corev1.ResourcePods),
			n.Labels["topology.kubernetes.io/zone"], n.Labels["pool"]}
		if got != w {
			t.Errorf("node %d: got %+v, want %+v", i, got, w)
		}
		if n.Labels[corev1.LabelHostname] != n.Name || !reflect.DeepEqual(n.Status.Capacity, a) {
			t.Errorf("node %s: labels %v capacity %v", n.Name, n.Labels, n.Status.Capacity)
		}
	}

	pods, err := LoadPods("testdata/pods.csv")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := podNames(pods), []string{"default/single", "default/train", "default/web-0", "default/web-1", "default/web-2"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	single, train, web := pods[0], pods[1], pods[3]
	if r := single.Spec.Containers[0].Resources; qty(r.Requests, corev1.ResourceCPU) != "500m" || qty(r.Requests, corev1.ResourceMemory) != "512Mi" ||
		qty(r.Requests, GPUResource) != "-" || len(r.Limits) != 0 || len(single.OwnerReferences) != 0 {
		t.Errorf("single: %+v", single)
	}
	if r := train.Spec.Containers[0].Resources; qty(r.Requests, GPUResource) != "2" || qty(r.Limits, GPUResource) != "2" || qty(r.Limits, corev1.ResourceCPU) != "-" {
		t.Errorf("train: %+v", r)
	}
	if len(web.OwnerReferences) != 1 || web.OwnerReferences[0].Kind != "ReplicaSet" || web.OwnerReferences[0].Name != "web" {
		t.Errorf("web owner: %+v", web.OwnerReferences)
	}
	if web.Spec.Containers[0].Image != PlaceholderImage {
		t.Errorf("image %q", web.Spec.Containers[0].Image)
	}
}

func TestOpenbNodes(t *testing.T) {
	nodes, err := LoadNodes("testdata/openb_nodes.csv")
	if err != nil {
		t.Fatal(err)
	}
	type nw struct{ name, cpu, mem, gpu, pods, model string }
	wants := []nw{
		{"n-cpu", "32", "256Gi", "-", "110", ""},
		{"n-g2", "96", "384Gi", "8", "110", "G2"},
		{"n-t4", "104", "512Gi", "2", "110", "T4"},
	}
	for i, w := range wants {
		n := nodes[i]
		a := n.Status.Allocatable
		got := nw{n.Name, qty(a, corev1.ResourceCPU), qty(a, corev1.ResourceMemory), qty(a, GPUResource), qty(a, corev1.ResourcePods), n.Labels[LabelGPUModel]}
		if got != w {
			t.Errorf("node %d: got %+v, want %+v", i, got, w)
		}
		if _, ok := n.Labels[corev1.LabelTopologyZone]; ok {
			t.Errorf("%s has a zone label", n.Name)
		}
	}
	if _, ok := nodes[0].Labels[LabelGPUModel]; ok {
		t.Error("CPU-only node has a GPU model label")
	}
}

func TestOpenbPods(t *testing.T) {
	pods, err := LoadPods("testdata/openb_pods.csv")
	if err != nil {
		t.Fatal(err)
	}
	type pw struct {
		name, cpu, mem, gpuReq, gpuLim, cpuLim, milli, qos string
		created, deleted                                   int64
		timesOK                                            bool
		models                                             []string
	}
	wants := []pw{
		{"p-whole", "12", "16Gi", "1", "1", "-", "", "LS", 0, 12537496, true, nil},
		// one GPU shared: asks a whole GPU, gpu_milli kept
		{"p-share", "6", "12Gi", "1", "1", "-", "460", "BE", 427061, 12902960, true, nil},
		{"p-cpu", "4", "8Gi", "-", "-", "-", "", "Burstable", 10, 20, true, nil},
		// gpu_milli without num_gpu: one GPU
		{"p-milli-only", "2", "1Gi", "1", "1", "-", "300", "LS", 30, 40, true, nil},
		// Guaranteed: limits = requests; a deletion beyond int64 is Never
		{"p-multi", "32", "64Gi", "8", "8", "32", "", "Guaranteed", 50, Never, true, []string{"G2", "G3"}},
		{"p-pending", "1", "0", "1", "1", "-", "50", "BE", 60, 60, true, []string{"T4"}},
		{"p-open", "1", "512Mi", "-", "-", "-", "", "", 0, 0, false, nil},
	}
	if len(pods) != len(wants) {
		t.Fatalf("%d pods", len(pods))
	}
	for i, w := range wants {
		p := pods[i]
		r := p.Spec.Containers[0].Resources
		created, deleted, ok := Times(p)
		got := pw{p.Name, qty(r.Requests, corev1.ResourceCPU), qty(r.Requests, corev1.ResourceMemory),
			qty(r.Requests, GPUResource), qty(r.Limits, GPUResource), qty(r.Limits, corev1.ResourceCPU),
			p.Annotations[AnnotationGPUMilli], p.Annotations[AnnotationQoS], created, deleted, ok, nil}
		if a := p.Spec.Affinity; a != nil {
			terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
			if len(terms) != 1 || len(terms[0].MatchExpressions) != 1 {
				t.Fatalf("%s: affinity %+v", p.Name, a)
			}
			e := terms[0].MatchExpressions[0]
			if e.Key != LabelGPUModel || e.Operator != corev1.NodeSelectorOpIn {
				t.Errorf("%s: expression %+v", p.Name, e)
			}
			got.models = e.Values
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("pod %d:\n got %+v\nwant %+v", i, got, w)
		}
		if m, ok := GPUMilli(p); ok != (w.milli != "") || (ok && fmt.Sprint(m) != w.milli) {
			t.Errorf("%s: GPUMilli = %d, %v", p.Name, m, ok)
		}
	}
	// memory 0 is an explicit request of 0, not a missing one
	if q, ok := pods[5].Spec.Containers[0].Resources.Requests[corev1.ResourceMemory]; !ok || !q.IsZero() {
		t.Errorf("p-pending memory request %v %v", q, ok)
	}
	if pods[5].Annotations[AnnotationPodPhase] != "Pending" || pods[5].Annotations[AnnotationScheduledTime] != "" {
		t.Errorf("p-pending annotations %v", pods[5].Annotations)
	}
	if pods[1].Annotations[AnnotationScheduledTime] != "427061" {
		t.Errorf("p-share annotations %v", pods[1].Annotations)
	}
}

func TestOpenbGPURule(t *testing.T) {
	header := "name,cpu_milli,memory_mib,num_gpu,gpu_milli\n"
	for _, tc := range []struct {
		numGPU, milli string
		gpus          string // requested nvidia.com/gpu, "-" for none
		ann           string // snug.io/gpu-milli
		err           string
	}{
		{"0", "0", "-", "", ""},
		{"1", "1000", "1", "", ""},
		{"1", "1", "1", "1", ""},
		{"1", "999", "1", "999", ""},
		{"0", "500", "1", "500", ""},
		{"0", "1000", "1", "", ""},
		{"4", "1000", "4", "", ""},
		{"2", "500", "2", "500", ""},
		{"1", "0", "1", "", ""},
		{"1", "1001", "", "", `field "gpu_milli": must be <= 1000`},
		{"1", "-5", "", "", `field "gpu_milli": must be >= 0, got -5`},
		{"-1", "0", "", "", `field "num_gpu": must be >= 0, got -1`},
		{"1.5", "0", "", "", `field "num_gpu": invalid integer "1.5"`},
	} {
		name := tc.numGPU + "/" + tc.milli
		pods, err := ReadPods("g.csv", []byte(header+"p,1000,1024,"+tc.numGPU+","+tc.milli+"\n"))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), "g.csv:2: "+tc.err) {
				t.Errorf("%s: error %v, want %q", name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r := pods[0].Spec.Containers[0].Resources
		if got := qty(r.Requests, GPUResource); got != tc.gpus || qty(r.Limits, GPUResource) != tc.gpus {
			t.Errorf("%s: gpu request %s limit %s, want %s", name, got, qty(r.Limits, GPUResource), tc.gpus)
		}
		if got := pods[0].Annotations[AnnotationGPUMilli]; got != tc.ann {
			t.Errorf("%s: annotation %q, want %q", name, got, tc.ann)
		}
	}
}

func TestErrors(t *testing.T) {
	const (
		nodes = "nodes"
		pods  = "pods"
	)
	dep := func(replicas string) string {
		return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: " + replicas +
			"\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n" +
			"    spec:\n      containers: [{name: c, image: x}]\n"
	}
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers: [{name: c, image: x}]\n"
	node := "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n"
	openbPodHeader := "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n"
	openbPodRow := "p0,1000,1024,0,0,,LS,Running,0,10,0\n"

	for _, tc := range []struct {
		name, file, kind, data string
		want                   []string
	}{
		// CSV: file:line: field
		{"openb bad integer", "pods.csv", pods, openbPodHeader + openbPodRow + "p1,12a,1024,0,0,,LS,Running,0,10,0\n",
			[]string{`pods.csv:3: field "cpu_milli": invalid integer "12a"`}},
		{"openb negative memory", "pods.csv", pods, openbPodHeader + "p1,1,-1,0,0,,LS,Running,0,10,0\n",
			[]string{`pods.csv:2: field "memory_mib": must be >= 0, got -1`}},
		{"openb missing fields", "pods.csv", pods, openbPodHeader + "p1,1,1\n",
			[]string{`pods.csv:2: 3 fields, the header has 11`}},
		{"openb missing column", "pods.csv", pods, "name,cpu_milli,memory_mib,num_gpu\np,1,1,0\n",
			[]string{`pods.csv:1: field "gpu_milli": missing column`}},
		{"openb deletion before creation", "pods.csv", pods, openbPodHeader + "p1,1,1,0,0,,LS,Running,50,10,50\n",
			[]string{`pods.csv:2: field "deletion_time": 10 is before creation_time 50`}},
		{"openb bad time", "pods.csv", pods, openbPodHeader + "p1,1,1,0,0,,LS,Running,x,10,0\n",
			[]string{`pods.csv:2: field "creation_time": invalid time "x"`}},
		{"openb empty gpu_spec models", "pods.csv", pods, openbPodHeader + "p1,1,1,1,1000,|,LS,Running,0,10,0\n",
			[]string{`pods.csv:2: field "gpu_spec": "|" names no GPU model`}},
		{"openb duplicate pod", "pods.csv", pods, openbPodHeader + openbPodRow + "# comment\n" + openbPodRow,
			[]string{`pods.csv:4: field "name": duplicate pod name "p0" (first on line 2)`}},
		{"openb duplicate node", "nodes.csv", nodes, "sn,cpu_milli,memory_mib,gpu,model\na,1,1,0,\nb,1,1,0,\na,1,1,0,\n",
			[]string{`nodes.csv:4: field "sn": duplicate node name "a" (first on line 2)`}},
		{"openb negative gpu", "nodes.csv", nodes, "sn,cpu_milli,memory_mib,gpu,model\na,1,1,-2,G1\n",
			[]string{`nodes.csv:2: field "gpu": must be >= 0, got -2`}},
		{"pod list as nodes", "nodes.csv", nodes, openbPodHeader + openbPodRow,
			[]string{`nodes.csv:1: this header is a pod list`, "LoadPods"}},
		{"node list as pods", "pods.csv", pods, "sn,cpu_milli,memory_mib,gpu,model\na,1,1,0,\n",
			[]string{`pods.csv:1: this header is a node list`, "LoadNodes"}},
		{"generic negative quantity", "nodes.csv", nodes, "name,cpu,memory\na,-1,1Gi\n",
			[]string{`nodes.csv:2: field "cpu": must be >= 0, got -1`}},
		{"generic bad quantity", "pods.csv", pods, "name,cpu,memory\na,1,lots\n",
			[]string{`pods.csv:2: field "memory": invalid quantity "lots"`}},
		{"generic unknown column", "pods.csv", pods, "name,cpu,memory,colour\na,1,1,red\n",
			[]string{`pods.csv:1: field "colour": unknown column`}},
		{"generic bad label", "nodes.csv", nodes, "name,cpu,memory,gpu,labels\na,1,1Gi,0,zone\n",
			[]string{`nodes.csv:2: field "labels": "zone" is not key=value`}},
		{"generic bad name", "nodes.csv", nodes, "name,cpu,memory\nNode_1,1,1Gi\n",
			[]string{`nodes.csv:2: field "name": invalid name "Node_1"`}},
		{"generic negative replicas", "pods.csv", pods, "name,cpu,memory,gpu,replicas\na,1,1Gi,0,-3\n",
			[]string{`pods.csv:2: field "replicas": must be >= 0, got -3`}},
		{"generic replicas collide", "pods.csv", pods, "name,cpu,memory,gpu,replicas\na-1,1,1Gi,,\na,1,1Gi,0,2\n",
			[]string{`pods.csv:3: field "name": duplicate pod name "a-1" (first on line 2)`}},
		{"csv header only required", "pods.csv", pods, "", []string{`pods.csv: empty: a header line is required`}},
		{"csv quote", "pods.csv", pods, "name,cpu,memory\n\"a,1,1\n", []string{`pods.csv:2:`}},

		// YAML: file: document N (line L): Kind "name": field
		{"negative replicas", "workload.yaml", pods, pod + "---\n" + strings.Replace(pod, "name: a", "name: b", 1) + "---\n\n# comment\n" + dep("-1"),
			[]string{`workload.yaml: document 3 (line 15): Deployment "web": spec.replicas: must be >= 0, got -1`}},
		{"unknown field", "workload.yaml", pods, strings.Replace(dep("1"), "replicas:", "replicaz:", 1),
			[]string{`workload.yaml: document 1 (line 1): Deployment "web"`, `unknown field "spec.replicaz"`}},
		{"duplicate field", "workload.yaml", pods, "# c\n" + dep("1") + "metadata: {name: x}\n",
			[]string{`workload.yaml: document 1 (line 2): yaml: unmarshal errors: line 15: key "metadata" already set in map`}},
		{"yaml syntax line", "workload.yaml", pods, pod + "---\nkind: Pod\nmetadata:\n  name: [\n",
			[]string{`workload.yaml: document 2 (line 7): yaml: line 9: `}},
		{"daemonset", "workload.yaml", pods, "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c, image: x}]}\n",
			[]string{`document 1 (line 1): DaemonSet "agent": DaemonSets are not supported`, "depends on the nodes"}},
		{"cronjob", "workload.yaml", pods, "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: cj}\nspec:\n  schedule: '* * * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec: {restartPolicy: Never, containers: [{name: c, image: x}]}\n",
			[]string{`CronJob "cj": CronJobs are not supported`}},
		{"old api version", "workload.yaml", pods, strings.Replace(dep("1"), "apps/v1", "apps/v1beta2", 1),
			[]string{`Deployment "web": apiVersion: apps/v1beta2 Deployment is not supported, use apps/v1`}},
		{"unregistered kind", "workload.yaml", pods, "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
			[]string{`document 1 (line 1): Widget "w": kind Widget (example.com/v1) is not a built-in Kubernetes kind`}},
		{"selector mismatch", "workload.yaml", pods, strings.Replace(dep("2"), "matchLabels: {app: web}", "matchLabels: {app: api}", 1),
			[]string{`Deployment "web": spec.selector: app=api does not match`}},
		{"selector missing", "workload.yaml", pods, strings.Replace(dep("2"), "  selector:\n    matchLabels: {app: web}\n", "", 1),
			[]string{`Deployment "web": spec.selector: required`}},
		{"no containers", "workload.yaml", pods, "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {}\n",
			[]string{`Pod "a": spec.containers: required`}},
		{"negative request", "workload.yaml", pods, strings.Replace(dep("1"), "{name: c, image: x}", "{name: c, image: x, resources: {requests: {cpu: -1}}}", 1),
			[]string{`Deployment "web": spec.template.spec.containers[0].resources.requests.cpu: must be >= 0, got -1`}},
		{"request above limit", "workload.yaml", pods, "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - {name: c, image: x}\n  - {name: d, image: x, resources: {requests: {memory: 2Gi}, limits: {memory: 1Gi}}}\n",
			[]string{`Pod "a": spec.containers[1].resources.requests.memory: 2Gi must be <= the limit 1Gi`}},
		{"negative completions", "workload.yaml", pods, "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  completions: -1\n  template:\n    spec: {restartPolicy: Never, containers: [{name: c, image: x}]}\n",
			[]string{`Job "j": spec.completions: must be >= 0, got -1`}},
		{"duplicate pod", "workload.yaml", pods, dep("2") + "---\n" + strings.Replace(pod, "name: a", "name: web-1", 1),
			[]string{`document 2 (line 15): Pod "web-1": metadata.name: pod default/web-1 is also made by Deployment "web" in document 1`}},
		{"generateName", "workload.yaml", pods, "apiVersion: v1\nkind: Pod\nmetadata: {generateName: a-}\nspec:\n  containers: [{name: c, image: x}]\n",
			[]string{`Pod "": metadata.name: required (generateName is not supported)`}},
		{"list item", "workload.yaml", pods, "apiVersion: v1\nkind: List\nitems:\n- " + strings.ReplaceAll(strings.TrimSuffix(pod, "\n"), "\n", "\n  ") + "\n- " + strings.ReplaceAll(strings.TrimSuffix(dep("-2"), "\n"), "\n", "\n  ") + "\n",
			[]string{`document 1 (line 1): items[1]: Deployment "web": spec.replicas: must be >= 0, got -2`}},
		{"negative node capacity", "nodes.yaml", nodes, node + "status:\n  capacity: {cpu: '-4'}\n",
			[]string{`nodes.yaml: document 1 (line 1): Node "n1": status.capacity.cpu: must be >= 0, got -4`}},
		{"duplicate node yaml", "nodes.yaml", nodes, node + "---\n" + node,
			[]string{`nodes.yaml: document 2 (line 5): Node "n1": metadata.name: duplicate node name "n1" (first in document 1)`}},
		{"no nodes", "nodes.yaml", nodes, pod, []string{`nodes.yaml: no nodes found`}},
		{"unknown format", "nodes.txt", nodes, "hello\n", []string{`nodes.txt: cannot tell the format`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.kind == nodes {
				_, err = ReadNodes(tc.file, []byte(tc.data))
			} else {
				_, err = ReadPods(tc.file, []byte(tc.data))
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n  %v\ndoes not contain\n  %s", err, w)
				}
			}
			var e *Error
			if !errors.As(err, &e) || e.File != tc.file {
				t.Errorf("not an *Error for %s: %#v", tc.file, err)
			}
		})
	}
}

func TestErrorOnFileOnDisk(t *testing.T) {
	_, err := LoadPods("testdata/does-not-exist.yaml")
	if err == nil || !strings.Contains(err.Error(), "does-not-exist.yaml") {
		t.Errorf("got %v", err)
	}
}

func TestDetectByContent(t *testing.T) {
	for _, tc := range []struct{ name, data string }{
		{"cluster", "# nodes\napiVersion: v1\nkind: Node\nmetadata: {name: a}\n"},
		{"cluster.txt", "{\"apiVersion\": \"v1\", \"kind\": \"Node\", \"metadata\": {\"name\": \"a\"}}"},
		{"nodes.list", "name,cpu,memory\na,1,1Gi\n"},
	} {
		nodes, err := ReadNodes(tc.name, []byte(tc.data))
		if err != nil || len(nodes) != 1 || nodes[0].Name != "a" {
			t.Errorf("%s: %v %v", tc.name, nodes, err)
		}
	}
}

func TestDeterminism(t *testing.T) {
	for _, f := range []string{"testdata/nodes.yaml", "testdata/nodes.csv", "testdata/openb_nodes.csv"} {
		a, err := LoadNodes(f)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := LoadNodes(f)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: two loads differ", f)
		}
	}
	uids := map[string]string{}
	for _, f := range []string{"testdata/workload.yaml", "testdata/workload.json", "testdata/pods.csv", "testdata/openb_pods.csv"} {
		a, err := LoadPods(f)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := LoadPods(f)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: two loads differ", f)
		}
		for _, p := range a {
			if prev, dup := uids[string(p.UID)]; dup && prev != f+p.Name {
				t.Errorf("UID %s of %s/%s also used by %s", p.UID, f, p.Name, prev)
			}
			uids[string(p.UID)] = f + p.Name
		}
	}
}

var uuidV5 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestFakeUID(t *testing.T) {
	a := FakeUID("Pod", "default", "web-0")
	if !uuidV5.MatchString(string(a)) {
		t.Errorf("%q is not a version 5 UUID", a)
	}
	if a != FakeUID("Pod", "default", "web-0") {
		t.Error("not deterministic")
	}
	for _, other := range []string{string(FakeUID("Deployment", "default", "web-0")), string(FakeUID("Pod", "other", "web-0")), string(FakeUID("Pod", "default", "web-1"))} {
		if other == string(a) {
			t.Errorf("collision %s", other)
		}
	}
}

func TestTimes(t *testing.T) {
	pod := func(ann map[string]string) *corev1.Pod {
		p := &corev1.Pod{}
		p.Annotations = ann
		return p
	}
	for _, tc := range []struct {
		ann              map[string]string
		created, deleted int64
		ok               bool
	}{
		{nil, 0, 0, false},
		{map[string]string{AnnotationCreationTime: "5"}, 5, Never, true},
		{map[string]string{AnnotationCreationTime: "5", AnnotationDeletionTime: "9"}, 5, 9, true},
		{map[string]string{AnnotationCreationTime: "5", AnnotationDeletionTime: "4"}, 0, 0, false},
		{map[string]string{AnnotationCreationTime: "x"}, 0, 0, false},
		{map[string]string{AnnotationCreationTime: "-1"}, 0, 0, false},
		{map[string]string{AnnotationCreationTime: "5", AnnotationDeletionTime: "9223372036854775807"}, 5, Never, true},
	} {
		c, d, ok := Times(pod(tc.ann))
		if c != tc.created || d != tc.deleted || ok != tc.ok {
			t.Errorf("%v: got %d %d %v, want %d %d %v", tc.ann, c, d, ok, tc.created, tc.deleted, tc.ok)
		}
	}
}

func TestOpenbTimeColumns(t *testing.T) {
	header := "name,cpu_milli,memory_mib,num_gpu,gpu_milli,creation_time,deletion_time\n"
	for _, tc := range []struct {
		created, deleted string
		wantDeleted      int64
		err              string
	}{
		{"10", "", Never, ""},
		{"10", "1.29e7", 12900000, ""},
		{"10", "1e30", Never, ""},
		{"10", "18446744073709551616", Never, ""},
		{"10", "10.5", 0, `field "deletion_time": invalid time "10.5": not a whole number`},
		{"10", "-3", 0, `field "deletion_time": must be >= 0, got -3`},
		{"", "10", 0, `field "creation_time": empty, but deletion_time is set`},
	} {
		pods, err := ReadPods("t.csv", []byte(header+"p,1,1,0,0,"+tc.created+","+tc.deleted+"\n"))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), "t.csv:2: "+tc.err) {
				t.Errorf("%s/%s: error %v, want %s", tc.created, tc.deleted, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, d, ok := Times(pods[0]); !ok || d != tc.wantDeleted {
			t.Errorf("%s/%s: deleted %d %v, want %d", tc.created, tc.deleted, d, ok, tc.wantDeleted)
		}
	}
}

func TestMixedClusterFile(t *testing.T) {
	// kubectl get nodes,deployments -o yaml: one file for both loaders.
	data := []byte(`apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Node
  metadata: {name: n1}
  status: {allocatable: {cpu: "2", memory: 4Gi}}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: d}
  spec:
    replicas: 2
    selector: {matchLabels: {app: d}}
    template:
      metadata: {labels: {app: d}}
      spec: {containers: [{name: c, image: x}]}
`)
	nodes, err := ReadNodes("cluster.yaml", data)
	if err != nil || len(nodes) != 1 {
		t.Fatalf("nodes %v %v", nodes, err)
	}
	pods, err := ReadPods("cluster.yaml", data)
	if err != nil || len(pods) != 2 {
		t.Fatalf("pods %v %v", pods, err)
	}
}
