package eval

import (
	"go/ast"
	"go/token"
)

// record remembers the source of user declarations for inspect requests.
func (s *Session) record(f *ast.File, src string, r Run) {
	tf := s.fset.File(f.Pos())
	text := func(n ast.Node) string {
		start := n.Pos()
		if d, ok := n.(*ast.FuncDecl); ok && d.Doc != nil {
			start = d.Doc.Pos()
		}
		a, b := tf.Offset(start), tf.Offset(n.End())
		if a < 0 || b > len(src) || a > b {
			return ""
		}
		return src[a:b]
	}
	if r.Kind == Decl {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				name := d.Name.Name
				if d.Recv != nil && len(d.Recv.List) == 1 {
					name = recvName(d.Recv.List[0].Type) + "." + name
				}
				s.defs[name] = text(d)
			case *ast.GenDecl:
				for _, sp := range d.Specs {
					switch sp := sp.(type) {
					case *ast.TypeSpec:
						s.defs[sp.Name.Name] = d.Tok.String() + " " + text(sp)
					case *ast.ValueSpec:
						for _, n := range sp.Names {
							s.defs[n.Name] = d.Tok.String() + " " + text(sp)
						}
					}
				}
			}
		}
		return
	}
	body := f.Decls[0].(*ast.FuncDecl).Body
	for _, st := range body.List {
		if as, ok := st.(*ast.AssignStmt); ok && as.Tok == token.DEFINE {
			for _, l := range as.Lhs {
				if id, ok := l.(*ast.Ident); ok && id.Name != "_" {
					s.defs[id.Name] = text(as)
				}
			}
		}
		if ds, ok := st.(*ast.DeclStmt); ok {
			if gd, ok := ds.Decl.(*ast.GenDecl); ok {
				for _, sp := range gd.Specs {
					if vs, ok := sp.(*ast.ValueSpec); ok {
						for _, n := range vs.Names {
							s.defs[n.Name] = gd.Tok.String() + " " + text(vs)
						}
					}
				}
			}
		}
	}
}

func recvName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.StarExpr:
		return recvName(e.X)
	case *ast.Ident:
		return e.Name
	case *ast.IndexExpr:
		return recvName(e.X)
	}
	return "?"
}
