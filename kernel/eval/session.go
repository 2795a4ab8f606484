package eval

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"
)

// Options configure a Session. The zero value is usable: output goes to the
// process's stdout and stderr, and reads from stdin see EOF.
type Options struct {
	// Stdout and Stderr receive what fmt.Print*, println and log write. The
	// kernel passes os.Stdout and os.Stderr after redirecting descriptors 1
	// and 2, so compiled code's writes take the same path. Default: os.Stdout,
	// os.Stderr.
	Stdout, Stderr io.Writer
	// Stdin is what fmt.Scan* read. Default: an empty reader.
	Stdin io.Reader
	// Symbols are extra packages exported to the interpreter (yaegi Exports
	// maps), on top of the standard library.
	Symbols []interp.Exports
	// Prelude is Go source evaluated once when the session starts (imports
	// that every cell may use without importing them again).
	Prelude string
	// OnGoPanic is called with a panic recovered in an interpreted goroutine
	// while no cell is running. Default: the panic is written to Stderr.
	OnGoPanic func(err *Error)
	// Docs returns documentation for a package-level symbol (path, name) of a
	// compiled package; inspect requests show it. Optional.
	Docs func(path, name string) string
}

// Session is one interpreter whose state persists across cells. Run must not
// be called concurrently; Complete, Inspect and IsComplete may be called
// between runs.
type Session struct {
	opts   Options
	interp *interp.Interpreter
	fset   *token.FileSet
	trace  *traceWriter
	lines  lineMap

	pkgNames map[string]string // import path -> package name, from the exports
	imports  map[string]string // name -> import path, for this session
	defs     map[string]string // user-defined name -> its declaration source

	live atomic.Int64 // interpreted goroutines running

	mu      sync.Mutex
	running bool
	ctx     context.Context // the running cell's context
	goErrs  []*Error        // goroutine panics during the running cell
}

// New starts a session with the standard library and opts.Symbols exported.
func New(opts Options) (*Session, error) {
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.Stdin == nil {
		opts.Stdin = strings.NewReader("")
	}
	s := &Session{
		opts:     opts,
		pkgNames: map[string]string{},
		imports:  map[string]string{},
		defs:     map[string]string{},
		ctx:      context.Background(),
	}
	s.trace = &traceWriter{out: opts.Stderr}
	s.interp = interp.New(interp.Options{Stdout: opts.Stdout, Stderr: s.trace, Stdin: opts.Stdin})
	s.fset = s.interp.FileSet()
	all := append([]interp.Exports{stdlib.Symbols, s.guardExports()}, opts.Symbols...)
	for _, ex := range all {
		if err := s.interp.Use(ex); err != nil {
			return nil, fmt.Errorf("eval: exporting symbols: %w", err)
		}
		for key := range ex {
			if i := strings.LastIndexByte(key, '/'); i > 0 {
				s.pkgNames[key[:i]] = key[i+1:]
			}
		}
	}
	prelude := fmt.Sprintf("import %s %q\n", guardName, guardPkg) + opts.Prelude
	if _, err := s.Run(context.Background(), "prelude", prelude); err != nil {
		return nil, fmt.Errorf("eval: prelude: %w", err)
	}
	return s, nil
}

// voidType is the type of the value yaegi returns for runs without a value.
var voidType = reflect.TypeOf((*any)(nil))

// guardExports exports the goroutine panic reporter (see the package doc).
func (s *Session) guardExports() interp.Exports {
	return interp.Exports{guardPkg + "/guard": {
		"GoStart": reflect.ValueOf(s.goStart),
		"GoExit":  reflect.ValueOf(s.goExit),
	}}
}

// goStart is called before an interpreted goroutine starts.
func (s *Session) goStart() { s.live.Add(1) }

// goExit is called by the guard of an interpreted goroutine when it returns,
// with the recovered panic value (nil when it did not panic) and the virtual
// position of the go statement that started it.
func (s *Session) goExit(r any, started string) {
	defer s.live.Add(-1)
	if r != nil {
		s.goPanic(r, started)
	}
}

