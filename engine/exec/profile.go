package exec

import (
	"fmt"
	"html"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// NodeTime is one node's measured run.
type NodeTime struct {
	Node     string
	Op       string
	Duration time.Duration
	// OutputShapes are the shapes the node produced in this run.
	OutputShapes [][]int
}

// Profile holds per-node times of one run, in execution order.
type Profile struct {
	mu    sync.Mutex
	Nodes []NodeTime
}

func (p *Profile) add(n *graph.Node, d time.Duration, _ []*tensor.Tensor, outs []*tensor.Tensor) {
	nt := NodeTime{Node: n.Name, Op: n.Op, Duration: d}
	for _, o := range outs {
		if o != nil {
			nt.OutputShapes = append(nt.OutputShapes, o.Shape())
		}
	}
	p.mu.Lock()
	p.Nodes = append(p.Nodes, nt)
	p.mu.Unlock()
}

// Total is the sum of node times.
func (p *Profile) Total() time.Duration {
	var t time.Duration
	for _, n := range p.Nodes {
		t += n.Duration
	}
	return t
}

// ByOp sums the time per operator, largest first.
func (p *Profile) ByOp() []NodeTime {
	m := map[string]time.Duration{}
	for _, n := range p.Nodes {
		m[n.Op] += n.Duration
	}
	out := make([]NodeTime, 0, len(m))
	for op, d := range m {
		out = append(out, NodeTime{Op: op, Duration: d})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Duration > out[j].Duration })
	return out
}

// String is a plain-text table of node times.
func (p *Profile) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-32s %-20s %12s\n", "node", "op", "time")
	for _, n := range p.Nodes {
		fmt.Fprintf(&b, "%-32s %-20s %12v\n", n.Node, n.Op, n.Duration)
	}
	fmt.Fprintf(&b, "%-32s %-20s %12v\n", "total", "", p.Total())
	return b.String()
}

// HTML renders the profile as a table, for notebooks.
func (p *Profile) HTML() string {
	var b strings.Builder
	total := p.Total()
	b.WriteString("<table><tr><th>node</th><th>op</th><th>time</th><th>share</th></tr>")
	for _, n := range p.Nodes {
		share := 0.0
		if total > 0 {
			share = 100 * float64(n.Duration) / float64(total)
		}
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td>%v</td><td>%.1f%%</td></tr>", html.EscapeString(n.Node), html.EscapeString(n.Op), n.Duration, share)
	}
	fmt.Fprintf(&b, "<tr><td><b>total</b></td><td></td><td>%v</td><td></td></tr></table>", total)
	return b.String()
}
