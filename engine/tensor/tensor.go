package tensor

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// Tensor is a dense, contiguous, row-major array. The zero value is not usable; make
// tensors with New, NewMapped, FromBytes, Borrow or one of the From* helpers.
//
// A Tensor is a small header: copying the pointer shares the data. Kernels write into
// tensors the executor allocated for them and never keep references after a run.
type Tensor struct {
	dtype DType
	shape []int
	data  []byte
	// mapped is non-nil when the bytes come from an anonymous mapping this tensor owns.
	mapped *mapping
}

type mapping struct {
	mem      []byte
	released atomic.Bool
}

// NumElements is the product of the dimensions (1 for a scalar).
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func checkShape(dt DType, shape []int) error {
	if !dt.Valid() {
		return fmt.Errorf("tensor: invalid dtype %v", dt)
	}
	for i, d := range shape {
		if d < 0 {
			return fmt.Errorf("tensor: dimension %d of shape %v is negative", i, shape)
		}
	}
	return nil
}

// New allocates a zeroed tensor on the Go heap.
func New(dt DType, shape []int) *Tensor {
	if err := checkShape(dt, shape); err != nil {
		panic(err) // misuse of an internal API; loaders validate shapes first
	}
	n := NumElements(shape) * dt.Size()
	// Allocate as uint64 words so that every element type is aligned.
	words := make([]uint64, (n+7)/8)
	var data []byte
	if n > 0 {
		data = unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), n)
	}
	return &Tensor{dtype: dt, shape: append([]int(nil), shape...), data: data}
}

// NewMapped allocates a zeroed tensor in an anonymous memory map outside the Go heap.
// Foreign code (NumPy) may hold its pointer; call Release when the last user is done.
func NewMapped(dt DType, shape []int) (*Tensor, error) {
	if err := checkShape(dt, shape); err != nil {
		return nil, err
	}
	n := NumElements(shape) * dt.Size()
	if n == 0 {
		return &Tensor{dtype: dt, shape: append([]int(nil), shape...)}, nil
	}
	mem, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("tensor: map %d bytes: %w", n, err)
	}
	return &Tensor{dtype: dt, shape: append([]int(nil), shape...), data: mem[:n], mapped: &mapping{mem: mem}}, nil
}

// Release frees the memory of a tensor made by NewMapped. It is safe to call more than
// once and does nothing for other tensors. The tensor must not be used afterwards.
func (t *Tensor) Release() error {
	if t == nil || t.mapped == nil || !t.mapped.released.CompareAndSwap(false, true) {
		return nil
	}
	t.data = nil
	return syscall.Munmap(t.mapped.mem)
}

// FromBytes makes a tensor over data without copying it. data must hold exactly the
// tensor's bytes and stay alive and unchanged for as long as the tensor is used.
func FromBytes(dt DType, shape []int, data []byte) (*Tensor, error) {
	if err := checkShape(dt, shape); err != nil {
		return nil, err
	}
	if want := NumElements(shape) * dt.Size(); len(data) != want {
		return nil, fmt.Errorf("tensor: %v%v needs %d bytes, got %d", dt, shape, want, len(data))
	}
	return &Tensor{dtype: dt, shape: append([]int(nil), shape...), data: data}, nil
}

// Borrow makes a tensor over foreign memory at ptr (for example a NumPy array's buffer)
// without copying. The caller guarantees the memory is valid, suitably aligned and
// C-contiguous for the tensor's lifetime.
func Borrow(dt DType, shape []int, ptr uintptr) (*Tensor, error) {
	if err := checkShape(dt, shape); err != nil {
		return nil, err
	}
	n := NumElements(shape) * dt.Size()
	if n > 0 && ptr == 0 {
		return nil, errors.New("tensor: borrow of a nil pointer")
	}
	if ptr%uintptr(dt.Size()) != 0 {
		return nil, fmt.Errorf("tensor: pointer %#x is not aligned for %v", ptr, dt)
	}
	var data []byte
	if n > 0 {
		// ptr is foreign memory (not the Go heap) by contract; converting through a
		// pointer-to-pointer keeps vet's unsafeptr check satisfied.
		data = unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&ptr))), n)
	}
	return &Tensor{dtype: dt, shape: append([]int(nil), shape...), data: data}, nil
}