// settle gives goroutines of the cell that are unwinding a panic a moment to
// reach their guard: a goroutine's own deferred calls (wg.Done) run before the
// guard and may let the cell finish first. It waits at most 25 ms, and only
// while interpreted goroutines are alive.
func (s *Session) settle() {
	deadline := time.Now().Add(25 * time.Millisecond)
	for s.live.Load() > 0 && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

// goPanic reports a panic recovered in an interpreted goroutine.
func (s *Session) goPanic(r any, started string) {
	e := panicError("goroutine panic", r, append(s.trace.take(), "goroutine started by the go statement at "+started))
	s.mu.Lock()
	if s.running {
		s.goErrs = append(s.goErrs, e)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.cellPositions(e)
	if s.opts.OnGoPanic != nil {
		s.opts.OnGoPanic(e)
		return
	}
	fmt.Fprintf(s.opts.Stderr, "%s: %s\n%s\n", e.Name, e.Value, strings.Join(e.Traceback, "\n"))
}

// Context returns the context of the cell now running (Background between
// cells). Compiled engine calls made from a cell should watch it: the kernel
// cancels it on interrupt.
func (s *Session) Context() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ctx
}

// Result is what a cell produced.
type Result struct {
	// Value is the value of the cell's final expression; valid only when
	// HasValue.
	Value    reflect.Value
	HasValue bool
	// Rich holds what the display methods of a value of an interpreted type
	// returned (MIME type to text), which reflection cannot call.
	Rich map[string]string
}

// Run evaluates the cell src, naming it name in positions ("cell[3]"). A
// failure comes back as an *Error. When ctx is cancelled the cell stops (an
// interpreted loop within about 300 ms; compiled code only if it watches
// Session.Context) and Run returns an *Error named "Interrupted".
func (s *Session) Run(ctx context.Context, name, src string) (Result, error) {
	s.mu.Lock()
	s.running, s.ctx, s.goErrs = true, ctx, nil
	s.mu.Unlock()
	res, err := s.run(ctx, name, src)
	if s.live.Load() > 0 {
		s.settle()
	}
	s.mu.Lock()
	goErrs := s.goErrs
	s.running, s.ctx, s.goErrs = false, context.Background(), nil
	s.mu.Unlock()
	if err == nil && len(goErrs) > 0 {
		err = goErrs[0]
	}
	var e *Error
	if errors.As(err, &e) {
		err = s.cellPositions(e)
	}
	s.trace.take() // drop panic lines of errors already reported
	return res, err
}

func (s *Session) run(ctx context.Context, name, src string) (res Result, err error) {
	defer func() {
		// The interpreter should turn panics into errors; this is the outer
		// entry point's safety net (house rule 9).
		if r := recover(); r != nil {
			res, err = Result{}, panicError("internal error", r, nil)
		}
	}()
	chunks, err := Split(src)
	if err != nil {
		return Result{}, compileError(err)
	}
	for _, r := range Runs(chunks) {
		if ctx.Err() != nil {
			return Result{}, interrupted()
		}
		v, shown, err := s.runOne(ctx, name, r)
		if err != nil {
			return Result{}, err
		}
		if shown && v.IsValid() {
			res = Result{Value: v, HasValue: true, Rich: s.richMethods(v)}
		}
	}
	return res, nil
}

// runOne compiles and executes one run. shown says whether its value is the
// cell's result.
func (s *Session) runOne(ctx context.Context, name string, r Run) (v reflect.Value, shown bool, err error) {
	directive := s.lines.directive(name, r)
	var src string
	if r.Kind == Decl {
		src = "package main\n" + directive + r.Text
	} else {
		src = "package main; func main() {\n" + directive + r.Text + "\n}"
	}
	if r.Kind == Stmt {
		if src, err = wrapCompound(src); err != nil {
			return reflect.Value{}, false, compileError(err)
		}
	}
	src, err = guardGoroutines(src)
	if err != nil {
		return reflect.Value{}, false, compileError(err)
	}
	f, err := parser.ParseFile(s.fset, fileName, src, parser.ParseComments|parser.DeclarationErrors)
	if err != nil {
		return reflect.Value{}, false, compileError(err)
	}
	var node ast.Node = f
	var kept []*ast.ImportSpec
	if r.Kind == Decl {
		kept = dropKnownImports(f, s.knownImports())
		if len(f.Decls) == 0 {
			return reflect.Value{}, false, nil
		}
	} else {
		node = f.Decls[0].(*ast.FuncDecl).Body
		if r.Result && s.isVoidCall(r.Text) {
			r.Result = false
		}
		if r.Result {
			// Keep the result in a variable, so that methods of interpreted
			// types can be called on it (see richMethods).
			if b := s.resultBody(directive, r.Text); b != nil {
				node = b
			}
		}
	}
	prog, err := s.interp.CompileAST(node)
	if err != nil {
		return reflect.Value{}, false, compileError(err)
	}
	v, err = s.interp.ExecuteWithContext(ctx, prog)
	if err != nil {
		if ctx.Err() != nil {
			return reflect.Value{}, false, interrupted()
		}
		var p interp.Panic
		if errors.As(err, &p) {
			return reflect.Value{}, false, panicError("panic", p.Value, s.trace.take())
		}
		return reflect.Value{}, false, &Error{Name: "Error", Value: err.Error(), Traceback: []string{err.Error()}}
	}
	for _, is := range kept {
		s.imports[s.nameOf(is)] = strings.Trim(is.Path.Value, "`\"")
	}
	s.record(f, src, r)
	if v.IsValid() && v.Type() == voidType {
		// yaegi's value for a declaration or a call of a function without
		// results; no expression of the cell has this static type in practice.
		return reflect.Value{}, false, nil
	}
	return v, r.Result, nil
}

func (s *Session) knownImports() map[string]string {
	m := make(map[string]string, len(s.imports))
	for k, v := range s.imports {
		m[k] = v
	}
	return m
}

// nameOf is the name an import binds: its alias, else the package's name.
func (s *Session) nameOf(is *ast.ImportSpec) string {
	if is.Name != nil {
		return is.Name.Name
	}
	if n, ok := s.pkgNames[strings.Trim(is.Path.Value, "`\"")]; ok {
		return n
	}
	return importName(is)
}
