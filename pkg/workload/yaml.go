package workload

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// strictDecoder decodes any kind registered in client-go's scheme, in the
// version written in the document, without defaulting; unknown and duplicate
// fields are errors.
var strictDecoder = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// yamlDoc is one non-empty document of a YAML stream.
type yamlDoc struct {
	text string
	// index is 1-based among the non-empty documents.
	index int
	// first is the line of the first line of text; line is the line of its
	// first content (neither blank nor comment).
	first, line int
}

// splitYAML splits a stream at "---" lines and drops documents that hold
// only blanks and comments.
func splitYAML(data string) []yamlDoc {
	var docs []yamlDoc
	lines := strings.SplitAfter(data, "\n")
	var cur strings.Builder
	first, content := 1, 0
	flush := func() {
		if content > 0 {
			docs = append(docs, yamlDoc{text: cur.String(), index: len(docs) + 1, first: first, line: content})
		}
		cur.Reset()
		content = 0
	}
	for i, l := range lines {
		n := i + 1
		if isDocSeparator(l) {
			flush()
			first = n + 1
			// "--- {a: 1}" and "--- |" carry content on the separator line.
			rest := strings.TrimSpace(l[3:])
			if rest != "" && !strings.HasPrefix(rest, "#") {
				first = n
				cur.WriteString(l[3:])
				content = n
			}
			continue
		}
		t := strings.TrimSpace(l)
		if content == 0 && t != "" && !strings.HasPrefix(t, "#") {
			content = n
		}
		cur.WriteString(l)
	}
	flush()
	return docs
}

