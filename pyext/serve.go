package pyext

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lightiam/lightos/engine/custom"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
	"github.com/lightiam/lightos/server"
)

// Serving from Python (`python -m lightos_accelerated.serve`): the same server as
// `lightos serve` (server.ParseFlags, NewStandard, Run), run inside the Python process
// so that custom nodes call Python functions. ServeStart returns once the ports are
// open; Go serves on its own goroutines while Python waits with the GIL released
// (ServeWait) and stops it (ServeStop) when a signal arrives.

// serveSpec is one Python custom op as ServeStart receives it (JSON).
type serveSpec struct {
	Name   string   `json:"name"`
	Handle int64    `json:"handle"`
	DTypes []string `json:"dtypes"` // output dtype names (one: for every output), or empty for the defaults
	Shapes []string `json:"shapes"` // output shape specs (engine/ops/custom.go), or empty
}

type serveObj struct {
	cancel  context.CancelFunc
	done    chan struct{} // closed when Run has returned
	err     error         // Run's error, set before done closes
	release func()
	addrs   string
	once    sync.Once
}

// stop asks the server to drain and waits for it.
func (s *serveObj) stop() error {
	s.cancel()
	<-s.done
	s.once.Do(s.release)
	return s.err
}

func (s *serveObj) close() error { return s.stop() }

// Tokens of custom-op calls made by served requests: negative, so that they never
// meet the positive run tokens of Python's execute().
var serveTokens atomic.Int64

// serveFailures holds, per token, the message of a Python exception raised by a
// custom op in a served request (stored by ServeCallFailed, taken by the caller).
var serveFailures sync.Map

// pyServeForeign runs Python custom ops for the server: each call gets its own token,
// so that a failure's Python message reaches the client's error.
type pyServeForeign struct{}

var _ custom.Foreign = pyServeForeign{}

func (pyServeForeign) Call(ctx context.Context, handle int64, n *graph.Node, ins, outs []*tensor.Tensor) error {
	token := -serveTokens.Add(1)
	err := pyForeign{}.Call(context.WithValue(ctx, tokenKey{}, token), handle, n, ins, outs)
	if msg, ok := serveFailures.LoadAndDelete(token); ok {
		return fmt.Errorf("Python %s", msg.(string))
	}
	return err
}

// CallToken returns the run token of custom-op call id (for the Python dispatcher,
// which files its exceptions by token).
func CallToken(id int) (token int64, err error) {
	defer guard(&err)
	v, ok := calls.Load(int64(id))
	if !ok {
		return 0, kerr(KindHandle, "custom-op call %d is not in progress", id)
	}
	return v.(*callRec).token, nil
}

// ServeCallFailed records the message of the exception a custom op raised during a
// served request (token < 0, from CallToken); the request fails with it.
func ServeCallFailed(token int64, msg string) (err error) {
	defer guard(&err)
	if token >= 0 {
		return kerr(KindArgument, "ServeCallFailed: token %d is not a served request's", token)
	}
	serveFailures.Store(token, msg)
	return nil
}

// parseServeSpecs builds the registry and the output-type declarations of the
// Python custom ops.
func parseServeSpecs(specJSON string) (*custom.Registry, map[string]serveSpec, error) {
	reg := custom.NewRegistry()
	byName := map[string]serveSpec{}
	if specJSON == "" {
		return reg, byName, nil
	}
	var specs []serveSpec
	if err := json.Unmarshal([]byte(specJSON), &specs); err != nil {
		return nil, nil, kerr(KindArgument, "custom op specs: %v", err)
	}
	for _, s := range specs {
		if err := reg.Register(custom.Op{Name: s.Name, Foreign: pyServeForeign{}, Handle: s.Handle}); err != nil {
			return nil, nil, kerr(KindArgument, "%v", err)
		}
		for _, d := range s.DTypes {
			if _, err := parseDType(d); err != nil {
				return nil, nil, kerr(KindArgument, "custom op %q: %v", s.Name, err)
			}
		}
		byName[s.Name] = s
	}
	return reg, byName, nil
}

// declareTypes sets the declared output types of g's custom nodes whose Python op
// gave them (as GraphSetCustomTypes does for ModelLoader).
func declareTypes(g *graph.Graph, byName map[string]serveSpec) error {
	for _, n := range g.Nodes {
		s, ok := byName[n.Op]
		if !ok || !ops.IsCustom(n) {
			continue
		}
		if n.Attrs == nil {
			n.Attrs = graph.Attrs{}
		}
		if len(s.DTypes) > 0 {
			dts := make([]int64, len(s.DTypes))
			for i, d := range s.DTypes {
				dt, err := parseDType(d)
				if err != nil {
					return fmt.Errorf("custom op %q: %w", s.Name, err)
				}
				dts[i] = int64(dt)
			}
			if len(dts) == 1 && len(n.Outputs) > 1 { // one dtype for every output
				for len(dts) < len(n.Outputs) {
					dts = append(dts, dts[0])
				}
			}
			n.Attrs[ops.CustomOutDTypes] = graph.Ints(dts...)
		}
		if len(s.Shapes) > 0 {
			n.Attrs[ops.CustomOutShapes] = graph.Strings(s.Shapes...)
		}
	}
	return nil
}

