package torchscript

import (
	"fmt"
	"strconv"
)

// The AST of serialized TorchScript: just what traced code uses.
type (
	expr     any
	nameExpr struct{ name string }
	numExpr  struct{ v any } // int64 or float64
	strExpr  struct{ s string }
	seqExpr  struct {
		elems []expr
		tuple bool
	}
	attrExpr struct {
		x    expr
		name string
	}
	callExpr struct {
		fn     expr
		args   []expr
		kwargs map[string]expr
	}
	indexExpr struct{ x, idx expr }
	unaryExpr struct {
		op string
		x  expr
	}
	binExpr struct {
		op   string
		x, y expr
	}
)

// stmt is one statement of a method body.
type stmt struct {
	line    int
	targets []string // assignment targets (several for tuple unpacking)
	value   expr
	ret     bool
	// unsupported names a statement the lowering cannot handle (control flow).
	unsupported string
}

type method struct {
	name   string
	params []string // without self
	body   []stmt
}

type class struct {
	name    string // qualified: module + "." + class
	methods map[string]*method
}

type parser struct {
	toks []token
	pos  int
	file string
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}
func (p *parser) isOp(op string) bool { t := p.peek(); return t.kind == tOp && t.text == op }
func (p *parser) isName(n string) bool {
	t := p.peek()
	return t.kind == tName && t.text == n
}
func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%s line %d: %s", p.file, p.peek().line, fmt.Sprintf(format, args...))
}
func (p *parser) expectOp(op string) error {
	if !p.isOp(op) {
		return p.errorf("expected %q, found %q", op, p.peek().text)
	}
	p.next()
	return nil
}

// skipLine consumes tokens through the end of the logical line (and a nested block).
func (p *parser) skipLine() {
	for p.peek().kind != tNewline && p.peek().kind != tEOF {
		p.next()
	}
	p.next()
	if p.peek().kind == tIndent {
		p.skipBlock()
	}
}

// skipBlock consumes an INDENT ... DEDENT block.
func (p *parser) skipBlock() {
	p.next() // INDENT
	depth := 1
	for depth > 0 && p.peek().kind != tEOF {
		switch p.next().kind {
		case tIndent:
			depth++
		case tDedent:
			depth--
		}
	}
}

// parseFile parses a code file into its classes, qualified with module.
func parseFile(module, file, src string) ([]*class, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	p := &parser{toks: toks, file: file}
	var classes []*class
	for p.peek().kind != tEOF {
		if !p.isName("class") {
			p.skipLine()
			continue
		}
		p.next()
		name := p.next().text
		c := &class{name: module + "." + name, methods: map[string]*method{}}
		for p.peek().kind != tNewline && p.peek().kind != tEOF {
			p.next()
		}
		p.next()
		if p.peek().kind != tIndent {
			classes = append(classes, c)
			continue
		}
		p.next()
		for p.peek().kind != tDedent && p.peek().kind != tEOF {
			if p.isName("def") {
				m, err := p.method()
				if err != nil {
					return nil, err
				}
				c.methods[m.name] = m
				continue
			}
			p.skipLine()
		}
		p.next()
		classes = append(classes, c)
	}
	return classes, nil
}

func (p *parser) method() (*method, error) {
	p.next() // def
	m := &method{name: p.next().text}
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	first := true
	for !p.isOp(")") {
		t := p.next()
		if t.kind != tName {
			return nil, p.errorf("bad parameter %q", t.text)
		}
		if p.isOp(":") {
			p.next()
			if _, err := p.expr(); err != nil { // the type annotation
				return nil, err
			}
		}
		if p.isOp("=") {
			p.next()
			if _, err := p.expr(); err != nil {
				return nil, err
			}
		}
		if !first || t.text != "self" {
			m.params = append(m.params, t.text)
		}
		first = false
		if p.isOp(",") {
			p.next()
		}
	}
	p.next()
	if p.isOp("->") {
		p.next()
		if _, err := p.expr(); err != nil {
			return nil, err
		}
	}
	if err := p.expectOp(":"); err != nil {
		return nil, err
	}
	if p.peek().kind != tNewline {
		return nil, p.errorf("one-line method bodies are not supported")
	}
	p.next()
	if p.peek().kind != tIndent {
		return nil, p.errorf("method %s has no body", m.name)
	}
	p.next()
	for p.peek().kind != tDedent && p.peek().kind != tEOF {
		s, err := p.statement()
		if err != nil {
			return nil, err
		}
		m.body = append(m.body, s)
	}
	p.next()
	return m, nil
}

