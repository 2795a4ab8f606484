package symbols

import (
	"fmt"
	"html"
	"reflect"
	"sort"
	"strings"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/governor"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/passes"
	"github.com/lightiam/lightos/kernel/display"
)

// Renderers give engine objects that have only a String method a rich
// display: graphs (nodes, fused operators highlighted), optimizer reports,
// device info and telemetry, governor metrics. Objects with their own HTML
// method (exec.Profile) need none.
func Renderers() []display.Renderer {
	return []display.Renderer{renderEngine}
}

// maxRows bounds the tables drawn for large graphs and reports.
const maxRows = 60

const tableStyle = `style="border-collapse:collapse;font-family:monospace;font-size:12px"`

func renderEngine(v any) (display.Bundle, bool) {
	switch x := v.(type) {
	case *graph.Graph:
		if x == nil {
			return nil, false
		}
		return display.Bundle{"text/html": graphHTML(x), "text/plain": graphSummary(x)}, true
	case *passes.Report:
		if x == nil {
			return nil, false
		}
		return display.Bundle{"text/html": reportHTML(x), "text/plain": reportSummary(x)}, true
	case backends.Telemetry:
		return display.Bundle{"text/html": fieldsHTML("Telemetry", x), "text/plain": telemetrySummary(x)}, true
	case *backends.Telemetry:
		if x == nil {
			return nil, false
		}
		return display.Bundle{"text/html": fieldsHTML("Telemetry", *x), "text/plain": telemetrySummary(*x)}, true
	case backends.Info:
		return display.Bundle{"text/html": fieldsHTML("Device "+x.String(), x)}, true
	case governor.Metrics:
		return display.Bundle{"text/html": fieldsHTML("Governor metrics ("+x.Policy+")", x), "text/plain": fmt.Sprintf(
			"governor %s: %d/%d jobs completed, %d throttle events, peak %.1f °C, mean %.1f W, %.3g items/s",
			x.Policy, x.Completed, x.Submitted, x.ThrottleEvents, x.PeakTempC, x.MeanPowerW, x.Throughput)}, true
	}
	return nil, false
}

// fused reports whether an operator is one the optimizer produces.
func fused(n *graph.Node) bool {
	return strings.HasPrefix(n.Op, "Fused") || n.Domain == "lightos" || strings.Contains(n.Op, "Attention")
}

func graphSummary(g *graph.Graph) string {
	return fmt.Sprintf("Graph %q: %d nodes, %d inputs, %d outputs, %d initializers",
		g.Name, len(g.Nodes), len(g.Inputs), len(g.Outputs), len(g.Initializers))
}

func values(vs []*graph.Value) string {
	parts := make([]string, 0, len(vs))
	for _, v := range vs {
		if v == nil {
			parts = append(parts, "_")
			continue
		}
		parts = append(parts, html.EscapeString(v.Name))
	}
	return strings.Join(parts, ", ")
}

func graphHTML(g *graph.Graph) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<div><b>Graph %s</b>: %d nodes, %d initializers<br>", html.EscapeString(g.Name), len(g.Nodes), len(g.Initializers))
	fmt.Fprintf(&b, "inputs: %s<br>outputs: %s<br>", valueTypes(g.Inputs), valueTypes(g.Outputs))
	counts := map[string]int{}
	nfused := 0
	for _, n := range g.Nodes {
		counts[n.Op]++
		if fused(n) {
			nfused++
		}
	}
	ops := make([]string, 0, len(counts))
	for op := range counts {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool {
		return counts[ops[i]] > counts[ops[j]] || (counts[ops[i]] == counts[ops[j]] && ops[i] < ops[j])
	})
	parts := make([]string, len(ops))
	for i, op := range ops {
		parts[i] = fmt.Sprintf("%s×%d", html.EscapeString(op), counts[op])
	}
	fmt.Fprintf(&b, "operators: %s; fused nodes: %d</div>", strings.Join(parts, ", "), nfused)
	fmt.Fprintf(&b, "<table %s><tr><th>#</th><th>node</th><th>op</th><th>inputs</th><th>outputs</th></tr>", tableStyle)
	for i, n := range g.Nodes {
		if i == maxRows {
			fmt.Fprintf(&b, "<tr><td colspan=5>… %d more nodes</td></tr>", len(g.Nodes)-maxRows)
			break
		}
		style := ""
		if fused(n) {
			style = ` style="background:#fff3c4"`
		}
		fmt.Fprintf(&b, "<tr%s><td>%d</td><td>%s</td><td><b>%s</b></td><td>%s</td><td>%s</td></tr>",
			style, i, html.EscapeString(n.Name), html.EscapeString(n.Op), values(n.Inputs), values(n.Outputs))
	}
	b.WriteString("</table>")
	return b.String()
}

func valueTypes(vs []*graph.Value) string {
	parts := make([]string, 0, len(vs))
	for _, v := range vs {
		if v != nil {
			parts = append(parts, html.EscapeString(v.Name+": "+v.Type.String()))
		}
	}
	return strings.Join(parts, ", ")
}

func reportSummary(r *passes.Report) string {
	return fmt.Sprintf("Optimizer: %d -> %d nodes, %d rewrites in %d rounds", r.NodesBefore, r.NodesAfter, len(r.Fired), r.Rounds)
}

func reportHTML(r *passes.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<div><b>Optimizer report</b>: %d → %d nodes, %d rewrites in %d rounds</div>",
		r.NodesBefore, r.NodesAfter, len(r.Fired), r.Rounds)
	per := map[string]int{}
	var order []string
	for _, f := range r.Fired {
		if per[f.Pass] == 0 {
			order = append(order, f.Pass)
		}
		per[f.Pass]++
	}
	fmt.Fprintf(&b, "<table %s><tr><th>pass</th><th>rewrites</th></tr>", tableStyle)
	for _, p := range order {
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%d</td></tr>", html.EscapeString(p), per[p])
	}
	b.WriteString("</table>")
	fmt.Fprintf(&b, "<table %s><tr><th>pass</th><th>matched</th><th>produced</th></tr>", tableStyle)
	for i, f := range r.Fired {
		if i == maxRows {
			fmt.Fprintf(&b, "<tr><td colspan=3>… %d more</td></tr>", len(r.Fired)-maxRows)
			break
		}
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td>%s</td></tr>", html.EscapeString(f.Pass),
			html.EscapeString(strings.Join(f.Nodes, ", ")), html.EscapeString(f.Result))
	}
	b.WriteString("</table>")
	return b.String()
}

// fieldsHTML draws a struct's exported fields as a two-column table, with
// Readings shown as their value or "unavailable".
func fieldsHTML(title string, v any) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<div><b>%s</b></div><table %s>", html.EscapeString(title), tableStyle)
	rv := reflect.ValueOf(v)
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		if !f.IsExported() {
			continue
		}
		val := rv.Field(i).Interface()
		text := fmt.Sprint(val)
		if fl, ok := val.(float64); ok {
			text = fmt.Sprintf("%.4g", fl)
		}
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td></tr>", html.EscapeString(f.Name), html.EscapeString(text))
	}
	b.WriteString("</table>")
	return b.String()
}

func telemetrySummary(t backends.Telemetry) string {
	return fmt.Sprintf("temperature %v °C, power %v W (limit %v W), utilization %v, clock %v MHz",
		t.TemperatureC, t.PowerW, t.PowerLimitW, t.Utilization, t.ClockMHz)
}
