package eval

import (
	"errors"
	"fmt"
	"go/scanner"
	"strings"
)

// Error is a failed cell: a compile error, a panic, or an interrupt. Name and
// Value become the Jupyter error's ename and evalue.
type Error struct {
	Name, Value string
	Traceback   []string
}

func (e *Error) Error() string { return e.Name + ": " + e.Value }

func interrupted() *Error {
	return &Error{Name: "Interrupted", Value: "the cell was interrupted", Traceback: []string{"Interrupted: the cell was interrupted"}}
}

func compileError(err error) *Error {
	var lines []string
	var list scanner.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			lines = append(lines, e.Error())
		}
	} else {
		lines = []string{err.Error()}
	}
	return &Error{Name: "CompileError", Value: lines[0], Traceback: lines}
}

// cellPositions rewrites the virtual positions in e to cell positions.
func (s *Session) cellPositions(e *Error) *Error {
	e.Value = s.lines.translate(e.Value)
	for i, l := range e.Traceback {
		e.Traceback[i] = s.lines.translate(l)
	}
	return e
}

// panicError describes a recovered panic value with the interpreter's
// position lines (innermost first) as traceback.
func panicError(name string, r any, trace []string) *Error {
	if re, ok := r.(interface{ RuntimeError() }); ok {
		_ = re
		name = strings.Replace(name, "panic", "runtime error", 1)
	}
	v := fmt.Sprint(r)
	if e, ok := r.(error); ok {
		v = e.Error()
	}
	tb := []string{name + ": " + v}
	for _, l := range trace {
		tb = append(tb, "    at "+l)
	}
	return &Error{Name: name, Value: v, Traceback: tb}
}
