package simgate

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WritePlan writes a run's moves as a table or as JSON.
func WritePlan(w io.Writer, format string, moves []Move) error {
	switch format {
	case "json":
		if moves == nil {
			moves = []Move{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Moves []Move `json:"moves"`
		}{moves})
	case "table", "":
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "POD\tFROM\tTO\tSTRATEGY\tSTATUS\tREASON")
		for _, m := range moves {
			reason := m.Reason
			if m.Error != "" {
				reason += " (" + m.Error + ")"
			}
			to := m.To
			if len(m.Tied) > 1 {
				to += " (or " + strings.Join(others(m.Tied, m.To), ", ") + ")"
			}
			fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%s\t%s\n", m.Namespace, m.Name, m.From, to, m.Strategy, m.Status, reason)
		}
		fmt.Fprintf(tw, "%d move(s)\n", len(moves))
		return tw.Flush()
	default:
		return fmt.Errorf("plan format %q: want table or json", format)
	}
}

func others(all []string, x string) []string {
	var out []string
	for _, s := range all {
		if s != x {
			out = append(out, s)
		}
	}
	return out
}
