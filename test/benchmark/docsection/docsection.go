// Package docsection rewrites one generated section of a Markdown file
// (docs/benchmarks.md), leaving the rest as it is, so that each benchmark
// owns its section.
package docsection

import "strings"

// Replace returns doc with the section under heading (e.g. "## Throughput")
// replaced by section, or section appended if doc has none. A section runs
// from its heading to the next heading of level 1 or 2 outside fenced code
// blocks.
func Replace(doc, heading, section string) string {
	if !strings.HasSuffix(section, "\n") {
		section += "\n"
	}
	if strings.TrimSpace(doc) == "" {
		return "# Benchmarks\n\n" + section
	}
	lines := strings.SplitAfter(doc, "\n")
	start, end := -1, len(lines)
	fenced := false
	for i, l := range lines {
		t := strings.TrimRight(l, "\r\n")
		if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		if start < 0 {
			if strings.TrimSpace(t) == heading {
				start = i
			}
			continue
		}
		if strings.HasPrefix(t, "# ") || strings.HasPrefix(t, "## ") {
			end = i
			break
		}
	}
	if start < 0 {
		if !strings.HasSuffix(doc, "\n") {
			doc += "\n"
		}
		if !strings.HasSuffix(doc, "\n\n") {
			doc += "\n"
		}
		return doc + section
	}
	rest := strings.Join(lines[end:], "")
	if rest != "" && !strings.HasSuffix(section, "\n\n") {
		section += "\n"
	}
	return strings.Join(lines[:start], "") + section + rest
}