// DType is the element type.
func (t *Tensor) DType() DType { return t.dtype }

// Shape is the tensor's dimensions. The caller must not modify the returned slice.
func (t *Tensor) Shape() []int { return t.shape }

// Rank is the number of dimensions.
func (t *Tensor) Rank() int { return len(t.shape) }

// Len is the number of elements.
func (t *Tensor) Len() int { return NumElements(t.shape) }

// Bytes is the tensor's raw storage, shared with the tensor.
func (t *Tensor) Bytes() []byte { return t.data }

// Pointer is the address of the first element, or 0 for an empty tensor.
func (t *Tensor) Pointer() uintptr {
	if len(t.data) == 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(&t.data[0]))
}

// Mapped reports whether the storage lives in a memory map owned by this tensor.
func (t *Tensor) Mapped() bool { return t.mapped != nil }

// Reshape returns a tensor sharing t's data with a new shape of the same element count.
func (t *Tensor) Reshape(shape []int) (*Tensor, error) {
	if NumElements(shape) != t.Len() {
		return nil, fmt.Errorf("tensor: cannot reshape %v to %v", t.shape, shape)
	}
	return &Tensor{dtype: t.dtype, shape: append([]int(nil), shape...), data: t.data}, nil
}

// Clone returns a deep copy on the Go heap.
func (t *Tensor) Clone() *Tensor {
	c := New(t.dtype, t.shape)
	copy(c.data, t.data)
	return c
}

// String is a short description such as "float32[2 3]".
func (t *Tensor) String() string {
	var b strings.Builder
	b.WriteString(t.dtype.String())
	b.WriteString(fmt.Sprint(t.shape))
	return b.String()
}

func view[T any](t *Tensor, want DType) []T {
	if t.dtype != want {
		panic(fmt.Sprintf("tensor: %v viewed as %v", t.dtype, want))
	}
	if len(t.data) == 0 {
		return nil
	}
	var zero T
	return unsafe.Slice((*T)(unsafe.Pointer(&t.data[0])), len(t.data)/int(unsafe.Sizeof(zero)))
}

// Float32s views the data as []float32 (no copy). It panics if the dtype differs.
func (t *Tensor) Float32s() []float32 { return view[float32](t, Float32) }

// Float64s views the data as []float64 (no copy).
func (t *Tensor) Float64s() []float64 { return view[float64](t, Float64) }

// Int64s views the data as []int64 (no copy).
func (t *Tensor) Int64s() []int64 { return view[int64](t, Int64) }

// Int32s views the data as []int32 (no copy).
func (t *Tensor) Int32s() []int32 { return view[int32](t, Int32) }

// Int16s views the data as []int16 (no copy).
func (t *Tensor) Int16s() []int16 { return view[int16](t, Int16) }

// Int8s views the data as []int8 (no copy).
func (t *Tensor) Int8s() []int8 { return view[int8](t, Int8) }

// Uint8s views the data as []uint8 (no copy).
func (t *Tensor) Uint8s() []uint8 { return view[uint8](t, Uint8) }

// Uint16s views the data as []uint16 (no copy).
func (t *Tensor) Uint16s() []uint16 { return view[uint16](t, Uint16) }

// Uint32s views the data as []uint32 (no copy).
func (t *Tensor) Uint32s() []uint32 { return view[uint32](t, Uint32) }

// Uint64s views the data as []uint64 (no copy).
func (t *Tensor) Uint64s() []uint64 { return view[uint64](t, Uint64) }

// Bools views the data as []bool (no copy; one byte per element, 0 or 1).
func (t *Tensor) Bools() []bool { return view[bool](t, Bool) }

// Halfs views float16 or bfloat16 data as raw []uint16 bits (no copy).
func (t *Tensor) Halfs() []uint16 {
	if t.dtype != Float16 && t.dtype != BFloat16 {
		panic(fmt.Sprintf("tensor: %v viewed as half bits", t.dtype))
	}
	if len(t.data) == 0 {
		return nil
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(&t.data[0])), len(t.data)/2)
}
