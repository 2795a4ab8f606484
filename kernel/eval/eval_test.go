package eval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for goroutines of the interpreter.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) take() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.b.String()
	b.b.Reset()
	return s
}

func newSession(t *testing.T) (*Session, *syncBuffer, *syncBuffer) {
	t.Helper()
	var out, errb syncBuffer
	s, err := New(Options{Stdout: &out, Stderr: &errb})
	if err != nil {
		t.Fatal(err)
	}
	return s, &out, &errb
}

// step is one cell and what it must produce: stdout, the result's %v (""
// for no result) and the error name ("" for success).
type step struct {
	cell, out, result, err string
}

func TestCells(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"expression", []step{{"6*7", "", "42", ""}}},
		{"mixed decl and stmt", []step{{"import \"fmt\"\nfmt.Println(\"hello, world\")", "hello, world\n", "", ""}}},
		{"state persists", []step{
			{"x := 20", "", "", ""},
			{"x += 1\nx * 2", "", "42", ""},
		}},
		{"func then call", []step{
			{"import \"strings\"\nfunc up(s string) string { return strings.ToUpper(s) }\nup(\"go\")", "", "GO", ""},
			{"func up(s string) string { return s + \"!\" }\nup(\"go\")", "", "go!", ""},
		}},
		{"interleaved runs", []step{{
			"import \"fmt\"\na := 1\nfunc inc(v int) int { return v + 1 }\nb := inc(a)\ntype P struct{ X int }\nfmt.Println(P{b})\nb",
			"{2}\n", "2", ""}}},
		{"reimport is harmless", []step{
			{"import \"fmt\"", "", "", ""},
			{"import \"fmt\"\nfmt.Print(1)", "1", "", ""},
		}},
		{"println has no result", []step{{"println(\"x\")", "x\n", "", ""}}},
		{"void call has no result", []step{{"func nop() {}\nnop()", "", "", ""}}},
		{"compile error", []step{{"y := undefinedName", "", "", "CompileError"}}},
		{"syntax error", []step{{"x := (1", "", "", "CompileError"}}},
		{"panic", []step{{"panic(\"boom\")", "", "", "panic"}}},
		{"runtime error", []step{{"var m map[string]int\nm[\"a\"] = 1", "", "", "runtime error"}}},
		{"lives on after panic", []step{
			{"panic(1)", "", "", "panic"},
			{"1+1", "", "2", ""},
		}},
		{"goroutine panic func literal", []step{{
			"import \"sync\"\nvar wg sync.WaitGroup\nwg.Add(1)\ngo func() { defer wg.Done(); panic(\"in goroutine\") }()\nwg.Wait()",
			"", "", "goroutine panic"}}},
		{"goroutine panic named func", []step{
			{"import \"sync\"\nvar wg2 sync.WaitGroup\nfunc work(n int, wg *sync.WaitGroup) { defer wg.Done(); var s []int; _ = s[n] }", "", "", ""},
			{"wg2.Add(1)\ngo work(3, &wg2)\nwg2.Wait()", "", "", "goroutine panic"},
			{"2+2", "", "4", ""},
		}},
		{"goroutine panic from a declared function", []step{
			{"import \"sync\"\nfunc spawn(wg *sync.WaitGroup) {\n\tgo func() {\n\t\tdefer wg.Done()\n\t\tpanic(\"from spawn\")\n\t}()\n}", "", "", ""},
			{"var wg4 sync.WaitGroup\nwg4.Add(1)\nspawn(&wg4)\nwg4.Wait()", "", "", "goroutine panic"},
		}},
		{"go args evaluated at go time", []step{{
			"import \"sync\"\nvar mu sync.Mutex\nvar wg3 sync.WaitGroup\nsum := 0\nfunc add(v int) { mu.Lock(); sum += v; mu.Unlock(); wg3.Done() }\nfor i := 1; i <= 4; i++ { wg3.Add(1); go add(i) }\nwg3.Wait()\nsum",
			"", "10", ""}}},
		{"multi-value define in a top-level loop (yaegi bug worked around)", []step{{
			"import \"strconv\"\ntotal := 0\nfor _, s := range []string{\"1\", \"20\"} {\n\tn, err := strconv.Atoi(s)\n\tif err != nil {\n\t\tpanic(err)\n\t}\n\ttotal += n\n}\nif v, err := strconv.Atoi(\"3\"); err == nil {\n\ttotal += v\n}\ntotal",
			"", "24", ""}}},
		{"stdout from os.Stdout is separate", []step{{"import \"fmt\"\nfmt.Printf(\"%d-%s\", 7, \"x\")", "7-x", "", ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, out, _ := newSession(t)
			for i, st := range tc.steps {
				res, err := s.Run(context.Background(), fmt.Sprintf("cell[%d]", i+1), st.cell)
				gotErr := ""
				if err != nil {
					var e *Error
					if !errors.As(err, &e) {
						t.Fatalf("step %d: error %T %v is not an *Error", i, err, err)
					}
					gotErr = e.Name
					if len(e.Traceback) == 0 {
						t.Errorf("step %d: empty traceback", i)
					}
				}
				if gotErr != st.err {
					t.Errorf("step %d %q: error %q (%v), want %q", i, st.cell, gotErr, err, st.err)
				}
				got := ""
				if res.HasValue {
					got = fmt.Sprint(res.Value)
				}
				if got != st.result {
					t.Errorf("step %d %q: result %q, want %q", i, st.cell, got, st.result)
				}
				if o := out.take(); o != st.out {
					t.Errorf("step %d %q: stdout %q, want %q", i, st.cell, o, st.out)
				}
			}
		})
	}
}

