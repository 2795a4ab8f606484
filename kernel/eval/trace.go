package eval

import (
	"io"
	"strings"
	"sync"
)

// traceWriter is the interpreter's stderr. yaegi writes one line per frame a
// panic unwinds through ("cell[2]:3:5: panic: main.f(...)"); those lines are
// kept as the traceback of the error the cell reports instead of leaking to the
// notebook. Everything else (the log package's output) goes to out.
type traceWriter struct {
	out io.Writer

	mu    sync.Mutex
	lines []string
}

const panicMark = ": panic: "

func (w *traceWriter) Write(p []byte) (int, error) {
	text := string(p)
	if i := strings.Index(text, panicMark); i > 0 && strings.HasSuffix(strings.TrimSpace(text), "(...)") &&
		!strings.Contains(strings.TrimSpace(text), "\n") {
		pos := text[:i]
		fn := strings.TrimSuffix(strings.TrimSpace(text[i+len(panicMark):]), "(...)")
		w.mu.Lock()
		w.lines = append(w.lines, fn+" ("+pos+")")
		w.mu.Unlock()
		return len(p), nil
	}
	return w.out.Write(p)
}

// take returns and forgets the frames collected so far.
func (w *traceWriter) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.lines
	w.lines = nil
	return l
}
