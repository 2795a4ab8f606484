package eval

import (
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"reflect"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

var keywords = []string{
	"break", "case", "chan", "const", "continue", "default", "defer", "else",
	"fallthrough", "for", "func", "go", "goto", "if", "import", "interface",
	"map", "package", "range", "return", "select", "struct", "switch", "type", "var",
}

var builtins = []string{
	"append", "bool", "byte", "cap", "clear", "close", "complex", "complex128",
	"complex64", "copy", "delete", "error", "false", "float32", "float64", "imag",
	"int", "int16", "int32", "int64", "int8", "iota", "len", "make", "max", "min",
	"new", "nil", "panic", "print", "println", "real", "recover", "rune", "string",
	"true", "uint", "uint16", "uint32", "uint64", "uint8", "uintptr", "any",
}

// cursorWord finds the identifier (and the selector operand before a dot)
// ending at byte offset cursor: for "fmt.Pri|" it returns x "fmt", word
// "Pri", start at the "P".
func cursorWord(code string, cursor int) (x, word string, start int) {
	if cursor > len(code) {
		cursor = len(code)
	}
	if cursor < 0 {
		cursor = 0
	}
	start = cursor
	for start > 0 {
		r, n := utf8.DecodeLastRuneInString(code[:start])
		if !isIdentRune(r) {
			break
		}
		start -= n
	}
	word = code[start:cursor]
	if start > 0 && code[start-1] == '.' {
		end := start - 1
		b := end
		for b > 0 {
			r, n := utf8.DecodeLastRuneInString(code[:b])
			if !isIdentRune(r) && r != '.' {
				break
			}
			b -= n
		}
		x = code[b:end]
	}
	return x, word, start
}

func isIdentRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// Complete returns the completions of the identifier before byte offset
// cursor and the byte range [start, end) they replace. After "pkg." it lists
// the package's exported symbols; after "v." the fields and methods of the
// variable's value; otherwise keywords, builtins, imported packages and the
// names the session defined.
func (s *Session) Complete(code string, cursor int) (matches []string, start, end int) {
	x, word, start := cursorWord(code, cursor)
	end = start + len(word)
	seen := map[string]bool{}
	add := func(name string) {
		if strings.HasPrefix(name, word) && !strings.HasPrefix(name, "__") && !seen[name] {
			seen[name] = true
			matches = append(matches, name)
		}
	}
	if x != "" {
		for _, n := range s.memberNames(x) {
			add(n)
		}
		sort.Strings(matches)
		return matches, start, end
	}
	for n := range s.defs {
		if !strings.Contains(n, ".") {
			add(n)
		}
	}
	for n := range s.imports {
		add(n)
	}
	for _, n := range keywords {
		add(n)
	}
	for _, n := range builtins {
		add(n)
	}
	sort.Strings(matches)
	return matches, start, end
}

// memberNames lists what can follow "x.": a package's symbols or a value's
// fields and methods.
func (s *Session) memberNames(x string) []string {
	var names []string
	if path, ok := s.pkgByName(x); ok {
		for _, syms := range s.interp.Symbols(path) {
			for n := range syms {
				if !strings.HasPrefix(n, "_") {
					names = append(names, n)
				}
			}
		}
		return names
	}
	v, ok := s.peek(x)
	if !ok {
		return nil
	}
	t := v.Type()
	for i := 0; i < t.NumMethod(); i++ {
		names = append(names, t.Method(i).Name)
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct {
		for i := 0; i < t.NumField(); i++ {
			if f := t.Field(i); f.IsExported() {
				names = append(names, f.Name)
			}
		}
		for i := 0; i < reflect.PointerTo(t).NumMethod(); i++ {
			names = append(names, reflect.PointerTo(t).Method(i).Name)
		}
	}
	return names
}

// peek evaluates a side-effect-free selector expression (a variable, a field)
// and returns its value.
func (s *Session) peek(expr string) (v reflect.Value, ok bool) {
	e, err := parser.ParseExpr(expr)
	if err != nil || !pureSelector(e) {
		return reflect.Value{}, false
	}
	defer func() {
		if r := recover(); r != nil {
			v, ok = reflect.Value{}, false
		}
	}()
	f, err := parser.ParseFile(s.fset, fileName, "package main; func main() {\n"+expr+"\n}", 0)
	if err != nil {
		return reflect.Value{}, false
	}
	prog, err := s.interp.CompileAST(f.Decls[0].(*ast.FuncDecl).Body)
	if err != nil {
		return reflect.Value{}, false
	}
	v, err = s.interp.Execute(prog)
	if err != nil || !v.IsValid() || v.Type() == voidType {
		return reflect.Value{}, false
	}
	return v, true
}

// IsComplete classifies code as "complete", "incomplete" (more lines are
// needed: an unclosed brace, parenthesis or string) or "invalid". For
// incomplete code indent is the indentation of the next line.
func (s *Session) IsComplete(code string) (status, indent string) {
	if strings.TrimSpace(code) == "" {
		return "complete", ""
	}
	chunks, err := Split(code)
	if err != nil {
		if strings.Contains(err.Error(), "not terminated") {
			return "incomplete", ""
		}
		return "invalid", ""
	}
	depth := bracketDepth(code)
	if depth > 0 {
		return "incomplete", strings.Repeat("\t", depth)
	}
	if depth < 0 {
		return "invalid", ""
	}
	for _, c := range chunks {
		var src string
		if c.Kind == Decl {
			src = "package p;" + c.Text
		} else {
			src = "package p; func _() {" + c.Text + "\n}"
		}
		if _, err := parser.ParseFile(token.NewFileSet(), "", src, parser.SkipObjectResolution); err != nil {
			return "invalid", ""
		}
	}
	return "complete", ""
}

// bracketDepth is the number of brackets left open at the end of code.
func bracketDepth(code string) int {
	fset := token.NewFileSet()
	var s scanner.Scanner
	s.Init(fset.AddFile("", -1, len(code)), []byte(code), nil, 0)
	depth := 0
	for {
		_, tok, _ := s.Scan()
		switch tok {
		case token.EOF:
			return depth
		case token.LPAREN, token.LBRACK, token.LBRACE:
			depth++
		case token.RPAREN, token.RBRACK, token.RBRACE:
			depth--
		}
	}
}

// pkgByName resolves a package name: an import of the session, else a known
// (exported) package of that name, so that completion and inspection work
// before the import is run. Among packages of one name the shortest path wins
// (math/rand over crypto/rand).
func (s *Session) pkgByName(name string) (string, bool) {
	if path, ok := s.imports[name]; ok {
		return path, true
	}
	if _, isVar := s.defs[name]; isVar {
		return "", false
	}
	best := ""
	for path, n := range s.pkgNames {
		if n == name && (best == "" || len(path) < len(best) || (len(path) == len(best) && path < best)) {
			best = path
		}
	}
	return best, best != ""
}