func (p *parser) statement() (stmt, error) {
	line := p.peek().line
	t := p.peek()
	if t.kind == tName {
		switch t.text {
		case "if", "elif", "else", "for", "while", "with", "try", "except", "finally", "raise", "assert", "break", "continue", "del", "global":
			p.skipLine()
			return stmt{line: line, unsupported: t.text}, nil
		case "pass":
			p.skipLine()
			return stmt{line: line}, nil
		case "return":
			p.next()
			if p.peek().kind == tNewline {
				p.next()
				return stmt{line: line, ret: true}, nil
			}
			e, err := p.exprList()
			if err != nil {
				return stmt{}, err
			}
			p.next()
			return stmt{line: line, ret: true, value: e}, nil
		}
	}
	// targets = value, or a bare expression
	start := p.pos
	var targets []string
	for p.peek().kind == tName {
		targets = append(targets, p.next().text)
		if p.isOp(",") {
			p.next()
			continue
		}
		break
	}
	if p.isOp(":") { // annotated assignment: x : T = v
		p.next()
		if _, err := p.expr(); err != nil {
			return stmt{}, err
		}
	}
	if len(targets) > 0 && p.isOp("=") {
		p.next()
		e, err := p.exprList()
		if err != nil {
			return stmt{}, err
		}
		if p.peek().kind != tNewline {
			return stmt{}, p.errorf("unexpected %q after assignment", p.peek().text)
		}
		p.next()
		return stmt{line: line, targets: targets, value: e}, nil
	}
	p.pos = start
	e, err := p.exprList()
	if err != nil {
		return stmt{}, err
	}
	if p.peek().kind != tNewline {
		return stmt{}, p.errorf("unexpected %q", p.peek().text)
	}
	p.next()
	return stmt{line: line, value: e}, nil
}

// exprList parses "a, b, c" as a tuple, or a single expression.
func (p *parser) exprList() (expr, error) {
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	if !p.isOp(",") {
		return e, nil
	}
	elems := []expr{e}
	for p.isOp(",") {
		p.next()
		if p.peek().kind == tNewline || p.isOp(")") || p.isOp("=") {
			break
		}
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		elems = append(elems, e)
	}
	return &seqExpr{elems: elems, tuple: true}, nil
}

var binPrec = map[string]int{
	"or": 1, "and": 2,
	"==": 4, "!=": 4, "<": 4, ">": 4, "<=": 4, ">=": 4, "is": 4, "in": 4,
	"+": 6, "-": 6, "*": 7, "/": 7, "//": 7, "%": 7, "**": 9,
}

func (p *parser) expr() (expr, error) { return p.binary(1) }

func (p *parser) binary(minPrec int) (expr, error) {
	x, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tOp && t.kind != tName {
			return x, nil
		}
		prec, ok := binPrec[t.text]
		if !ok || prec < minPrec {
			return x, nil
		}
		p.next()
		y, err := p.binary(prec + 1)
		if err != nil {
			return nil, err
		}
		x = &binExpr{op: t.text, x: x, y: y}
	}
}

func (p *parser) unary() (expr, error) {
	if p.isOp("-") || p.isOp("+") || p.isName("not") {
		op := p.next().text
		x, err := p.binary(8)
		if err != nil {
			return nil, err
		}
		return &unaryExpr{op: op, x: x}, nil
	}
	return p.postfix()
}

func (p *parser) postfix() (expr, error) {
	x, err := p.atom()
	if err != nil {
		return nil, err
	}
	for {
		switch {
		case p.isOp("."):
			p.next()
			t := p.next()
			if t.kind != tName {
				return nil, p.errorf("expected a name after '.'")
			}
			x = &attrExpr{x: x, name: t.text}
		case p.isOp("("):
			p.next()
			c := &callExpr{fn: x, kwargs: map[string]expr{}}
			for !p.isOp(")") {
				if p.peek().kind == tName && p.toks[p.pos+1].kind == tOp && p.toks[p.pos+1].text == "=" {
					k := p.next().text
					p.next()
					v, err := p.expr()
					if err != nil {
						return nil, err
					}
					c.kwargs[k] = v
				} else {
					a, err := p.expr()
					if err != nil {
						return nil, err
					}
					c.args = append(c.args, a)
				}
				if p.isOp(",") {
					p.next()
				} else if !p.isOp(")") {
					return nil, p.errorf("expected ',' or ')' in a call, found %q", p.peek().text)
				}
			}
			p.next()
			x = c
		case p.isOp("["):
			p.next()
			idx, err := p.exprList()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp("]"); err != nil {
				return nil, err
			}
			x = &indexExpr{x: x, idx: idx}
		default:
			return x, nil
		}
	}
}

func (p *parser) atom() (expr, error) {
	t := p.next()
	switch t.kind {
	case tName:
		return &nameExpr{name: t.text}, nil
	case tString:
		return &strExpr{s: t.text}, nil
	case tNumber:
		if i, err := strconv.ParseInt(t.text, 0, 64); err == nil {
			return &numExpr{v: i}, nil
		}
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: bad number %q", p.file, t.line, t.text)
		}
		return &numExpr{v: f}, nil
	case tOp:
		switch t.text {
		case "(", "[":
			closeOp := map[string]string{"(": ")", "[": "]"}[t.text]
			s := &seqExpr{tuple: t.text == "("}
			trailingComma := false
			for !p.isOp(closeOp) {
				e, err := p.expr()
				if err != nil {
					return nil, err
				}
				s.elems = append(s.elems, e)
				trailingComma = false
				if p.isOp(",") {
					p.next()
					trailingComma = true
				} else if !p.isOp(closeOp) {
					return nil, p.errorf("expected ',' or %q, found %q", closeOp, p.peek().text)
				}
			}
			p.next()
			if t.text == "(" && len(s.elems) == 1 && !trailingComma {
				return s.elems[0], nil // parenthesized expression
			}
			return s, nil
		}
	}
	return nil, fmt.Errorf("%s line %d: unexpected %q", p.file, t.line, t.text)
}
