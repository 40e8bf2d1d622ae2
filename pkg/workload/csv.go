package workload

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Column sets of the CSV formats. The header line names the columns; their
// order is free.
var (
	genericNodeRequired = []string{"name", "cpu", "memory"}
	genericNodeOptional = []string{"gpu", "labels"}
	genericPodRequired  = []string{"name", "cpu", "memory"}
	genericPodOptional  = []string{"gpu", "replicas"}
	openbNodeRequired   = []string{"sn", "cpu_milli", "memory_mib", "gpu"}
	openbNodeOptional   = []string{"model"}
	openbPodRequired    = []string{"name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli"}
	openbPodOptional    = []string{"gpu_spec", "qos", "pod_phase", "creation_time", "deletion_time", "scheduled_time"}
)

type csvRow struct {
	line   int
	fields []string
}

type csvTable struct {
	file       string
	headerLine int
	col        map[string]int
	header     []string
	rows       []csvRow
}

func readCSV(file string, data []byte) (*csvTable, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.Comment = '#'
	t := &csvTable{file: file, col: map[string]int{}}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, &Error{File: file, Line: pe.Line, Err: pe.Err}
			}
			return nil, &Error{File: file, Err: err}
		}
		line, _ := r.FieldPos(0)
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if t.header == nil {
			t.headerLine = line
			for i, h := range rec {
				h = strings.ToLower(h)
				if h == "" {
					return nil, &Error{File: file, Line: line, Err: fmt.Errorf("header: column %d has no name", i+1)}
				}
				if _, dup := t.col[h]; dup {
					return nil, &Error{File: file, Line: line, Field: h, Err: errors.New("duplicate column")}
				}
				t.col[h] = i
				t.header = append(t.header, h)
			}
			continue
		}
		if len(rec) != len(t.header) {
			return nil, &Error{File: file, Line: line, Err: fmt.Errorf("%d fields, the header has %d (%s)", len(rec), len(t.header), strings.Join(t.header, ","))}
		}
		t.rows = append(t.rows, csvRow{line: line, fields: rec})
	}
	if t.header == nil {
		return nil, &Error{File: file, Err: errors.New("empty: a header line is required")}
	}
	return t, nil
}

func (t *csvTable) has(c string) bool { _, ok := t.col[c]; return ok }

// expect checks the header against a format's columns.
func (t *csvTable) expect(format string, required, optional []string) error {
	all := append(append([]string{}, required...), optional...)
	for _, c := range required {
		if !t.has(c) {
			return &Error{File: t.file, Line: t.headerLine, Field: c,
				Err: fmt.Errorf("missing column: the %s format needs %s (optional: %s)", format, strings.Join(required, ","), strings.Join(optional, ","))}
		}
	}
	for _, h := range t.header {
		known := false
		for _, c := range all {
			known = known || c == h
		}
		if !known {
			return &Error{File: t.file, Line: t.headerLine, Field: h,
				Err: fmt.Errorf("unknown column for the %s format (columns: %s)", format, strings.Join(all, ","))}
		}
	}
	return nil
}

func (t *csvTable) get(r csvRow, c string) string {
	if i, ok := t.col[c]; ok {
		return r.fields[i]
	}
	return ""
}

func (t *csvTable) errorf(r csvRow, field, format string, args ...any) *Error {
	return &Error{File: t.file, Line: r.line, Field: field, Err: fmt.Errorf(format, args...)}
}

// integer parses a column holding a non-negative integer.
func (t *csvTable) integer(r csvRow, c string, required bool) (int64, error) {
	s := t.get(r, c)
	if s == "" {
		if required {
			return 0, t.errorf(r, c, "empty")
		}
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, t.errorf(r, c, "integer out of range %q", s)
		}
		return 0, t.errorf(r, c, "invalid integer %q", s)
	}
	if v < 0 {
		return 0, t.errorf(r, c, "must be >= 0, got %d", v)
	}
	return v, nil
}

// quantity parses a column holding a non-negative Kubernetes quantity.
func (t *csvTable) quantity(r csvRow, c string) (resource.Quantity, error) {
	s := t.get(r, c)
	if s == "" {
		return resource.Quantity{}, t.errorf(r, c, "empty")
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return resource.Quantity{}, t.errorf(r, c, "invalid quantity %q (use e.g. 500m, 2, 512Mi, 4Gi)", s)
	}
	if q.Sign() < 0 {
		return resource.Quantity{}, t.errorf(r, c, "must be >= 0, got %s", s)
	}
	return q, nil
}

