package eval

import (
	"go/parser"
	"go/scanner"
	"go/token"
	"strings"
)

// Kind says whether a chunk is a declaration or a statement.
type Kind int

// The chunk kinds.
const (
	Stmt Kind = iota
	Decl
)

func (k Kind) String() string {
	if k == Decl {
		return "decl"
	}
	return "stmt"
}

// Chunk is one top-level declaration or statement of a cell. Text runs from
// the end of the previous chunk (so leading comments stay attached) to the end
// of this one; Line and Col give the position of Text's first byte in the cell.
type Chunk struct {
	Kind      Kind
	Text      string
	Offset    int
	Line, Col int
}

// Split cuts src into top-level chunks. It returns the scanner's errors (with
// positions in the cell) for source that does not tokenize.
func Split(src string) ([]Chunk, error) {
	fset := token.NewFileSet()
	file := fset.AddFile("cell", -1, len(src))
	var errs scanner.ErrorList
	var s scanner.Scanner
	s.Init(file, []byte(src), func(pos token.Position, msg string) { errs.Add(pos, msg) }, 0)

	var chunks []Chunk
	depth, start := 0, 0
	first := token.ILLEGAL // first token of the current chunk
	firstOff := -1
	flush := func(end int) {
		if end > len(src) {
			end = len(src)
		}
		if first == token.ILLEGAL || end <= start {
			return
		}
		text := src[start:end]
		line, col := lineCol(src, start)
		c := Chunk{Kind: Stmt, Text: text, Offset: start, Line: line, Col: col}
		switch first {
		case token.IMPORT, token.TYPE, token.CONST, token.VAR:
			c.Kind = Decl
		case token.FUNC:
			if isFuncDecl(src[firstOff:end]) {
				c.Kind = Decl
			}
		}
		chunks = append(chunks, c)
		start, first, firstOff = end, token.ILLEGAL, -1
	}
	// In the header of for, if and switch statements, semicolons separate
	// clauses, not statements; the header ends at the body's brace.
	inHeader := false
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		if depth == 0 {
			switch tok {
			case token.FOR, token.IF, token.SWITCH:
				inHeader = true
			case token.LBRACE:
				inHeader = false
			}
		}
		off := file.Offset(pos)
		if first == token.ILLEGAL && tok != token.SEMICOLON {
			first, firstOff = tok, off
		}
		switch tok {
		case token.LPAREN, token.LBRACK, token.LBRACE:
			depth++
		case token.RPAREN, token.RBRACK, token.RBRACE:
			depth--
		case token.SEMICOLON:
			if depth == 0 && (!inHeader || lit == "\n") {
				inHeader = false
				flush(off + 1)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	flush(len(src))
	if len(chunks) > 0 {
		// Keep trailing blank text with the last chunk.
		last := &chunks[len(chunks)-1]
		last.Text = src[last.Offset:]
	}
	return chunks, nil
}

// isFuncDecl reports whether text (starting with "func") is a function or
// method declaration rather than a function literal used in a statement.
func isFuncDecl(text string) bool {
	_, err := parser.ParseFile(token.NewFileSet(), "", "package p;"+text, parser.SkipObjectResolution)
	return err == nil
}

// lineCol returns the 1-based line and column of byte offset off in src.
func lineCol(src string, off int) (int, int) {
	before := src[:off]
	line := strings.Count(before, "\n") + 1
	col := off - strings.LastIndexByte(before, '\n')
	return line, col
}

// Run is a maximal sequence of consecutive chunks of one kind.
type Run struct {
	Kind      Kind
	Text      string
	Line, Col int
	// Result marks a statement run holding only the cell's final expression.
	Result bool
}

// Runs groups chunks into runs. When the last chunk is an expression whose
// value should be shown, it gets a run of its own marked Result.
func Runs(chunks []Chunk) []Run {
	var runs []Run
	for i, c := range chunks {
		result := i == len(chunks)-1 && c.Kind == Stmt && isResultExpr(c.Text)
		if n := len(runs); n > 0 && runs[n-1].Kind == c.Kind && !result {
			runs[n-1].Text += c.Text
			continue
		}
		runs = append(runs, Run{Kind: c.Kind, Text: c.Text, Line: c.Line, Col: c.Col, Result: result})
	}
	return runs
}
