// Package eval evaluates notebook cells of Go with the yaegi interpreter.
//
// A cell may mix declarations (import, func, type, var, const) and statements;
// yaegi decides how to parse a source from its first token, so Split cuts a cell
// into top-level chunks and Session.Run evaluates runs of declarations and runs
// of statements in order, in one interpreter whose state persists across cells.
// When the cell ends with an expression, that expression is evaluated on its
// own and its value becomes the cell's result (the decision is taken from the
// parsed cell, not from the interpreter's return value, which is unreliable
// after declarations).
//
// Goroutines: a panic in an interpreted goroutine kills the process in yaegi
// v0.16.1. Before a run is compiled, every go statement in it is rewritten so
// that the goroutine body starts with a deferred recover guard (for a function
// literal the guard is inserted at the top of its body; for any other call the
// arguments are evaluated first, as Go does, and the call runs in a guarded
// literal). A recovered panic is reported as the running cell's error, or,
// after the cell has finished, through Options.OnGoPanic. Goroutines started by
// compiled code that call back into interpreted functions are not guarded.
//
// Positions in errors and tracebacks name the cell ("cell[3]:2:5"): each run
// gets a range of virtual lines in one file (yaegi scopes imports by file
// name, so every run must share one), and messages are translated back.
//
// Other yaegi v0.16.1 behaviours worked around here:
//   - a second import of a package fails ("redeclared"), so imports a cell
//     repeats are dropped, which makes re-running a cell harmless;
//   - "a, b := f()" inside a block at the top level of a cell fails with
//     "undefined: a", so such top-level blocks run inside a function literal;
//   - the value Eval returns cannot tell a call without results from one with
//     results, so the function value is inspected first (isVoidCall);
//   - reflection cannot see methods of types declared in cells, so the
//     display methods (HTML, Markdown, SVG, String) of a result of such a type
//     are called through the interpreter (Result.Rich).
//
// The race detector reports races inside yaegi between goroutines a cell left
// running and the next cell's compilation (its global frame is resized
// without a lock); they are yaegi's, and the package's tests do not run with
// -race.
package eval
