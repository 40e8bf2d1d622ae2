package planner

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Progress receives the progress of the simulations: one phase (a profile on
// a cluster, one sizing probe) at a time.
type Progress interface {
	// Start begins a phase of total pods.
	Start(label string, total int)
	// Add reports n more pods done.
	Add(n int)
	// Done ends the phase.
	Done()
}

type noProgress struct{}

func (noProgress) Start(string, int) {}
func (noProgress) Add(int)           {}
func (noProgress) Done()             {}

// Bar is a one-line progress bar, redrawn in place with a carriage return:
// label, a bar, pods done/total, rate and time left. It draws nothing for
// phases shorter than Delay and redraws at most every Interval. When a
// drawn phase ends, its line is completed with the elapsed time.
type Bar struct {
	W        io.Writer
	Delay    time.Duration // default 1s
	Interval time.Duration // default 100ms
	Now      func() time.Time

	label       string
	total, done int
	start, last time.Time
	drawn       bool
	width       int
}

// NewBar returns a bar on w with the default delay and interval.
func NewBar(w io.Writer) *Bar {
	return &Bar{W: w, Delay: time.Second, Interval: 100 * time.Millisecond, Now: time.Now}
}

// Start implements Progress.
func (b *Bar) Start(label string, total int) {
	b.label, b.total, b.done = label, total, 0
	b.start = b.Now()
	b.last, b.drawn, b.width = time.Time{}, false, 0
}

// Add implements Progress.
func (b *Bar) Add(n int) {
	b.done += n
	now := b.Now()
	if now.Sub(b.start) < b.Delay || now.Sub(b.last) < b.Interval {
		return
	}
	b.last = now
	b.draw(now, false)
}

// Done implements Progress.
func (b *Bar) Done() {
	if b.drawn {
		b.draw(b.Now(), true)
		fmt.Fprintln(b.W)
	}
}

func (b *Bar) draw(now time.Time, final bool) {
	const cells = 24
	elapsed := now.Sub(b.start)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(b.done) / elapsed.Seconds()
	}
	filled := cells
	if b.total > 0 {
		filled = min(cells, b.done*cells/b.total)
	}
	line := fmt.Sprintf("%s [%s%s] %d/%d pods %.0f pods/s", b.label,
		strings.Repeat("#", filled), strings.Repeat("-", cells-filled), b.done, b.total, rate)
	switch {
	case final:
		line += fmt.Sprintf(" in %s", elapsed.Round(100*time.Millisecond))
	case rate > 0 && b.done < b.total:
		left := time.Duration(float64(b.total-b.done) / rate * float64(time.Second))
		line += fmt.Sprintf(" ~%s left", left.Round(time.Second))
	}
	pad := ""
	if n := b.width - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	b.width = len(line)
	fmt.Fprint(b.W, "\r"+line+pad)
	b.drawn = true
}
