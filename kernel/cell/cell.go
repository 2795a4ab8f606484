package cell

import (
	"context"
	"errors"
	"reflect"
)

// ImportPath is the path cells import the package under.
const ImportPath = "github.com/lightiam/lightos/kernel/cell"

// ErrNoInput is returned by Input when the frontend does not accept input
// requests (allow_stdin is false, as under nbclient by default).
var ErrNoInput = errors.New("cell: the frontend does not allow input")

// Runtime binds the cell API to one kernel session.
type Runtime struct {
	// ContextFunc returns the running cell's context.
	ContextFunc func() context.Context
	// InputFunc asks the user for a line of input.
	InputFunc func(prompt string, password bool) (string, error)
}

// Context returns the running cell's context; it is cancelled on interrupt.
func (r *Runtime) Context() context.Context {
	if r.ContextFunc == nil {
		return context.Background()
	}
	return r.ContextFunc()
}

// Interrupted reports whether the running cell has been interrupted; long
// loops in cells can poll it.
func (r *Runtime) Interrupted() bool { return r.Context().Err() != nil }

// Input asks the user for a line of text, showing prompt.
func (r *Runtime) Input(prompt string) (string, error) {
	if r.InputFunc == nil {
		return "", ErrNoInput
	}
	return r.InputFunc(prompt, false)
}

// Password asks for a line of text without echoing it.
func (r *Runtime) Password(prompt string) (string, error) {
	if r.InputFunc == nil {
		return "", ErrNoInput
	}
	return r.InputFunc(prompt, true)
}

// Exports returns the package as a yaegi Exports map bound to r.
func Exports(r *Runtime) map[string]map[string]reflect.Value {
	return map[string]map[string]reflect.Value{ImportPath + "/cell": {
		"Context":     reflect.ValueOf(r.Context),
		"Interrupted": reflect.ValueOf(r.Interrupted),
		"Input":       reflect.ValueOf(r.Input),
		"Password":    reflect.ValueOf(r.Password),
		"ErrNoInput":  reflect.ValueOf(&ErrNoInput).Elem(),
		"Runtime":     reflect.ValueOf((*Runtime)(nil)),
	}}
}
