package workload

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// format of an input file.
type format int

const (
	formatYAML format = iota
	formatCSV
)

// LoadNodes reads the nodes described by the file at path. The format is
// chosen by extension (.yaml, .yml, .json, .csv) or, for other names, by
// content; see the package documentation for the formats.
func LoadNodes(path string) ([]*corev1.Node, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ReadNodes(path, data)
}

// LoadPods reads the pods described by the file at path: Pod objects as they
// are, workloads expanded into their pods. The format is chosen as for
// LoadNodes.
func LoadPods(path string) ([]*corev1.Pod, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ReadPods(path, data)
}

// ReadNodes is LoadNodes for content already in memory; name is used to
// choose the format and in error messages.
func ReadNodes(name string, data []byte) ([]*corev1.Node, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	f, err := detect(name, data)
	if err != nil {
		return nil, err
	}
	var nodes []*corev1.Node
	if f == formatCSV {
		nodes, err = readCSVNodes(name, data)
	} else {
		nodes, err = readYAMLNodes(name, data)
	}
	if err != nil {
		return nil, err
	}
	if len(nodes) == 0 {
		return nil, &Error{File: name, Err: fmt.Errorf("no nodes found")}
	}
	return nodes, nil
}

// ReadPods is LoadPods for content already in memory; name is used to choose
// the format and in error messages.
func ReadPods(name string, data []byte) ([]*corev1.Pod, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	f, err := detect(name, data)
	if err != nil {
		return nil, err
	}
	if f == formatCSV {
		return readCSVPods(name, data)
	}
	return readYAMLPods(name, data)
}

// detect chooses the format by extension, then by the first line that is
// neither blank nor a comment.
func detect(name string, data []byte) (format, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return formatYAML, nil
	case ".csv":
		return formatCSV, nil
	}
	for _, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		switch {
		case strings.HasPrefix(t, "{"), strings.HasPrefix(t, "---"),
			strings.HasPrefix(t, "apiVersion:"), strings.HasPrefix(t, "kind:"):
			return formatYAML, nil
		case strings.Contains(t, ","):
			return formatCSV, nil
		}
		break
	}
	return 0, &Error{File: name, Err: fmt.Errorf("cannot tell the format: use a .yaml, .yml, .json or .csv name")}
}
