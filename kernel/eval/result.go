package eval

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/types"
	"reflect"
	"strings"
)

// builtinStmt are the builtins without results.
var builtinStmt = map[string]bool{"panic": true, "print": true, "println": true, "close": true, "delete": true, "clear": true}

// resultVar holds the value of a cell's final expression.
const resultVar = "__lightos_r"

// resultBody returns the statement "__lightos_r := (expr)" for the result
// expression, parsed and compiled; nil when it does not compile (a call with
// several results), and the expression then runs as it is.
func (s *Session) resultBody(directive, text string) *ast.BlockStmt {
	e, err := parser.ParseExpr(text)
	if err != nil {
		return nil
	}
	if call, ok := e.(*ast.CallExpr); ok {
		// yaegi logs "nil reflect type" through the standard logger when it
		// compiles the value of a call without results; only calls whose
		// function isVoidCall could resolve are safe to try.
		if !pureSelector(call.Fun) || builtinStmt[exprName(call.Fun)] {
			return nil
		}
	}
	// The expression alone, without comments around it, on its own lines.
	start, end := int(e.Pos())-1, int(e.End())-1
	if start < 0 || end > len(text) || start > end {
		return nil
	}
	lead := strings.Repeat("\n", strings.Count(text[:start], "\n"))
	src := "package main; func main() {\n" + directive + lead + resultVar + " := (" + text[start:end] + ")\n}"
	f, err := parser.ParseFile(s.fset, fileName, src, 0)
	if err != nil {
		return nil
	}
	body := f.Decls[0].(*ast.FuncDecl).Body
	ok := func() (ok bool) {
		defer func() {
			if recover() != nil {
				ok = false
			}
		}()
		_, err := s.interp.CompileAST(body)
		return err == nil
	}()
	if !ok {
		return nil
	}
	// Parse again: a compiled AST must not be compiled twice.
	f, err = parser.ParseFile(s.fset, fileName, src, 0)
	if err != nil {
		return nil
	}
	return f.Decls[0].(*ast.FuncDecl).Body
}

// richMethods calls the display methods (HTML, Markdown, SVG, String) of the
// result when its type is interpreted: reflection cannot see the methods of
// types declared in cells, the interpreter can. It returns MIME type to text.
func (s *Session) richMethods(v reflect.Value) map[string]string {
	t := v.Type()
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.PkgPath() != "" || t.Name() != "" {
		return nil // a compiled or predeclared type: reflection sees its methods
	}
	out := map[string]string{}
	for _, m := range []struct{ method, mime string }{
		{"HTML", "text/html"}, {"Markdown", "text/markdown"}, {"SVG", "image/svg+xml"}, {"String", "text/plain"},
	} {
		src := "package main; func main() {\n" + resultVar + "." + m.method + "()\n}"
		f, err := parser.ParseFile(s.fset, fileName, src, 0)
		if err != nil {
			continue
		}
		text, ok := func() (text string, ok bool) {
			defer func() {
				if recover() != nil {
					ok = false
				}
			}()
			prog, err := s.interp.CompileAST(f.Decls[0].(*ast.FuncDecl).Body)
			if err != nil {
				return "", false
			}
			v, err := s.interp.Execute(prog)
			if err != nil || !v.IsValid() || v.Kind() != reflect.String {
				return "", false
			}
			return v.String(), true
		}()
		if ok {
			out[m.mime] = text
		}
	}
	return out
}

// isVoidCall reports whether text is a call of a function value without
// results, found by evaluating the function expression alone when that has no
// side effects (an identifier or a selector chain). yaegi's return value
// cannot tell: a void method call of a compiled type returns its receiver.
func (s *Session) isVoidCall(text string) bool {
	e, err := parser.ParseExpr(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(text), ";")))
	if err != nil {
		return false
	}
	call, ok := e.(*ast.CallExpr)
	if !ok || !pureSelector(call.Fun) {
		return false
	}
	src := "package main; func main() {\n" + types.ExprString(call.Fun) + "\n}"
	f, err := parser.ParseFile(s.fset, fileName, src, 0)
	if err != nil {
		return false
	}
	v, err := func() (v reflect.Value, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("eval: %v", r)
			}
		}()
		prog, err := s.interp.CompileAST(f.Decls[0].(*ast.FuncDecl).Body)
		if err != nil {
			return reflect.Value{}, err
		}
		return s.interp.Execute(prog)
	}()
	if err != nil || !v.IsValid() || v.Kind() != reflect.Func {
		return false
	}
	return v.Type().NumOut() == 0
}

// pureSelector reports whether e is an identifier or a chain of selectors on
// one, whose evaluation has no side effects.
func pureSelector(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.Ident:
		return true
	case *ast.SelectorExpr:
		return pureSelector(e.X)
	case *ast.ParenExpr:
		return pureSelector(e.X)
	}
	return false
}