func isDocSeparator(l string) bool {
	if !strings.HasPrefix(l, "---") {
		return false
	}
	if len(l) == 3 {
		return true
	}
	switch l[3] {
	case ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

var yamlLineRE = regexp.MustCompile(`\bline (\d+)`)

// absLines rewrites the "line N" of a YAML parser error (relative to the
// document) into the line of the file, and puts the error on one line.
func absLines(err error, first int) error {
	msg := yamlLineRE.ReplaceAllStringFunc(err.Error(), func(m string) string {
		n, _ := strconv.Atoi(yamlLineRE.FindStringSubmatch(m)[1])
		return fmt.Sprintf("line %d", n+first-1)
	})
	msg = strings.ReplaceAll(msg, ":\n  ", ": ")
	msg = strings.ReplaceAll(msg, "\n  ", "; ")
	return errors.New(msg)
}

// decoded is one object of a file with where it came from.
type decoded struct {
	obj runtime.Object
	gvk schema.GroupVersionKind
	doc yamlDoc
	// item is "items[i]" for an element of a list.
	item string
}

func (d *decoded) label() string {
	name := ""
	if m, err := meta.Accessor(d.obj); err == nil {
		name = m.GetName()
	}
	s := fmt.Sprintf("%s %q", d.gvk.Kind, name)
	if d.item != "" {
		s = d.item + ": " + s
	}
	return s
}

func (d *decoded) errorf(file, field string, err error) *Error {
	return &Error{File: file, Document: d.doc.index, Line: d.doc.line, Object: d.label(), Field: field, Err: err}
}

// objectLabel names an object that could not be decoded, from its JSON.
func objectLabel(j []byte) string {
	var m struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if json.Unmarshal(j, &m) != nil || m.Kind == "" {
		return ""
	}
	return fmt.Sprintf("%s %q", m.Kind, m.Metadata.Name)
}

// decodeYAML decodes every object of a YAML or JSON file, lists flattened.
func decodeYAML(file string, data []byte) ([]decoded, error) {
	var docs []yamlDoc
	if strings.HasSuffix(strings.ToLower(file), ".json") {
		// JSON is one document; "---" has no meaning in it.
		s := string(data)
		line := 1
		for _, l := range strings.SplitAfter(s, "\n") {
			if strings.TrimSpace(l) != "" {
				break
			}
			line++
		}
		if strings.TrimSpace(s) != "" {
			docs = []yamlDoc{{text: s, index: 1, first: 1, line: line}}
		}
	} else {
		docs = splitYAML(string(data))
	}
	var out []decoded
	for _, doc := range docs {
		j, err := yaml.YAMLToJSONStrict([]byte(doc.text))
		if err != nil {
			return nil, &Error{File: file, Document: doc.index, Line: doc.line, Err: absLines(err, doc.first)}
		}
		objs, err := decodeObject(file, j, doc, "")
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

func decodeObject(file string, j []byte, doc yamlDoc, item string) ([]decoded, error) {
	obj, gvk, err := strictDecoder.Decode(j, nil, nil)
	if err != nil {
		label := objectLabel(j)
		if item != "" {
			label = strings.TrimSuffix(item+": "+label, ": ")
		}
		if runtime.IsNotRegisteredError(err) && gvk != nil {
			err = fmt.Errorf("kind %s (%s) is not a built-in Kubernetes kind", gvk.Kind, gvk.GroupVersion())
		}
		return nil, &Error{File: file, Document: doc.index, Line: doc.line, Object: label, Err: err}
	}
	if list, ok := obj.(*corev1.List); ok {
		var out []decoded
		for i, raw := range list.Items {
			it := fmt.Sprintf("items[%d]", i)
			if item != "" {
				it = item + "." + it
			}
			if len(raw.Raw) == 0 {
				return nil, &Error{File: file, Document: doc.index, Line: doc.line, Object: it, Err: errors.New("empty list item")}
			}
			objs, err := decodeObject(file, raw.Raw, doc, it)
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
		}
		return out, nil
	}
	if meta.IsListType(obj) {
		// Typed lists such as PodList or NodeList.
		items, err := meta.ExtractList(obj)
		if err != nil {
			return nil, &Error{File: file, Document: doc.index, Line: doc.line, Object: gvk.Kind, Err: err}
		}
		ik := gvk.GroupVersion().WithKind(strings.TrimSuffix(gvk.Kind, "List"))
		var out []decoded
		for i, o := range items {
			it := fmt.Sprintf("items[%d]", i)
			if item != "" {
				it = item + "." + it
			}
			out = append(out, decoded{obj: o, gvk: ik, doc: doc, item: it})
		}
		return out, nil
	}
	return []decoded{{obj: obj, gvk: *gvk, doc: doc, item: item}}, nil
}

func readYAMLNodes(file string, data []byte) ([]*corev1.Node, error) {
	objs, err := decodeYAML(file, data)
	if err != nil {
		return nil, err
	}
	var nodes []*corev1.Node
	seen := map[string]*decoded{}
	for i := range objs {
		d := &objs[i]
		n, ok := d.obj.(*corev1.Node)
		if !ok {
			if d.gvk.Kind == "Node" {
				return nil, d.errorf(file, "apiVersion", fmt.Errorf("%s Node is not supported, use v1", d.gvk.GroupVersion()))
			}
			// Mixed files (kubectl get nodes,pods -o yaml) are fine: other
			// kinds are for LoadPods.
			continue
		}
		n = n.DeepCopy()
		if fe := prepareNode(n); fe != nil {
			return nil, d.errorf(file, fe.field, fe.err)
		}
		if prev, dup := seen[n.Name]; dup {
			return nil, d.errorf(file, "metadata.name", fmt.Errorf("duplicate node name %q (first in document %d)", n.Name, prev.doc.index))
		}
		seen[n.Name] = d
		nodes = append(nodes, n)
	}
	return nodes, nil
}

// workloadKinds are the kinds that create pods, whatever their group version.
var workloadKinds = map[string]bool{
	"Pod": true, "Deployment": true, "ReplicaSet": true, "StatefulSet": true, "Job": true,
	"ReplicationController": true, "DaemonSet": true, "CronJob": true,
}

func readYAMLPods(file string, data []byte) ([]*corev1.Pod, error) {
	objs, err := decodeYAML(file, data)
	if err != nil {
		return nil, err
	}
	var pods []*corev1.Pod
	seen := map[string]*decoded{}
	for i := range objs {
		d := &objs[i]
		var ps []*corev1.Pod
		var fe *fieldErr
		switch o := d.obj.(type) {
		case *corev1.Pod:
			ps, fe = barePod(o)
		case *appsv1.Deployment:
			ps, fe = expandDeployment(o)
		case *appsv1.ReplicaSet:
			ps, fe = expandReplicaSet(o)
		case *appsv1.StatefulSet:
			ps, fe = expandStatefulSet(o)
		case *batchv1.Job:
			ps, fe = expandJob(o)
		case *corev1.ReplicationController:
			ps, fe = expandReplicationController(o)
		case *appsv1.DaemonSet:
			return nil, d.errorf(file, "", errDaemonSet)
		case *batchv1.CronJob:
			return nil, d.errorf(file, "", errCronJob)
		default:
			if workloadKinds[d.gvk.Kind] {
				return nil, d.errorf(file, "apiVersion", fmt.Errorf("%s %s is not supported, use %s", d.gvk.GroupVersion(), d.gvk.Kind, supportedVersion(d.gvk.Kind)))
			}
			// Nodes, Services, ConfigMaps, ...: they create no pods.
			continue
		}
		if fe != nil {
			return nil, d.errorf(file, fe.field, fe.err)
		}
		for _, p := range ps {
			key := p.Namespace + "/" + p.Name
			if prev, dup := seen[key]; dup {
				return nil, d.errorf(file, "metadata.name", fmt.Errorf("pod %s is also made by %s in document %d", key, prev.label(), prev.doc.index))
			}
			seen[key] = d
		}
		pods = append(pods, ps...)
	}
	return pods, nil
}

func supportedVersion(kind string) string {
	switch kind {
	case "Job", "CronJob":
		return "batch/v1"
	case "Pod", "ReplicationController":
		return "v1"
	}
	return "apps/v1"
}

var (
	errDaemonSet = errors.New("DaemonSets are not supported: how many pods a DaemonSet runs and where depends on the nodes " +
		"(one per eligible node), so it is not a demand to place; model it as per-node overhead by lowering the nodes' allocatable")
	errCronJob = errors.New("CronJobs are not supported: their pods come and go with the schedule; describe the Job they run instead")
)