func (t *csvTable) name(r csvRow, c string) (string, error) {
	s := t.get(r, c)
	if s == "" {
		return "", t.errorf(r, c, "empty")
	}
	for _, msg := range validation.IsDNS1123Subdomain(s) {
		return "", t.errorf(r, c, "invalid name %q: %s", s, msg)
	}
	return s, nil
}

// time parses a time in seconds. Empty is absent. A number beyond int64
// (a "never" sentinel) is Never. Whole numbers written as floats (1.2e7) are
// accepted.
func (t *csvTable) time(r csvRow, c string) (int64, bool, error) {
	s := t.get(r, c)
	if s == "" {
		return 0, false, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err == nil {
		if v < 0 {
			return 0, false, t.errorf(r, c, "must be >= 0, got %d", v)
		}
		return v, true, nil
	}
	if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(s, "-") {
		return Never, true, nil
	}
	f, ferr := strconv.ParseFloat(s, 64)
	switch {
	case ferr != nil && !errors.Is(ferr, strconv.ErrRange), math.IsNaN(f):
		return 0, false, t.errorf(r, c, "invalid time %q (seconds)", s)
	case f < 0:
		return 0, false, t.errorf(r, c, "must be >= 0, got %s", s)
	case f >= math.MaxInt64:
		return Never, true, nil
	case f != math.Trunc(f):
		return 0, false, t.errorf(r, c, "invalid time %q: not a whole number of seconds", s)
	}
	return int64(f), true, nil
}

// rowNames detects duplicate names.
type rowNames struct {
	t    *csvTable
	what string
	seen map[string]int
}

func (n *rowNames) add(r csvRow, field, name string) error {
	if first, dup := n.seen[name]; dup {
		return n.t.errorf(r, field, "duplicate %s name %q (first on line %d)", n.what, name, first)
	}
	n.seen[name] = r.line
	return nil
}

func readCSVNodes(file string, data []byte) ([]*corev1.Node, error) {
	t, err := readCSV(file, data)
	if err != nil {
		return nil, err
	}
	if t.has("num_gpu") || t.has("gpu_milli") || t.has("replicas") {
		return nil, &Error{File: file, Line: t.headerLine, Err: errors.New("this header is a pod list, not a node list: load it with LoadPods")}
	}
	openb := t.has("sn") || t.has("cpu_milli")
	if openb {
		err = t.expect("openb node", openbNodeRequired, openbNodeOptional)
	} else {
		err = t.expect("generic node", genericNodeRequired, genericNodeOptional)
	}
	if err != nil {
		return nil, err
	}
	names := &rowNames{t: t, what: "node", seen: map[string]int{}}
	nodes := make([]*corev1.Node, 0, len(t.rows))
	for _, r := range t.rows {
		var n *corev1.Node
		if openb {
			n, err = openbNode(t, r)
		} else {
			n, err = genericNode(t, r)
		}
		if err != nil {
			return nil, err
		}
		field := "name"
		if openb {
			field = "sn"
		}
		if err := names.add(r, field, n.Name); err != nil {
			return nil, err
		}
		if fe := prepareNode(n); fe != nil {
			return nil, t.errorf(r, "", "%v", fe)
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

func newNode(name string, alloc corev1.ResourceList, lbls map[string]string) *corev1.Node {
	if _, ok := alloc[corev1.ResourcePods]; !ok {
		alloc[corev1.ResourcePods] = *resource.NewQuantity(DefaultMaxPods, resource.DecimalSI)
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls},
		Status:     corev1.NodeStatus{Allocatable: alloc, Capacity: alloc.DeepCopy()},
	}
}

func genericNode(t *csvTable, r csvRow) (*corev1.Node, error) {
	name, err := t.name(r, "name")
	if err != nil {
		return nil, err
	}
	cpu, err := t.quantity(r, "cpu")
	if err != nil {
		return nil, err
	}
	mem, err := t.quantity(r, "memory")
	if err != nil {
		return nil, err
	}
	gpu, err := t.integer(r, "gpu", false)
	if err != nil {
		return nil, err
	}
	lbls, err := parseLabels(t, r)
	if err != nil {
		return nil, err
	}
	alloc := corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem}
	if gpu > 0 {
		alloc[GPUResource] = *resource.NewQuantity(gpu, resource.DecimalSI)
	}
	return newNode(name, alloc, lbls), nil
}

// parseLabels reads "key=value" pairs separated by ';' (or by ',' inside a
// quoted field).
func parseLabels(t *csvTable, r csvRow) (map[string]string, error) {
	s := t.get(r, "labels")
	lbls := map[string]string{}
	for _, kv := range strings.FieldsFunc(s, func(c rune) bool { return c == ';' || c == ',' }) {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok {
			return nil, t.errorf(r, "labels", "%q is not key=value", kv)
		}
		for _, msg := range validation.IsQualifiedName(k) {
			return nil, t.errorf(r, "labels", "invalid label key %q: %s", k, msg)
		}
		for _, msg := range validation.IsValidLabelValue(v) {
			return nil, t.errorf(r, "labels", "invalid value %q of label %q: %s", v, k, msg)
		}
		if _, dup := lbls[k]; dup {
			return nil, t.errorf(r, "labels", "duplicate label %q", k)
		}
		lbls[k] = v
	}
	return lbls, nil
}

func openbNode(t *csvTable, r csvRow) (*corev1.Node, error) {
	name, err := t.name(r, "sn")
	if err != nil {
		return nil, err
	}
	cpu, err := t.integer(r, "cpu_milli", true)
	if err != nil {
		return nil, err
	}
	mib, err := t.integer(r, "memory_mib", true)
	if err != nil {
		return nil, err
	}
	if mib > math.MaxInt64>>20 {
		return nil, t.errorf(r, "memory_mib", "%d MiB is too large", mib)
	}
	gpu, err := t.integer(r, "gpu", true)
	if err != nil {
		return nil, err
	}
	model := t.get(r, "model")
	lbls := map[string]string{}
	if model != "" {
		for _, msg := range validation.IsValidLabelValue(model) {
			return nil, t.errorf(r, "model", "%q is not a valid label value: %s", model, msg)
		}
		lbls[LabelGPUModel] = model
	}
	alloc := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewMilliQuantity(cpu, resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(mib<<20, resource.BinarySI),
	}
	if gpu > 0 {
		alloc[GPUResource] = *resource.NewQuantity(gpu, resource.DecimalSI)
	}
	return newNode(name, alloc, lbls), nil
}

func readCSVPods(file string, data []byte) ([]*corev1.Pod, error) {
	t, err := readCSV(file, data)
	if err != nil {
		return nil, err
	}
	if t.has("sn") || t.has("labels") || (t.has("gpu") && t.has("cpu_milli")) {
		return nil, &Error{File: file, Line: t.headerLine, Err: errors.New("this header is a node list, not a pod list: load it with LoadNodes")}
	}
	openb := t.has("cpu_milli")
	if openb {
		err = t.expect("openb pod", openbPodRequired, openbPodOptional)
	} else {
		err = t.expect("generic pod", genericPodRequired, genericPodOptional)
	}
	if err != nil {
		return nil, err
	}
	names := &rowNames{t: t, what: "pod", seen: map[string]int{}}
	pods := make([]*corev1.Pod, 0, len(t.rows))
	for _, r := range t.rows {
		var ps []*corev1.Pod
		if openb {
			var p *corev1.Pod
			p, err = openbPod(t, r)
			ps = []*corev1.Pod{p}
		} else {
			ps, err = genericPods(t, r)
		}
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if err := names.add(r, "name", p.Name); err != nil {
				return nil, err
			}
		}
		pods = append(pods, ps...)
	}
	return pods, nil
}

// csvPodSpec is the spec of a pod made from a CSV row: one container with
// the placeholder image.
func csvPodSpec(req, lim corev1.ResourceList) corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{
		Name:      "main",
		Image:     PlaceholderImage,
		Resources: corev1.ResourceRequirements{Requests: req, Limits: lim},
	}}}
}

