package mix

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Table is a CSV file as records under a header: an openb node or pod
// list. Column names are lower-case; columns are looked up by name, so
// their order and any extra or missing optional columns are kept as they
// are.
type Table struct {
	Header []string
	Rows   [][]string
	col    map[string]int
}

// ReadTableFile reads a CSV table from a file.
func ReadTableFile(path string) (*Table, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ReadTable(path, data)
}

// ReadTable parses CSV data as pkg/workload reads it: the first record is
// the header, blank lines and lines starting with # are skipped, fields are
// trimmed. name is used in errors.
func ReadTable(name string, data []byte) (*Table, error) {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
	r.Comment = '#'
	r.TrimLeadingSpace = true
	r.FieldsPerRecord = -1
	t := &Table{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if t.Header == nil {
			for i := range rec {
				rec[i] = strings.ToLower(rec[i])
			}
			t.Header = rec
			t.index()
			continue
		}
		if len(rec) != len(t.Header) {
			line, _ := r.FieldPos(0)
			return nil, fmt.Errorf("%s:%d: %d fields, the header has %d", name, line, len(rec), len(t.Header))
		}
		t.Rows = append(t.Rows, rec)
	}
	if t.Header == nil {
		return nil, fmt.Errorf("%s: empty: a header line is required", name)
	}
	return t, nil
}

func (t *Table) index() {
	t.col = make(map[string]int, len(t.Header))
	for i, h := range t.Header {
		t.col[h] = i
	}
}

// Has reports whether the table has column c.
func (t *Table) Has(c string) bool { _, ok := t.col[c]; return ok }

// Get returns column c of row i ("" if the table has no such column).
func (t *Table) Get(i int, c string) string {
	if j, ok := t.col[c]; ok {
		return t.Rows[i][j]
	}
	return ""
}

// Int returns column c of row i as an integer (0 if empty or absent).
func (t *Table) Int(i int, c string) (int64, error) {
	s := t.Get(i, c)
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("row %d, column %s: %w", i+1, c, err)
	}
	return v, nil
}

// ints returns columns cols of row i as integers (Int).
func (t *Table) ints(i int, cols ...string) ([]int64, error) {
	out := make([]int64, len(cols))
	for j, c := range cols {
		v, err := t.Int(i, c)
		if err != nil {
			return nil, err
		}
		out[j] = v
	}
	return out, nil
}

// Set sets column c of row i, adding the column (empty in every other row)
// if the table has none.
func (t *Table) Set(i int, c, v string) {
	j, ok := t.col[c]
	if !ok {
		j = len(t.Header)
		t.Header = append(t.Header, c)
		t.col[c] = j
		for k := range t.Rows {
			t.Rows[k] = append(t.Rows[k], "")
		}
	}
	t.Rows[i][j] = v
}

// Clone returns a deep copy.
func (t *Table) Clone() *Table {
	c := &Table{Header: slices.Clone(t.Header), Rows: make([][]string, len(t.Rows))}
	for i, r := range t.Rows {
		c.Rows[i] = slices.Clone(r)
	}
	c.index()
	return c
}

// Bytes returns the table as CSV.
func (t *Table) Bytes() []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(t.Header)
	_ = w.WriteAll(t.Rows) // a bytes.Buffer does not fail
	return b.Bytes()
}
