package eval

import (
	"fmt"
	"reflect"
	"strings"
)

// Inspect describes the identifier or selector at byte offset cursor: a
// user definition's source and value, or a compiled symbol's type and
// documentation. found is false when there is nothing to show.
func (s *Session) Inspect(code string, cursor int) (text string, found bool) {
	x, word, start := cursorWord(code, cursor)
	// Extend the word to the right of the cursor.
	end := start + len(word)
	for end < len(code) && isIdentRune(rune(code[end])) {
		end++
	}
	word = code[start:end]
	if word == "" {
		return "", false
	}
	var b strings.Builder
	if x == "" {
		if def, ok := s.defs[word]; ok {
			fmt.Fprintf(&b, "%s\n", def)
			if v, ok := s.peek(word); ok {
				fmt.Fprintf(&b, "\ntype:  %s\nvalue: %s\n", typeName(v), short(v))
			}
			return b.String(), true
		}
		if path, ok := s.pkgByName(word); ok {
			fmt.Fprintf(&b, "package %s // import %q\n", word, path)
			if doc := s.doc(path, ""); doc != "" {
				fmt.Fprintf(&b, "\n%s\n", doc)
			}
			return b.String(), true
		}
		return "", false
	}
	if path, ok := s.pkgByName(x); ok {
		for _, syms := range s.interp.Symbols(path) {
			v, ok := syms[word]
			if !ok {
				continue
			}
			fmt.Fprintf(&b, "%s.%s: %s\n", x, word, symbolType(v))
			if doc := s.doc(path, word); doc != "" {
				fmt.Fprintf(&b, "\n%s\n", doc)
			}
			return b.String(), true
		}
		return "", false
	}
	if v, ok := s.peek(x + "." + word); ok {
		fmt.Fprintf(&b, "%s.%s\ntype:  %s\nvalue: %s\n", x, word, typeName(v), short(v))
		return b.String(), true
	}
	return "", false
}

func (s *Session) doc(path, name string) string {
	if s.opts.Docs == nil {
		return ""
	}
	return s.opts.Docs(path, name)
}

// symbolType describes a compiled symbol from a yaegi Exports map: types are
// stored as nil pointers to the type, variables as pointers.
func symbolType(v reflect.Value) string {
	if !v.IsValid() {
		return "?"
	}
	t := v.Type()
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return "type " + t.Elem().String()
	}
	if v.Kind() == reflect.Func {
		return t.String()
	}
	return "var/const of type " + t.String()
}

func typeName(v reflect.Value) string { return v.Type().String() }

// short renders a value on at most a few hundred characters.
func short(v reflect.Value) string {
	var s string
	func() {
		defer func() {
			if r := recover(); r != nil {
				s = fmt.Sprintf("<%v>", r)
			}
		}()
		s = fmt.Sprintf("%v", v)
	}()
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}