// ServeStart starts the server of `lightos serve` in this process. argsJSON is the
// JSON list of its command-line arguments (--grpc-port, --http-port, --host,
// --devices, --model-repository, --threads, --drain-timeout); specJSON lists the
// Python custom ops as [{"name", "handle", "dtypes", "shapes"}]. It loads the
// repository's models (a model that fails to load is logged and skipped, as in
// `lightos serve`), opens the ports and returns a handle once they are open; "-h"
// gives an ArgumentError holding the usage text.
func ServeStart(argsJSON, specJSON string) (h int64, err error) {
	defer guard(&err)
	var args []string
	if err := json.Unmarshal([]byte(argsJSON), &args); err != nil {
		return 0, kerr(KindArgument, "serve arguments: %v", err)
	}
	var usage bytes.Buffer
	f, err := server.ParseFlags("python -m lightos_accelerated.serve", args, &usage)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, kerr(KindArgument, "%s", usage.String())
		}
		return 0, kerr(KindArgument, "%v", err)
	}
	if st, err := os.Stat(f.ModelRepository); err != nil || !st.IsDir() {
		return 0, kerr(KindIO, "--model-repository %q is not a folder", f.ModelRepository)
	}
	reg, byName, err := parseServeSpecs(specJSON)
	if err != nil {
		return 0, err
	}
	ext := server.Extensions{Custom: reg, Logger: log.New(os.Stderr, "", log.LstdFlags)}
	if len(byName) > 0 {
		ext.AfterLoad = func(g *graph.Graph) error { return declareTypes(g, byName) }
	}
	srv, release, err := server.NewStandard(f, ext)
	if err != nil {
		return 0, kerr(KindInternal, "%v", err)
	}
	if err := srv.LoadAll(); err != nil {
		ext.Logger.Printf("lightos serve: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	so := &serveObj{cancel: cancel, done: make(chan struct{}), release: release}
	ready := make(chan string, 1)
	ro := f.RunOptions()
	ro.Ready = func(ga, ha net.Addr) {
		ready <- fmt.Sprintf(`{"grpc": %q, "http": %q}`, addrString(ga), addrString(ha))
	}
	go func() {
		defer close(so.done)
		defer func() {
			if r := recover(); r != nil {
				so.err = kerr(KindInternal, "server panicked: %v", r)
			}
		}()
		so.err = server.Run(ctx, srv, ro)
	}()
	select {
	case so.addrs = <-ready:
		return put(so), nil
	case <-so.done:
		cancel()
		release()
		return 0, kerr(KindIO, "%v", so.err)
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// ServeAddresses returns the listening addresses of server h as JSON:
// {"grpc": "host:port", "http": "host:port"} ("" for a disabled protocol).
func ServeAddresses(h int64) (s string, err error) {
	defer guard(&err)
	so, err := get[*serveObj](h, "server")
	if err != nil {
		return "", err
	}
	return so.addrs, nil
}

// ServeWait waits up to ms milliseconds for server h to stop by itself (a listener
// failed); it returns 1 when it has stopped (with its error, if any), 0 otherwise.
// Python waits in short slices so that its signal handlers run in between.
func ServeWait(h int64, ms int) (stopped int, err error) {
	defer guard(&err)
	so, err := get[*serveObj](h, "server")
	if err != nil {
		return 0, err
	}
	t := time.NewTimer(time.Duration(max(ms, 0)) * time.Millisecond)
	defer t.Stop()
	select {
	case <-so.done:
		if so.err != nil {
			return 1, kerr(KindIO, "%v", so.err)
		}
		return 1, nil
	case <-t.C:
		return 0, nil
	}
}

// ServeStop stops server h: it stops taking requests, drains those in flight (up to
// --drain-timeout), closes the ports and releases the device. Stopping twice is an
// InvalidHandle error.
func ServeStop(h int64) (err error) {
	defer guard(&err)
	so, err := get[*serveObj](h, "server")
	if err != nil {
		return err
	}
	drop(h)
	if err := so.stop(); err != nil {
		return kerr(KindIO, "%v", err)
	}
	return nil
}
