package pyext

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

func TestServeStartRejectsBadArguments(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args, specs, kind, msg string
	}{
		{`not json`, ``, KindArgument, "serve arguments"},
		{`["-h"]`, ``, KindArgument, "-model-repository"},
		{`[]`, ``, KindArgument, "--model-repository is required"},
		{`["--model-repository", "` + dir + `", "--devices", "gpu1"]`, ``, KindArgument, "gpu1"},
		{`["--model-repository", "` + dir + `/missing"]`, ``, KindIO, "not a folder"},
		{`["--model-repository", "` + dir + `"]`, `{`, KindArgument, "custom op specs"},
		{`["--model-repository", "` + dir + `"]`, `[{"name": "", "handle": 1}]`, KindArgument, "empty op name"},
		{`["--model-repository", "` + dir + `"]`, `[{"name": "A", "handle": 1, "dtypes": ["float33"]}]`, KindArgument, "float33"},
	}
	for _, tc := range tests {
		h, err := ServeStart(tc.args, tc.specs)
		if kindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ServeStart(%s, %s) = %d, %v; want [%s] ...%s...", tc.args, tc.specs, h, err, tc.kind, tc.msg)
		}
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestServeLifecycle(t *testing.T) {
	port := freePort(t)
	args, _ := json.Marshal([]string{"--model-repository", t.TempDir(), "--host", "127.0.0.1", "--grpc-port", "0", "--http-port", strconv.Itoa(port)})
	h, err := ServeStart(string(args), `[{"name": "MyOp", "handle": 3, "dtypes": ["float32"]}]`)
	if err != nil {
		t.Fatal(err)
	}
	// The same port again: the second server fails at start, the first keeps serving.
	if _, err := ServeStart(string(args), ""); kindOf(err) != KindIO {
		t.Errorf("second server on the same port: %v", err)
	}
	js, err := ServeAddresses(h)
	var addrs map[string]string
	if err != nil || json.Unmarshal([]byte(js), &addrs) != nil || addrs["grpc"] != "" || addrs["http"] != "127.0.0.1:"+strconv.Itoa(port) {
		t.Fatalf("ServeAddresses: %q, %v", js, err)
	}
	resp, err := http.Get("http://" + addrs["http"] + "/v2/health/live")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("live: %d", resp.StatusCode)
	}
	if stopped, err := ServeWait(h, 5); stopped != 0 || err != nil {
		t.Fatalf("ServeWait on a running server: %d, %v", stopped, err)
	}
	g, err := GraphBuild(`{"name": "g"}`)
	if err == nil {
		if err := ServeStop(g); kindOf(err) != KindHandle {
			t.Errorf("ServeStop of a graph handle: %v", err)
		}
		if err := Close(g); err != nil {
			t.Errorf("the graph handle was lost: %v", err)
		}
	}
	if err := ServeStop(h); err != nil {
		t.Fatalf("ServeStop: %v", err)
	}
	if _, err := http.Get("http://" + addrs["http"] + "/v2/health/live"); err == nil {
		t.Error("HTTP still answers after ServeStop")
	}
	if err := ServeStop(h); kindOf(err) != KindHandle {
		t.Errorf("second ServeStop: %v", err)
	}
	if _, err := ServeWait(h, 1); kindOf(err) != KindHandle {
		t.Errorf("ServeWait after stop: %v", err)
	}
}

// TestServeForeignCarriesThePythonMessage stands in for Python's dispatcher: it fails
// the calls of odd handles, filing a message under the call's token as serve.py does.
func TestServeForeignCarriesThePythonMessage(t *testing.T) {
	old := dispatcher.Load()
	t.Cleanup(func() { dispatcher.Store(old) })
	var tokens []int64
	if err := SetDispatcher(func(id int) int {
		token, err := CallToken(id)
		if err != nil || token >= 0 {
			t.Errorf("CallToken(%d) = %d, %v; want a negative token", id, token, err)
			return 1
		}
		tokens = append(tokens, token)
		c, _ := calls.Load(int64(id))
		if c.(*callRec).handle%2 == 1 {
			if err := ServeCallFailed(token, "ValueError: odd handle"); err != nil {
				t.Error(err)
			}
			return 1
		}
		return 0
	}); err != nil {
		t.Fatal(err)
	}
	n := &graph.Node{Name: "n", Op: "MyOp"}
	for _, tc := range []struct {
		handle int64
		msg    string
	}{{2, ""}, {3, "Python ValueError: odd handle"}, {4, ""}, {5, "Python ValueError: odd handle"}} {
		err := pyServeForeign{}.Call(context.Background(), tc.handle, n, nil, nil)
		if (err == nil) != (tc.msg == "") || (err != nil && err.Error() != tc.msg) {
			t.Errorf("handle %d: %v, want %q", tc.handle, err, tc.msg)
		}
	}
	if len(tokens) != 4 || tokens[0] == tokens[1] {
		t.Errorf("tokens %v: want 4 distinct", tokens)
	}
	serveFailures.Range(func(k, v any) bool { t.Errorf("failure %v left behind: %v", k, v); return true })
	if err := ServeCallFailed(5, "x"); kindOf(err) != KindArgument {
		t.Errorf("ServeCallFailed with a positive token: %v", err)
	}
	if _, err := CallToken(-1); kindOf(err) != KindHandle {
		t.Errorf("CallToken of no call: %v", err)
	}
}

func TestDeclareTypes(t *testing.T) {
	x := &graph.Value{Name: "x"}
	mk := func(op string, outs int) *graph.Node {
		n := &graph.Node{Name: op, Op: op, Inputs: []*graph.Value{x}, Attrs: graph.Attrs{ops.CustomAttr: graph.Int(1)}}
		for i := 0; i < outs; i++ {
			n.Outputs = append(n.Outputs, &graph.Value{Name: op + strconv.Itoa(i)})
		}
		return n
	}
	a, b, c := mk("A", 2), mk("B", 1), mk("C", 1)
	delete(c.Attrs, ops.CustomAttr) // not a custom node: untouched
	g := &graph.Graph{Nodes: []*graph.Node{a, b, c}}
	_, byName, err := parseServeSpecs(`[{"name": "A", "handle": 1, "dtypes": ["int64"]}, {"name": "B", "handle": 2, "shapes": ["0.0,3"]}, {"name": "C", "handle": 3, "dtypes": ["float32"]}]`)
	if err != nil {
		t.Fatal(err)
	}
	if err := declareTypes(g, byName); err != nil {
		t.Fatal(err)
	}
	if got := a.Attrs.GetInts(ops.CustomOutDTypes, nil); len(got) != 2 || got[0] != int64(tensor.Int64) || got[1] != int64(tensor.Int64) {
		t.Errorf("A dtypes %v: want int64 for both outputs", got)
	}
	if _, ok := a.Attrs[ops.CustomOutShapes]; ok {
		t.Error("A got shapes it did not declare")
	}
	if _, ok := b.Attrs[ops.CustomOutShapes]; !ok {
		t.Error("B has no shape spec")
	}
	if _, ok := c.Attrs[ops.CustomOutDTypes]; ok {
		t.Error("C is not a custom node but got dtypes")
	}
}