func TestRichMethodsOfInterpretedTypes(t *testing.T) {
	s, _, _ := newSession(t)
	cell := "type Card struct{ Title string }\nfunc (c Card) HTML() string { return \"<h3>\" + c.Title + \"</h3>\" }\nfunc (c Card) String() string { return \"card \" + c.Title }\nCard{\"x\"}"
	res, err := s.Run(context.Background(), "cell[1]", cell)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rich["text/html"] != "<h3>x</h3>" || res.Rich["text/plain"] != "card x" {
		t.Errorf("Rich = %v", res.Rich)
	}
	// Plain values get no probing; multi-value calls run without a result.
	res, err = s.Run(context.Background(), "cell[2]", "7")
	if err != nil || len(res.Rich) != 0 || fmt.Sprint(res.Value) != "7" {
		t.Errorf("7: %v %v %v", res.Value, res.Rich, err)
	}
	res, err = s.Run(context.Background(), "cell[4]", "x := 5\n// the answer\nx // trailing comment")
	if err != nil || fmt.Sprint(res.Value) != "5" {
		t.Errorf("x: %v %v", res.Value, err)
	}
}

func TestGoroutinePanicNamesGoStatement(t *testing.T) {
	s, _, _ := newSession(t)
	_, err := s.Run(context.Background(), "cell[7]", "import \"sync\"\nvar wg sync.WaitGroup\nwg.Add(1)\n  go func() {\n\tdefer wg.Done()\n\tpanic(\"x\")\n}()\nwg.Wait()")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want *Error", err)
	}
	if tb := strings.Join(e.Traceback, "\n"); !strings.Contains(tb, "go statement at cell[7]:4:3") {
		t.Errorf("traceback does not name the go statement:\n%s", tb)
	}
}

func TestPanicTracebackNamesCell(t *testing.T) {
	s, _, errb := newSession(t)
	if _, err := s.Run(context.Background(), "cell[1]", "func f() {\n\tpanic(\"deep\")\n}"); err != nil {
		t.Fatal(err)
	}
	_, err := s.Run(context.Background(), "cell[2]", "x := 1\nf()")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want *Error", err)
	}
	tb := strings.Join(e.Traceback, "\n")
	if !strings.Contains(tb, "cell[1]:2") || !strings.Contains(tb, "cell[2]:2") {
		t.Errorf("traceback does not name both cells' lines:\n%s", tb)
	}
	if got := errb.take(); strings.Contains(got, "panic") {
		t.Errorf("panic lines leaked to stderr: %q", got)
	}
}

func TestInterrupt(t *testing.T) {
	s, _, _ := newSession(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	_, err := s.Run(ctx, "cell[1]", "n := 0\nfor { n++ }")
	var e *Error
	if !errors.As(err, &e) || e.Name != "Interrupted" {
		t.Fatalf("got %v, want Interrupted", err)
	}
	if res, err := s.Run(context.Background(), "cell[2]", "3"); err != nil || fmt.Sprint(res.Value) != "3" {
		t.Fatalf("after interrupt: %v %v", res.Value, err)
	}
}

func TestContextSeenByCell(t *testing.T) {
	s, _, _ := newSession(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := s.Run(ctx, "cell[1]", "1")
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s.Context() != context.Background() {
		t.Errorf("Context after the cell is not Background")
	}
}

func TestOrphanGoroutinePanic(t *testing.T) {
	got := make(chan *Error, 1)
	var out syncBuffer
	s, err := New(Options{Stdout: &out, Stderr: &out, OnGoPanic: func(e *Error) { got <- e }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(context.Background(), "cell[1]", "import \"time\"\ngo func() { time.Sleep(300 * time.Millisecond); panic(\"late\") }()"); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-got:
		if e.Value != "late" {
			t.Errorf("orphan panic value %q", e.Value)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("orphan goroutine panic was not reported")
	}
}
