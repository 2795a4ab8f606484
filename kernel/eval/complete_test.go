package eval

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		src   string
		kinds []Kind
		lines []int
	}{
		{"", nil, nil},
		{"1+1", []Kind{Stmt}, []int{1}},
		{"import \"fmt\"\nfmt.Println(1)", []Kind{Decl, Stmt}, []int{1, 2}},
		{"// doc\nfunc f() {\n}\nf()", []Kind{Decl, Stmt}, []int{1, 4}},
		{"func() { println(1) }()", []Kind{Stmt}, []int{1}},
		{"func (t T) M() {}\nx := 1; y := 2", []Kind{Decl, Stmt, Stmt}, []int{1, 2, 2}},
		{"if a {\n} else {\n}\nvar x = 1\ntype T struct {\n\tA int\n}", []Kind{Stmt, Decl, Decl}, []int{1, 4, 5}},
		{"for i := 0; i < 3; i++ {\n}\nif x := 1; x > 0 {\n}\nswitch y := 2; y {\n}", []Kind{Stmt, Stmt, Stmt}, []int{1, 3, 5}},
		{"import (\n\t\"fmt\"\n\t\"os\"\n)\nfmt.Fprintln(os.Stderr, 1)", []Kind{Decl, Stmt}, []int{1, 5}},
	}
	for _, tc := range tests {
		chunks, err := Split(tc.src)
		if err != nil {
			t.Errorf("Split(%q): %v", tc.src, err)
			continue
		}
		var kinds []Kind
		var lines []int
		var joined strings.Builder
		for _, c := range chunks {
			kinds = append(kinds, c.Kind)
			lines = append(lines, c.Line)
			joined.WriteString(c.Text)
		}
		if !slices.Equal(kinds, tc.kinds) || !slices.Equal(lines, tc.lines) {
			t.Errorf("Split(%q) kinds %v lines %v, want %v %v", tc.src, kinds, lines, tc.kinds, tc.lines)
		}
		if joined.String() != tc.src && len(chunks) > 0 {
			t.Errorf("Split(%q): chunks do not cover the source: %q", tc.src, joined.String())
		}
	}
	if _, err := Split("x := \"unterminated"); err == nil {
		t.Errorf("Split of an unterminated string: no error")
	}
}

func TestRunsResult(t *testing.T) {
	tests := []struct {
		src    string
		n      int
		result bool
	}{
		{"x := 1\nx", 2, true},
		{"x := 1\ny := 2", 1, false},
		{"fmt.Println(1)", 1, false},
		{"import \"fmt\"\nf()", 2, true},
		{"a := 1\nb := 2\na + b", 2, true},
	}
	for _, tc := range tests {
		chunks, _ := Split(tc.src)
		runs := Runs(chunks)
		if len(runs) != tc.n || runs[len(runs)-1].Result != tc.result {
			t.Errorf("Runs(%q) = %+v, want %d runs, result %v", tc.src, runs, tc.n, tc.result)
		}
	}
}

func TestIsComplete(t *testing.T) {
	s, _, _ := newSession(t)
	tests := []struct{ code, status string }{
		{"x := 1", "complete"},
		{"", "complete"},
		{"func f() {", "incomplete"},
		{"for i := 0; i < 3; i++ {\n\tprintln(i)", "incomplete"},
		{"x := `raw", "incomplete"},
		{"x := )", "invalid"},
		{"}", "invalid"},
		{"import \"fmt\"\nfmt.Println(1)", "complete"},
	}
	for _, tc := range tests {
		if got, _ := s.IsComplete(tc.code); got != tc.status {
			t.Errorf("IsComplete(%q) = %q, want %q", tc.code, got, tc.status)
		}
	}
}

func TestCompleteAndInspect(t *testing.T) {
	s, _, _ := newSession(t)
	if _, err := s.Run(context.Background(), "cell[1]", "import \"strings\"\ntype Point struct{ X, Y int }\n// Norm1 is |x|+|y|.\nfunc Norm1(p Point) int { return p.X + p.Y }\npt := Point{1, 2}\nvalueOne := 1"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		code string
		want string
	}{
		{"strings.ToU", "ToUpper"},
		{"val", "valueOne"},
		{"Nor", "Norm1"},
		{"pt.", "X"},
		{"fo", "for"},
		{"app", "append"},
		{"str", "strings"},
	}
	for _, tc := range tests {
		m, start, end := s.Complete(tc.code, len(tc.code))
		if !slices.Contains(m, tc.want) {
			t.Errorf("Complete(%q) = %v, missing %q", tc.code, m, tc.want)
		}
		if end != len(tc.code) || start > end {
			t.Errorf("Complete(%q) range [%d,%d)", tc.code, start, end)
		}
	}
	insp := []struct{ code, want string }{
		{"Norm1", "Norm1 is |x|+|y|"},
		{"pt", "{1 2}"},
		{"strings.ToUpper", "func(string) string"},
		{"strings", "package strings"},
	}
	for _, tc := range insp {
		text, found := s.Inspect(tc.code, len(tc.code))
		if !found || !strings.Contains(text, tc.want) {
			t.Errorf("Inspect(%q) = %q, %v; want it to contain %q", tc.code, text, found, tc.want)
		}
	}
	if _, found := s.Inspect("nothingHere", 5); found {
		t.Errorf("Inspect of an unknown name found something")
	}
}
