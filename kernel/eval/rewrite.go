package eval

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"sort"
	"strings"
)

// guardPkg is the import path of the package holding the goroutine panic
// reporter, imported into every session under guardName.
const (
	guardPkg  = "lightos.internal/guard"
	guardName = "__lightos"
	// guardFmt is inserted at the top of every interpreted goroutine body
	// (with the go statement's position), startStmt before the go statement.
	// They are one line, so positions after them keep their line numbers.
	guardFmt  = "defer func() { " + guardName + ".GoExit(recover(), %q) }(); "
	startStmt = guardName + ".GoStart(); "
)

// suppressed are calls whose results a cell never shows (Println's byte count).
var suppressed = map[string]bool{
	"print": true, "println": true,
	"fmt.Print": true, "fmt.Println": true, "fmt.Printf": true,
	"fmt.Fprint": true, "fmt.Fprintln": true, "fmt.Fprintf": true,
}

// isResultExpr reports whether text is a single expression whose value a cell
// should show.
func isResultExpr(text string) bool {
	t := strings.TrimSpace(text)
	t = strings.TrimSpace(strings.TrimSuffix(t, ";"))
	if t == "" {
		return false
	}
	e, err := parser.ParseExpr(t)
	if err != nil {
		return false
	}
	if call, ok := e.(*ast.CallExpr); ok {
		if suppressed[exprName(call.Fun)] {
			return false
		}
		// w.Write and w.WriteString return byte counts nobody wants shown.
		if sel, ok := call.Fun.(*ast.SelectorExpr); ok && (sel.Sel.Name == "Write" || sel.Sel.Name == "WriteString") {
			return false
		}
	}
	return true
}

// exprName renders an identifier or pkg.Name selector; "" for anything else.
func exprName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		if x, ok := e.X.(*ast.Ident); ok {
			return x.Name + "." + e.Sel.Name
		}
	}
	return ""
}

type edit struct {
	start, end int
	text       string
}

// guardGoroutines rewrites every go statement of the wrapped source src so
// that its goroutine recovers panics and reports them (see the package doc).
// The rewrite adds no newlines, so line numbers are kept.
func guardGoroutines(src string) (string, error) {
	if !strings.Contains(src, "go") {
		return src, nil
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", src, parser.SkipObjectResolution)
	if err != nil {
		return "", err
	}
	tf := fset.File(f.Pos())
	off := func(p token.Pos) int { return tf.Offset(p) }
	var edits []edit
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		g, ok := node.(*ast.GoStmt)
		if !ok {
			return true
		}
		call := g.Call
		guardStmt := fmt.Sprintf(guardFmt, fset.Position(g.Pos()).String())
		if lit, ok := call.Fun.(*ast.FuncLit); ok {
			p := off(lit.Body.Lbrace) + 1
			edits = append(edits, edit{off(g.Pos()), off(g.Pos()), "{ " + startStmt},
				edit{p, p, guardStmt}, edit{off(g.End()), off(g.End()), " }"})
			return true
		}
		// go F(args): evaluate the arguments now, run the call guarded.
		hoist := !(len(call.Args) == 1 && isCall(call.Args[0]))
		var names, values, args []string
		for i, a := range call.Args {
			text := src[off(a.Pos()):off(a.End())]
			if _, lit := a.(*ast.BasicLit); lit || !hoist {
				args = append(args, text)
				continue
			}
			name := fmt.Sprintf("__lg%d_%d", n, i)
			names = append(names, name)
			values = append(values, text)
			args = append(args, name)
		}
		n++
		ell := ""
		if call.Ellipsis.IsValid() {
			ell = "..."
		}
		fun := src[off(call.Fun.Pos()):off(call.Fun.End())]
		var b strings.Builder
		b.WriteString("{ ")
		if len(names) > 0 {
			fmt.Fprintf(&b, "%s := %s; ", strings.Join(names, ", "), strings.Join(values, ", "))
		}
		fmt.Fprintf(&b, "%sgo func() { %s%s(%s%s) }() }", startStmt, guardStmt, fun, strings.Join(args, ", "), ell)
		edits = append(edits, edit{off(g.Pos()), off(g.End()), b.String()})
		return false
	})
	if len(edits) == 0 {
		return src, nil
	}
	sort.Slice(edits, func(i, j int) bool { return edits[i].start > edits[j].start })
	out := src
	for _, e := range edits {
		out = out[:e.start] + e.text + out[e.end:]
	}
	return out, nil
}

