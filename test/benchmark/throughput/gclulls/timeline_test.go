package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestParseGCTrace(t *testing.T) {
	for _, tc := range []struct {
		line string
		want time.Duration
		ok   bool
	}{
		{"gc 99 @292.483s 16%: 0.94+881+0.005 ms clock, 1.8+0/455/1306+0.011 ms cpu, 1188->1188->698 MB, 1983 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)",
			881945 * time.Microsecond, true},
		{"gc 7 @3.100s 2%: 0.010+2000+0.090 ms clock, 0.020+1/2/3+0.18 ms cpu, 10->11->5 MB, 12 MB goal, 0 MB stacks, 0 MB globals, 2 P",
			2000100 * time.Microsecond, true},
		{"scvg: 1 MB released", 0, false},
		{`I1201 18:22:37.788935    1179 schedule_one.go:481] "Successfully bound pod to node"`, 0, false},
	} {
		got, ok := parseGCTrace(tc.line)
		if ok != tc.ok || got.Round(time.Microsecond) != tc.want {
			t.Errorf("parseGCTrace(%q) = %v, %v; want %v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseBound(t *testing.T) {
	for _, tc := range []struct {
		line   string
		wantAt string
		wantNS string
		ok     bool
	}{
		{`I1201 18:22:37.788935    1179 schedule_one.go:481] "Successfully bound pod to node" pod="namespace-3/pod-ktcvc" node="node-0-dzs67" evaluatedNodes=500 feasibleNodes=500`,
			"2026-12-01T18:22:37.788935", "namespace-3", true},
		{`I1201 18:22:37.788935    1179 schedule_one.go:1239] "Unable to schedule pod; no fit; waiting" pod="namespace-2/pod-high-priority-x"`, "", "", false},
		{`E1201 18:22:37.788935    1179 schedule_one.go:481] "Successfully bound pod to node" pod="namespace-3/pod-a"`, "", "", false},
	} {
		at, ns, ok := parseBound(tc.line, 2026)
		if ok != tc.ok || ns != tc.wantNS {
			t.Errorf("parseBound(%q) = %v, %q, %v; want %s, %q, %v", tc.line, at, ns, ok, tc.wantAt, tc.wantNS, tc.ok)
			continue
		}
		if ok && at.Format("2006-01-02T15:04:05.000000") != tc.wantAt {
			t.Errorf("parseBound(%q) at %v, want %s", tc.line, at, tc.wantAt)
		}
	}
}

// Three seconds of measured pods; a GC cycle covers the second one fully
// and 0.3 s of the third; pods of another namespace do not count.
func TestSummarize(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 18, 0, 0, 0, time.Local)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	var tl timeline
	for i := 0; i < 10; i++ {
		tl.bound = append(tl.bound, boundPod{at(0.05 + float64(i)*0.09), "m"})
	}
	for i := 0; i < 3; i++ {
		tl.bound = append(tl.bound, boundPod{at(1.1 + float64(i)*0.2), "m"})
	}
	for i := 0; i < 8; i++ {
		tl.bound = append(tl.bound, boundPod{at(2.05 + float64(i)*0.1), "m"})
	}
	tl.bound = append(tl.bound, boundPod{at(1.5), "other"}, boundPod{at(9), "other"})
	tl.marks = []interval{{at(0.9), at(2.3)}, {at(-5), at(-4)}}

	s, err := tl.summarize("m")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.seconds) != 3 || s.cycles != 1 {
		t.Fatalf("got %d seconds, %d cycles; want 3, 1", len(s.seconds), s.cycles)
	}
	wantMarking := []float64{0.1, 1, 0.3}
	wantPods := []int{10, 3, 8}
	for i, sec := range s.seconds {
		if d := sec.marking - wantMarking[i]; d > 1e-9 || d < -1e-9 || sec.pods != wantPods[i] {
			t.Errorf("second %d: %d pods, marking %.3f; want %d, %.3f", i, sec.pods, sec.marking, wantPods[i], wantMarking[i])
		}
	}
	if s.markingSeconds != 1 || s.markingPods != 3 || s.quietSeconds != 2 || s.quietPods != 18 {
		t.Errorf("split %+v; want 1 marking second with 3 pods, 2 others with 18", s)
	}
	if !strings.Contains(s.String(), "other seconds: 2, 9.0 pods/s") {
		t.Errorf("summary text:\n%s", s)
	}

	all, err := tl.summarize("")
	if err != nil {
		t.Fatal(err)
	}
	if len(all.seconds) != 10 {
		t.Errorf("every namespace: %d seconds, want 10 (to the other namespace's pod at 9 s)", len(all.seconds))
	}
	if _, err := tl.summarize("none"); err == nil {
		t.Error("a namespace without pods: want an error")
	}
}

// read stamps gctrace lines with their arrival and copies every line.
func TestRead(t *testing.T) {
	in := strings.Join([]string{
		`I1201 18:00:00.500000    1 schedule_one.go:481] "Successfully bound pod to node" pod="m/p" node="n"`,
		"gc 1 @1.0s 1%: 0+500+0 ms clock, 0+0/0/0+0 ms cpu, 1->1->1 MB, 2 MB goal, 0 MB stacks, 0 MB globals, 2 P",
		"other",
	}, "\n") + "\n"
	arrival := time.Date(2026, 12, 1, 18, 0, 1, 0, time.Local)
	var tl timeline
	var log bytes.Buffer
	if err := tl.read(strings.NewReader(in), &log, func() time.Time { return arrival }, 2026); err != nil {
		t.Fatal(err)
	}
	if log.String() != in {
		t.Errorf("log copy %q, want %q", log.String(), in)
	}
	if len(tl.bound) != 1 || len(tl.marks) != 1 {
		t.Fatalf("%d bound, %d marks; want 1, 1", len(tl.bound), len(tl.marks))
	}
	if want := arrival.Add(-500 * time.Millisecond); !tl.marks[0].start.Equal(want) || !tl.marks[0].end.Equal(arrival) {
		t.Errorf("mark %v-%v, want %v-%v", tl.marks[0].start, tl.marks[0].end, want, arrival)
	}
}
