package pyext

import (
	"fmt"
	"runtime/debug"
	"sync"
	"unsafe"
)

type handleTable struct {
	mu   sync.Mutex
	next int64
	m    map[int64]any
}

var handles = handleTable{next: 1, m: map[int64]any{}}

func put(v any) int64 {
	handles.mu.Lock()
	defer handles.mu.Unlock()
	h := handles.next
	handles.next++
	handles.m[h] = v
	return h
}

func get[T any](h int64, what string) (T, error) {
	handles.mu.Lock()
	v, ok := handles.m[h]
	handles.mu.Unlock()
	var zero T
	if !ok {
		return zero, kerr(KindHandle, "%s handle %d is not open (closed or never made)", what, h)
	}
	t, ok := v.(T)
	if !ok {
		return zero, kerr(KindHandle, "handle %d is a %T, not a %s", h, v, what)
	}
	return t, nil
}

func drop(h int64) (any, bool) {
	handles.mu.Lock()
	defer handles.mu.Unlock()
	v, ok := handles.m[h]
	delete(handles.m, h)
	return v, ok
}

type closer interface{ close() error }

// Close releases the object behind handle h (graph, session, device, job). Closing a
// handle twice is an error of kind InvalidHandle, never a crash.
func Close(h int64) (err error) {
	defer guard(&err)
	v, ok := drop(h)
	if !ok {
		return kerr(KindHandle, "handle %d is not open", h)
	}
	if c, ok := v.(closer); ok {
		return c.close()
	}
	return nil
}

// OpenHandles is the number of live handles (for leak tests).
func OpenHandles() int {
	handles.mu.Lock()
	defer handles.mu.Unlock()
	return len(handles.m)
}

// guard turns a panic into an error of kind Internal; every exported function defers it.
func guard(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("[%s] Go panic: %v\n%s", KindInternal, r, debug.Stack())
	}
}

// foreign turns the address of foreign (NumPy) memory into a pointer. The memory is not
// Go's, so the garbage collector neither moves nor frees it; the caller keeps it alive
// for the duration of the call.
func foreign(addr uintptr) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(&addr))
}

// unsafeInts views n int64 values of foreign memory at addr.
func unsafeInts(addr uintptr, n int) []int64 {
	return unsafe.Slice((*int64)(foreign(addr)), n)
}
