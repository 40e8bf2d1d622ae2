package throughput

import (
	"bytes"
	"encoding/json"
	"html/template"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/snug-sched/snug/manifests"
)

// renderTemplate evaluates a template like scheduler_perf does (html/template
// with its arithmetic helpers, variables Index and Count) and decodes it
// strictly into obj.
func renderTemplate(t *testing.T, path string, index int, obj any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	funcs := template.FuncMap{
		"Mod":         func(a, b int) int { return a % b },
		"DivideInt":   func(a, b int) int { return a / b },
		"AddInt":      func(a, b int) int { return a + b },
		"MultiplyInt": func(a, b int) int { return a * b },
		"SubtractInt": func(a, b int) int { return a - b },
	}
	tmpl, err := template.New("object").Funcs(funcs).Parse(string(data))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, map[string]any{"Index": index, "Count": 100}); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := yaml.UnmarshalStrict(out.Bytes(), obj); err != nil {
		t.Fatalf("%s, index %d: %v\n%s", path, index, err, out.String())
	}
}

// templatePaths collects the values of every *TemplatePath and templatePaths
// key of a generated config.
func templatePaths(v any, out map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && regexp.MustCompile(`TemplatePath$`).MatchString(k) {
				out[s] = true
			}
			if l, ok := x.([]any); ok && k == "templatePaths" {
				for _, s := range l {
					out[s.(string)] = true
				}
			}
			templatePaths(x, out)
		}
	case []any:
		for _, x := range v {
			templatePaths(x, out)
		}
	}
}

func TestGenerateConfig(t *testing.T) {
	for _, profile := range []string{ProfileDefault, ProfileSnug} {
		t.Run(profile, func(t *testing.T) {
			path, err := generateConfig(t.TempDir(), profile)
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var tcs []map[string]any
			if err := json.Unmarshal(data, &tcs); err != nil {
				t.Fatal(err)
			}
			if len(tcs) < 6 {
				t.Fatalf("want the test cases of %v, got %d", configFiles, len(tcs))
			}
			for _, tc := range tcs {
				cfg, set := tc["schedulerConfigPath"].(string)
				switch {
				case profile == ProfileDefault && set:
					t.Errorf("%v: default profile with schedulerConfigPath %q", tc["name"], cfg)
				case profile == ProfileSnug && !set:
					t.Errorf("%v: snug profile without schedulerConfigPath", tc["name"])
				case profile == ProfileSnug:
					got, err := os.ReadFile(cfg)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, manifests.SchedulerConfig) {
						t.Errorf("%v: scheduler config differs from manifests/scheduler-config.yaml", tc["name"])
					}
				}
			}
			paths := map[string]bool{}
			for _, tc := range tcs {
				templatePaths(tc, paths)
			}
			pods := 0
			for p := range paths {
				if !filepath.IsAbs(p) {
					t.Errorf("template path %q is not absolute", p)
				}
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if !kindPodRE.Match(data) {
					var node corev1.Node
					renderTemplate(t, p, 0, &node)
					continue
				}
				pods++
				for i := 0; i < 10; i++ {
					var pod corev1.Pod
					renderTemplate(t, p, i, &pod)
					want := ""
					if profile == ProfileSnug {
						want = manifests.SchedulerName
					}
					if pod.Spec.SchedulerName != want {
						t.Errorf("%s, index %d: schedulerName %q, want %q", p, i, pod.Spec.SchedulerName, want)
					}
				}
			}
			if pods < 7 {
				t.Errorf("want every pod template of %v, found %d", configFiles, pods)
			}
		})
	}
}

func TestSnugTemplates(t *testing.T) {
	shapes := map[string]bool{}
	gpus := 0
	for i := 0; i < 10; i++ {
		var pod corev1.Pod
		renderTemplate(t, "templates/snug/pod-mixed.yaml", i, &pod)
		r := pod.Spec.Containers[0].Resources
		if !equalLists(r.Requests, r.Limits) {
			t.Errorf("pod-mixed %d: requests %v != limits %v", i, r.Requests, r.Limits)
		}
		shapes[r.Requests.Cpu().String()+"/"+r.Requests.Memory().String()] = true
		if q, ok := r.Requests["nvidia.com/gpu"]; ok && q.Value() == 1 {
			gpus++
		}
	}
	if len(shapes) < 5 || gpus != 1 {
		t.Errorf("pod-mixed: want >= 5 shapes and one GPU pod in ten, got %d shapes, %d GPU pods", len(shapes), gpus)
	}
	for i := 0; i < 40; i++ {
		var pod corev1.Pod
		renderTemplate(t, "templates/snug/pod-spread.yaml", i, &pod)
		c := pod.Spec.TopologySpreadConstraints
		if len(c) != 1 || c[0].WhenUnsatisfiable != corev1.ScheduleAnyway || c[0].LabelSelector.MatchLabels["app"] != pod.Labels["app"] {
			t.Errorf("pod-spread %d: want one ScheduleAnyway constraint on its own app, got %+v", i, c)
		}
	}
	var gpu corev1.Node
	renderTemplate(t, "templates/snug/node-gpu.yaml", 4, &gpu)
	if q := gpu.Status.Allocatable["nvidia.com/gpu"]; q.Value() != 8 || gpu.Labels[corev1.LabelTopologyZone] != "moon-1" {
		t.Errorf("node-gpu: want 8 GPUs in zone moon-1, got %v in %q", q.String(), gpu.Labels[corev1.LabelTopologyZone])
	}
}

func equalLists(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || v.Cmp(w) != 0 {
			return false
		}
	}
	return true
}

func TestSelectProfile(t *testing.T) {
	in := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n    containers: []\n"
	got, err := selectProfile([]byte(in), "x")
	if err != nil {
		t.Fatal(err)
	}
	if want := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n    schedulerName: x\n    containers: []\n"; string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	for _, bad := range []string{
		"kind: Pod\nmetadata: {}\n",
		"kind: Pod\nspec:\n  schedulerName: y\n",
	} {
		if _, err := selectProfile([]byte(bad), "x"); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
}
