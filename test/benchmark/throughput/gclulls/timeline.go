package main

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// A gctrace line: "gc 99 @292.483s 16%: 0.94+881+0.005 ms clock, ...": the
// wall-clock times of the stop-the-world sweep termination, the
// concurrent mark and the stop-the-world mark termination.
var gcTraceRE = regexp.MustCompile(`^gc \d+ @[0-9.]+s \d+%: ([0-9.]+)\+([0-9.]+)\+([0-9.]+) ms clock`)

// parseGCTrace returns how long the cycle of a gctrace line took from its
// first pause to its last: the span in which mark assists and the
// background mark worker compete with the program.
func parseGCTrace(line string) (time.Duration, bool) {
	m := gcTraceRE.FindStringSubmatch(line)
	if m == nil {
		return 0, false
	}
	var ms float64
	for _, f := range m[1:] {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return 0, false
		}
		ms += v
	}
	return time.Duration(ms * float64(time.Millisecond)), true
}

// The scheduler's line for each bound pod (schedule_one.go, verbosity 2),
// in klog's header format: "I1201 18:22:37.788935    1179 schedule_one.go:481]".
var boundRE = regexp.MustCompile(`^I(\d{4} \d\d:\d\d:\d\d\.\d{6}) +\d+ [^ ]+\] "Successfully bound pod to node" pod="([^"/]+)/`)

// parseBound returns when a bound-pod line was logged and the pod's
// namespace.
func parseBound(line string, year int) (time.Time, string, bool) {
	m := boundRE.FindStringSubmatch(line)
	if m == nil {
		return time.Time{}, "", false
	}
	at, err := time.ParseInLocation("2006 0102 15:04:05.000000", strconv.Itoa(year)+" "+m[1], time.Local)
	if err != nil {
		return time.Time{}, "", false
	}
	return at, m[2], true
}

type interval struct{ start, end time.Time }

type boundPod struct {
	at        time.Time
	namespace string
}

// timeline is what read collected: GC cycles and bound pods.
type timeline struct {
	marks []interval
	bound []boundPod
}

// second is one second of the measured span: pods bound in it and the
// share of it in which a GC cycle ran.
type second struct {
	offset  int
	pods    int
	marking float64
}

// summary splits the measured span's seconds at half marking.
type summary struct {
	seconds                      []second
	markingSeconds, quietSeconds int
	markingPods, quietPods       int
	cycles                       int
	cycleSeconds                 float64
}

// summarize bins the namespace's bound pods (every pod if namespace is
// empty) by wall-clock second from its first to its last, and each second
// by how much of it GC cycles covered.
func (tl *timeline) summarize(namespace string) (summary, error) {
	var first, last time.Time
	for _, b := range tl.bound {
		if namespace != "" && b.namespace != namespace {
			continue
		}
		if first.IsZero() || b.at.Before(first) {
			first = b.at
		}
		if b.at.After(last) {
			last = b.at
		}
	}
	if first.IsZero() {
		return summary{}, errors.New("no bound-pod lines of the namespace in the scheduler's log (is ARTIFACTS set, or the verbosity below 2?)")
	}
	start := first.Truncate(time.Second)
	n := int(last.Sub(start)/time.Second) + 1
	s := summary{seconds: make([]second, n)}
	for i := range s.seconds {
		s.seconds[i].offset = i
	}
	for _, b := range tl.bound {
		if namespace != "" && b.namespace != namespace {
			continue
		}
		s.seconds[int(b.at.Sub(start)/time.Second)].pods++
	}
	end := start.Add(time.Duration(n) * time.Second)
	for _, m := range tl.marks {
		if !m.end.After(start) || !m.start.Before(end) {
			continue
		}
		s.cycles++
		s.cycleSeconds += m.end.Sub(m.start).Seconds()
		for i := range s.seconds {
			lo := start.Add(time.Duration(i) * time.Second)
			hi := lo.Add(time.Second)
			if overlap := minTime(hi, m.end).Sub(maxTime(lo, m.start)); overlap > 0 {
				s.seconds[i].marking += overlap.Seconds()
			}
		}
	}
	for _, sec := range s.seconds {
		if sec.marking > 0.5 {
			s.markingSeconds++
			s.markingPods += sec.pods
		} else {
			s.quietSeconds++
			s.quietPods += sec.pods
		}
	}
	return s, nil
}

func (s summary) String() string {
	var sb strings.Builder
	rate := func(pods, secs int) float64 {
		if secs == 0 {
			return 0
		}
		return float64(pods) / float64(secs)
	}
	span := float64(len(s.seconds))
	fmt.Fprintf(&sb, "measured span %.0f s, %d GC cycles in it (%.1f s of cycles, %.0f%% of the span)\n",
		span, s.cycles, s.cycleSeconds, 100*s.cycleSeconds/span)
	fmt.Fprintf(&sb, "seconds more than half in a GC cycle: %d, %.1f pods/s\n", s.markingSeconds, rate(s.markingPods, s.markingSeconds))
	fmt.Fprintf(&sb, "other seconds: %d, %.1f pods/s\n", s.quietSeconds, rate(s.quietPods, s.quietSeconds))
	return sb.String()
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