func isCall(e ast.Expr) bool {
	_, ok := e.(*ast.CallExpr)
	return ok
}

// importName returns the name an import spec binds: its alias, or the last
// element of the path (skipping a major-version suffix such as v2).
func importName(spec *ast.ImportSpec) string {
	if spec.Name != nil {
		return spec.Name.Name
	}
	path := strings.Trim(spec.Path.Value, "`\"")
	return defaultImportName(path)
}

func defaultImportName(path string) string {
	parts := strings.Split(path, "/")
	name := parts[len(parts)-1]
	if len(parts) > 1 && len(name) > 1 && name[0] == 'v' && strings.Trim(name[1:], "0123456789") == "" {
		name = parts[len(parts)-2]
	}
	return strings.ReplaceAll(name, "-", "_")
}

// dropKnownImports removes from f the import specs that bind a name to the
// same path as an earlier cell did (yaegi rejects a second import of a name,
// which would make re-running a cell fail). It returns the specs kept.
func dropKnownImports(f *ast.File, known map[string]string) []*ast.ImportSpec {
	var kept []*ast.ImportSpec
	decls := f.Decls[:0]
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.IMPORT {
			decls = append(decls, d)
			continue
		}
		specs := gd.Specs[:0]
		for _, s := range gd.Specs {
			is := s.(*ast.ImportSpec)
			path := strings.Trim(is.Path.Value, "`\"")
			if known[importName(is)] == path {
				continue
			}
			specs = append(specs, s)
			kept = append(kept, is)
		}
		gd.Specs = specs
		if len(specs) > 0 {
			decls = append(decls, gd)
		}
	}
	f.Decls = decls
	imports := f.Imports[:0]
	for _, is := range f.Imports {
		for _, k := range kept {
			if is == k {
				imports = append(imports, is)
			}
		}
	}
	f.Imports = imports
	return kept
}

// wrapCompound works around a yaegi v0.16.1 bug: at the top level of a cell
// (yaegi's REPL scope) a multi-value definition inside a block, such as
// "for ... { n, err := f() }", fails with "undefined: n", while the same code
// in a function body works. src is a statement run wrapped in
// "func main() { ... }"; each top-level compound statement (for, if, switch,
// select, block) is put in a function literal called in place. Variables of
// the cell stay visible through the closure; the rewrite adds no newlines.
func wrapCompound(src string) (string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", src, parser.SkipObjectResolution)
	if err != nil {
		return "", err
	}
	fd, ok := f.Decls[0].(*ast.FuncDecl)
	if !ok || fd.Body == nil {
		return src, nil
	}
	tf := fset.File(f.Pos())
	var edits []edit
	for _, st := range fd.Body.List {
		switch st.(type) {
		case *ast.ForStmt, *ast.RangeStmt, *ast.IfStmt, *ast.SwitchStmt, *ast.TypeSwitchStmt, *ast.SelectStmt, *ast.BlockStmt:
			if !definesMulti(st) {
				continue
			}
			a, b := tf.Offset(st.Pos()), tf.Offset(st.End())
			edits = append(edits, edit{b, b, " }()"}, edit{a, a, "func() { "})
		}
	}
	if len(edits) == 0 {
		return src, nil
	}
	sort.SliceStable(edits, func(i, j int) bool { return edits[i].start > edits[j].start })
	out := src
	for _, e := range edits {
		out = out[:e.start] + e.text + out[e.end:]
	}
	return out, nil
}

// definesMulti reports whether n contains a definition of several variables
// from one call ("a, b := f()") outside a function literal: the case the
// yaegi bug breaks.
func definesMulti(n ast.Node) bool {
	found := false
	ast.Inspect(n, func(x ast.Node) bool {
		switch x := x.(type) {
		case *ast.FuncLit:
			return false
		case *ast.AssignStmt:
			if x.Tok == token.DEFINE && len(x.Lhs) > 1 && len(x.Rhs) == 1 {
				found = true
			}
		}
		return !found
	})
	return found
}