func newCSVPod(name string, spec corev1.PodSpec) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: DefaultNamespace, UID: FakeUID("Pod", DefaultNamespace, name)},
		Spec:       spec,
	}
}

func genericPods(t *csvTable, r csvRow) ([]*corev1.Pod, error) {
	name, err := t.name(r, "name")
	if err != nil {
		return nil, err
	}
	cpu, err := t.quantity(r, "cpu")
	if err != nil {
		return nil, err
	}
	mem, err := t.quantity(r, "memory")
	if err != nil {
		return nil, err
	}
	gpu, err := t.integer(r, "gpu", false)
	if err != nil {
		return nil, err
	}
	req := corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem}
	var lim corev1.ResourceList
	if gpu > 0 {
		// Extended resources cannot be overcommitted: limit == request.
		req[GPUResource] = *resource.NewQuantity(gpu, resource.DecimalSI)
		lim = corev1.ResourceList{GPUResource: *resource.NewQuantity(gpu, resource.DecimalSI)}
	}
	spec := csvPodSpec(req, lim)
	if t.get(r, "replicas") == "" {
		return []*corev1.Pod{newCSVPod(name, spec)}, nil
	}
	n, err := t.integer(r, "replicas", true)
	if err != nil {
		return nil, err
	}
	if n > MaxPodsPerWorkload {
		return nil, t.errorf(r, "replicas", "%d exceeds the limit of %d pods per workload", n, MaxPodsPerWorkload)
	}
	om := metav1.ObjectMeta{Name: name, Namespace: DefaultNamespace}
	ps, fe := expand(owner{"ReplicaSet", "apps/v1", &om}, &corev1.PodTemplateSpec{Spec: spec}, 0, int32(n))
	if fe != nil {
		return nil, t.errorf(r, "", "%v", fe)
	}
	return ps, nil
}

