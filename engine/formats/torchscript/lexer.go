package torchscript

import (
	"fmt"
	"strings"
	"unicode"
)

// token kinds of the serialized-code lexer.
const (
	tName = iota + 1
	tNumber
	tString
	tOp
	tNewline
	tIndent
	tDedent
	tEOF
)

type token struct {
	kind int
	text string
	line int
}

// lex splits serialized TorchScript (a subset of Python) into tokens, with Python's
// NEWLINE/INDENT/DEDENT rules; newlines inside brackets are ignored.
func lex(src string) ([]token, error) {
	var toks []token
	indents := []int{0}
	depth := 0
	lines := strings.Split(src, "\n")
	for ln, line := range lines {
		lineNo := ln + 1
		trimmed := strings.TrimLeft(line, " \t")
		if depth == 0 {
			if trimmed == "" || strings.HasPrefix(trimmed, "#") {
				continue
			}
			ind := len(line) - len(trimmed)
			switch {
			case ind > indents[len(indents)-1]:
				indents = append(indents, ind)
				toks = append(toks, token{tIndent, "", lineNo})
			case ind < indents[len(indents)-1]:
				for ind < indents[len(indents)-1] {
					indents = indents[:len(indents)-1]
					toks = append(toks, token{tDedent, "", lineNo})
				}
				if ind != indents[len(indents)-1] {
					return nil, fmt.Errorf("line %d: inconsistent indentation", lineNo)
				}
			}
		}
		s := trimmed
		for len(s) > 0 {
			c := rune(s[0])
			switch {
			case c == ' ' || c == '\t' || c == '\r':
				s = s[1:]
			case c == '#':
				s = ""
			case c == '_' || unicode.IsLetter(c):
				i := 1
				for i < len(s) && (s[i] == '_' || unicode.IsLetter(rune(s[i])) || unicode.IsDigit(rune(s[i]))) {
					i++
				}
				toks = append(toks, token{tName, s[:i], lineNo})
				s = s[i:]
			case unicode.IsDigit(c) || (c == '.' && len(s) > 1 && unicode.IsDigit(rune(s[1]))):
				i := 0
				for i < len(s) && (unicode.IsDigit(rune(s[i])) || s[i] == '.' || s[i] == 'e' || s[i] == 'E' || s[i] == 'x' ||
					((s[i] == '-' || s[i] == '+') && i > 0 && (s[i-1] == 'e' || s[i-1] == 'E'))) {
					i++
				}
				toks = append(toks, token{tNumber, s[:i], lineNo})
				s = s[i:]
			case c == '"' || c == '\'':
				i := 1
				var b strings.Builder
				for ; i < len(s) && s[i] != byte(c); i++ {
					if s[i] == '\\' && i+1 < len(s) {
						i++
					}
					b.WriteByte(s[i])
				}
				if i >= len(s) {
					return nil, fmt.Errorf("line %d: unterminated string", lineNo)
				}
				toks = append(toks, token{tString, b.String(), lineNo})
				s = s[i+1:]
			default:
				op := s[:1]
				for _, two := range []string{"->", "==", "!=", "<=", ">=", "//", "**"} {
					if strings.HasPrefix(s, two) {
						op = two
					}
				}
				switch op {
				case "(", "[", "{":
					depth++
				case ")", "]", "}":
					depth--
				}
				toks = append(toks, token{tOp, op, lineNo})
				s = s[len(op):]
			}
		}
		if depth == 0 {
			toks = append(toks, token{tNewline, "", lineNo})
		}
	}
	for len(indents) > 1 {
		indents = indents[:len(indents)-1]
		toks = append(toks, token{tDedent, "", len(lines)})
	}
	toks = append(toks, token{tEOF, "", len(lines)})
	return toks, nil
}
