package pyext

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/lightiam/lightos/engine/custom"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// The Python dispatcher: set once by the Python module (which keeps the callable alive
// in a module global, since gopy keeps no reference of its own).
var dispatcher atomic.Pointer[func(int) int]

// SetDispatcher installs the Python function that runs custom ops. It is called with a
// call id, must never raise, and returns 0 on success or nonzero when the custom
// function raised (Python keeps the exception and re-raises it after the run).
func SetDispatcher(fn func(int) int) (err error) {
	defer guard(&err)
	if fn == nil {
		return kerr(KindArgument, "SetDispatcher: nil function")
	}
	dispatcher.Store(&fn)
	return nil
}

type tokenKey struct{}

type callRec struct {
	handle   int64
	token    int64
	node     string
	op       string
	ins, out []*tensor.Tensor
}

var calls sync.Map // call id (int64) -> *callRec

var callSeq atomic.Int64

type pyForeign struct{}

var _ custom.Foreign = pyForeign{}

func (pyForeign) Call(ctx context.Context, handle int64, n *graph.Node, ins, outs []*tensor.Tensor) error {
	fn := dispatcher.Load()
	if fn == nil {
		return fmt.Errorf("no Python dispatcher installed")
	}
	token, _ := ctx.Value(tokenKey{}).(int64)
	id := callSeq.Add(1)
	calls.Store(id, &callRec{handle: handle, token: token, node: n.Name, op: n.Op, ins: ins, out: outs})
	defer calls.Delete(id)
	// gopy's callback takes the GIL and calls Python in several cgo calls; they must
	// all happen on one OS thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if rc := (*fn)(int(id)); rc != 0 {
		return fmt.Errorf("the Python function raised (run %d)", token)
	}
	return nil
}

const recWidth = 12 // index|handle, ptr, dtype, rank, 8 dims
const maxRank = 8

func writeTensor(rec []int64, lead int64, t *tensor.Tensor) error {
	if t.Rank() > maxRank {
		return kerr(KindShape, "tensor %v has rank %d; the Python bridge handles rank <= %d", t, t.Rank(), maxRank)
	}
	rec[0], rec[1], rec[2], rec[3] = lead, int64(t.Pointer()), int64(t.DType()), int64(t.Rank())
	for i, d := range t.Shape() {
		rec[4+i] = int64(d)
	}
	return nil
}

// CallDescribe fills meta (an int64 array of capacity cap at address meta) for
// custom-op call id: [handle, token, nIn, nOut], then one record of recWidth per input
// and per output: [0, ptr, dtype, rank, dims...]. It returns the node's name and op
// as "node\nop" (gopy passes strings as C strings: no NUL inside).
func CallDescribe(id int, meta uintptr, capacity int) (s string, err error) {
	defer guard(&err)
	v, ok := calls.Load(int64(id))
	if !ok {
		return "", kerr(KindHandle, "custom-op call %d is not in progress", id)
	}
	c := v.(*callRec)
	need := 4 + recWidth*(len(c.ins)+len(c.out))
	if meta == 0 || capacity < need {
		return "", kerr(KindArgument, "call %d: metadata buffer holds %d values, needs %d", id, capacity, need)
	}
	m := unsafe.Slice((*int64)(foreign(meta)), need)
	m[0], m[1], m[2], m[3] = c.handle, c.token, int64(len(c.ins)), int64(len(c.out))
	off := 4
	for _, t := range append(append([]*tensor.Tensor{}, c.ins...), c.out...) {
		if t == nil {
			m[off+3] = -1 // omitted
			off += recWidth
			continue
		}
		if err := writeTensor(m[off:off+recWidth], 0, t); err != nil {
			return "", err
		}
		off += recWidth
	}
	return c.node + "\n" + c.op, nil
}

// parseCustomSpec reads "name=handle,name=handle" into a registry of Python ops.
func parseCustomSpec(spec string) (*custom.Registry, error) {
	reg := custom.NewRegistry()
	if spec == "" {
		return reg, nil
	}
	for _, item := range strings.Split(spec, ",") {
		name, hs, ok := strings.Cut(item, "=")
		var h int64
		if _, err := fmt.Sscan(hs, &h); !ok || err != nil {
			return nil, kerr(KindArgument, "custom op spec %q: want name=handle", item)
		}
		if err := reg.Register(custom.Op{Name: name, Foreign: pyForeign{}, Handle: h}); err != nil {
			return nil, kerr(KindArgument, "%v", err)
		}
	}
	return reg, nil
}