func openbPod(t *csvTable, r csvRow) (*corev1.Pod, error) {
	name, err := t.name(r, "name")
	if err != nil {
		return nil, err
	}
	cpu, err := t.integer(r, "cpu_milli", true)
	if err != nil {
		return nil, err
	}
	mib, err := t.integer(r, "memory_mib", true)
	if err != nil {
		return nil, err
	}
	if mib > math.MaxInt64>>20 {
		return nil, t.errorf(r, "memory_mib", "%d MiB is too large", mib)
	}
	numGPU, err := t.integer(r, "num_gpu", true)
	if err != nil {
		return nil, err
	}
	milli, err := t.integer(r, "gpu_milli", true)
	if err != nil {
		return nil, err
	}
	if milli > 1000 {
		return nil, t.errorf(r, "gpu_milli", "must be <= 1000 (thousandths of one GPU), got %d", milli)
	}
	gpus := numGPU
	if gpus == 0 && milli > 0 {
		// A share of a GPU without num_gpu still needs a GPU.
		gpus = 1
	}
	ann := map[string]string{}
	if milli > 0 && milli < 1000 {
		ann[AnnotationGPUMilli] = strconv.FormatInt(milli, 10)
	}
	qos := t.get(r, "qos")
	if qos != "" {
		ann[AnnotationQoS] = qos
	}
	if ph := t.get(r, "pod_phase"); ph != "" {
		ann[AnnotationPodPhase] = ph
	}
	created, hasCreated, err := t.time(r, "creation_time")
	if err != nil {
		return nil, err
	}
	deleted, hasDeleted, err := t.time(r, "deletion_time")
	if err != nil {
		return nil, err
	}
	scheduled, hasScheduled, err := t.time(r, "scheduled_time")
	if err != nil {
		return nil, err
	}
	if hasCreated && hasDeleted && deleted < created {
		return nil, t.errorf(r, "deletion_time", "%d is before creation_time %d", deleted, created)
	}
	if hasDeleted && !hasCreated {
		return nil, t.errorf(r, "creation_time", "empty, but deletion_time is set")
	}
	if hasCreated {
		ann[AnnotationCreationTime] = strconv.FormatInt(created, 10)
	}
	if hasDeleted {
		ann[AnnotationDeletionTime] = strconv.FormatInt(deleted, 10)
	}
	if hasScheduled {
		ann[AnnotationScheduledTime] = strconv.FormatInt(scheduled, 10)
	}

	req := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewMilliQuantity(cpu, resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(mib<<20, resource.BinarySI),
	}
	var lim corev1.ResourceList
	if gpus > 0 {
		req[GPUResource] = *resource.NewQuantity(gpus, resource.DecimalSI)
		// Extended resources cannot be overcommitted: limit == request.
		lim = corev1.ResourceList{GPUResource: *resource.NewQuantity(gpus, resource.DecimalSI)}
	}
	if qos == "Guaranteed" {
		lim = req.DeepCopy()
	}
	spec := csvPodSpec(req, lim)

	if s := t.get(r, "gpu_spec"); s != "" {
		var models []string
		seen := map[string]bool{}
		for _, m := range strings.Split(s, "|") {
			m = strings.TrimSpace(m)
			if m == "" || seen[m] {
				continue
			}
			for _, msg := range validation.IsValidLabelValue(m) {
				return nil, t.errorf(r, "gpu_spec", "GPU model %q is not a valid label value: %s", m, msg)
			}
			seen[m] = true
			models = append(models, m)
		}
		if len(models) == 0 {
			return nil, t.errorf(r, "gpu_spec", "%q names no GPU model", s)
		}
		spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: LabelGPUModel, Operator: corev1.NodeSelectorOpIn, Values: models,
				}}}},
			},
		}}
	}
	p := newCSVPod(name, spec)
	if len(ann) > 0 {
		p.Annotations = ann
	}
	return p, nil
}
