package pyext

import (
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// foreignInts maps n int64s outside the Go heap, as NumPy memory would be.
func foreignInts(t *testing.T, n int) ([]int64, uintptr) {
	t.Helper()
	p := foreignBytes(t, n*8)
	return unsafe.Slice((*int64)(foreign(p)), n), p
}

// foreignFloats is foreignInts for n float32 values.
func foreignFloats(t *testing.T, n int) ([]float32, uintptr) {
	t.Helper()
	p := foreignBytes(t, n*4)
	return unsafe.Slice((*float32)(foreign(p)), n), p
}

// foreignBytes maps n bytes outside the Go heap, as Python's arrays are, for the
// test's lifetime, and returns their address. (The address of a Go slice passed as
// a uintptr does not keep the slice alive: the garbage collector may free it while
// the engine reads it, and -race's checkptr rejects such a pointer.)
func foreignBytes(t *testing.T, n int) uintptr {
	t.Helper()
	mem, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	return uintptr(unsafe.Pointer(&mem[0]))
}

func kindOf(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if i := strings.Index(s, "]"); strings.HasPrefix(s, "[") && i > 0 {
		return s[1:i]
	}
	return "?"
}

func TestErrorsHaveKinds(t *testing.T) {
	_, err := GraphBuild("{nope")
	if kindOf(err) != KindArgument {
		t.Errorf("bad JSON: %v", err)
	}
	if err := Close(424242); kindOf(err) != KindHandle {
		t.Errorf("unknown handle: %v", err)
	}
	if err := Panic("boom"); kindOf(err) != KindInternal {
		t.Errorf("panic: %v", err)
	}
	if _, err := DeviceOpen("nvidia", 3); kindOf(err) != KindDeviceNotFound {
		t.Errorf("device: %v", err)
	}
	_, err = GraphBuild(`{"inputs":[{"name":"x","dtype":"float32","shape":[2]}],"nodes":[{"op":"Nope","name":"n","inputs":["x"],"outputs":["y"]}]}`)
	if kindOf(err) != KindUnsupported {
		t.Errorf("unknown op: %v", err)
	}
}

func TestBuildRunRelease(t *testing.T) {
	dev, err := DeviceOpen("cpu", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(dev)
	g, err := GraphBuild(`{"name":"t","inputs":[{"name":"x","dtype":"float32","shape":[-1,3]}],
		"nodes":[{"op":"Neg","name":"neg","inputs":["x"],"outputs":["y"]}]}`)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(g)
	s, err := SessionNew(g, dev, "")
	if err != nil {
		t.Fatal(err)
	}
	defer Close(s)
	data, dptr := foreignInts(t, 6) // 2x3 float32 = 24 bytes; the slice is wider than needed
	xs := unsafe.Slice((*float32)(foreign(dptr)), 6)
	for i := range xs {
		xs[i] = float32(i) - 2.5
	}
	_ = data
	m, mptr := foreignInts(t, 4+2*recWidth)
	copy(m, []int64{1, 0, int64(len(m)), 0, 0, int64(dptr), 1, 2, 2, 3})
	before := OpenHandles()
	if err := SessionRun(s, 1, mptr); err != nil {
		t.Fatal(err)
	}
	out := m[4+recWidth:]
	if out[3] != 2 || out[4] != 2 || out[5] != 3 || out[0] == 0 {
		t.Fatalf("output record %v", out[:6])
	}
	ys := unsafe.Slice((*float32)(foreign(uintptr(out[1]))), 6)
	for i := range ys {
		if ys[i] != -xs[i] {
			t.Fatalf("y[%d] = %v, want %v", i, ys[i], -xs[i])
		}
	}
	if err := BufferRelease(out[0]); err != nil {
		t.Fatal(err)
	}
	if OpenHandles() != before {
		t.Errorf("handles: %d before, %d after", before, OpenHandles())
	}
	// Wrong shape, wrong dtype, missing input: each a specific kind.
	m[7], m[9] = 1, 4
	if err := SessionRun(s, 2, mptr); kindOf(err) != KindShape {
		t.Errorf("shape: %v", err)
	}
	m[6], m[9] = 11, 3
	if err := SessionRun(s, 3, mptr); kindOf(err) != KindDType {
		t.Errorf("dtype: %v", err)
	}
	m[0] = 0
	if err := SessionRun(s, 4, mptr); kindOf(err) != KindMissingInput {
		t.Errorf("missing: %v", err)
	}
}
