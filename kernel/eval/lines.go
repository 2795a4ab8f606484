package eval

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// fileName is the file name every run is parsed under. yaegi scopes imports
// by the (line-directive adjusted) file name of a position, so all runs must
// share one name for an import in one cell to be seen by the next. Each run
// gets its own range of virtual lines in that file instead, and lineMap turns
// virtual positions back into cell positions in messages.
const fileName = "notebook.go"

type span struct {
	start, end int // virtual lines [start, end)
	cell       string
	line       int // the cell line of virtual line start
}

// lineMap assigns virtual line ranges to runs and maps them back.
type lineMap struct {
	mu    sync.Mutex
	next  int
	spans []span
}

// directive returns the /*line*/ comment that places run r at a fresh range of
// virtual lines, and remembers the range as belonging to cell.
func (m *lineMap) directive(cell string, r Run) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.next == 0 {
		m.next = 1
	}
	n := strings.Count(r.Text, "\n") + 1
	sp := span{start: m.next, end: m.next + n, cell: cell, line: r.Line}
	m.spans = append(m.spans, sp)
	m.next += n + 1
	return fmt.Sprintf("/*line %s:%d:%d*/", fileName, sp.start, r.Col)
}

var virtualPos = regexp.MustCompile(regexp.QuoteMeta(fileName) + `:(\d+)(:\d+)?`)

// translate rewrites "notebook.go:L:C" positions in text to "cell[N]:l:C".
func (m *lineMap) translate(text string) string {
	if !strings.Contains(text, fileName) {
		return text
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return virtualPos.ReplaceAllStringFunc(text, func(pos string) string {
		sub := virtualPos.FindStringSubmatch(pos)
		vl, err := strconv.Atoi(sub[1])
		if err != nil {
			return pos
		}
		i := sort.Search(len(m.spans), func(i int) bool { return m.spans[i].end > vl })
		if i == len(m.spans) || m.spans[i].start > vl {
			return pos
		}
		sp := m.spans[i]
		return fmt.Sprintf("%s:%d%s", sp.cell, sp.line+vl-sp.start, sub[2])
	})
}
