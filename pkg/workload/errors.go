package workload

import (
	"fmt"
	"strings"
)

// Error is the error returned for a problem in an input file. It names the
// file, where in it the problem is, the object and the field.
//
// For CSV files it formats as
//
//	pods.csv:17: field "cpu_milli": invalid integer "12a"
//
// and for YAML/JSON files as
//
//	workload.yaml: document 3 (line 41): Deployment "web": spec.replicas: must be >= 0
type Error struct {
	// File is the path as given to LoadNodes/LoadPods (or the name given to
	// ReadNodes/ReadPods).
	File string
	// Line is 1-based; 0 when unknown. For CSV it is the line of the record,
	// for YAML the line where the document starts.
	Line int
	// Document is the 1-based index of the YAML document among the non-empty
	// documents of the file; 0 for CSV files.
	Document int
	// Object names the object, e.g. `Deployment "web"` or
	// `items[2]: Pod "a"`; may be empty.
	Object string
	// Field is the CSV column or the YAML field path; may be empty.
	Field string
	// Err is the problem itself.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	switch {
	case e.Document > 0:
		fmt.Fprintf(&b, ": document %d", e.Document)
		if e.Line > 0 {
			fmt.Fprintf(&b, " (line %d)", e.Line)
		}
	case e.Line > 0:
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Object != "" {
		b.WriteString(": ")
		b.WriteString(e.Object)
	}
	if e.Field != "" {
		if e.Document > 0 {
			b.WriteString(": ")
			b.WriteString(e.Field)
		} else {
			fmt.Fprintf(&b, ": field %q", e.Field)
		}
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// fieldErr is a problem in one field of an object, before the file location
// is known.
type fieldErr struct {
	field string
	err   error
}

func (f *fieldErr) Error() string { return f.field + ": " + f.err.Error() }

func fieldErrorf(field, format string, args ...any) *fieldErr {
	return &fieldErr{field: field, err: fmt.Errorf(format, args...)}
}
