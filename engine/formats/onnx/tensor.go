package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/lightiam/lightos/engine/tensor"
)

// onnxTypeNames names ONNX element types the engine has no DType for, for errors.
var onnxTypeNames = map[int32]string{
	8: "string", 14: "complex64", 15: "complex128", 17: "float8e4m3fn", 18: "float8e4m3fnuz",
	19: "float8e5m2", 20: "float8e5m2fnuz", 21: "uint4", 22: "int4", 23: "float4e2m1", 24: "float8e8m0",
	25: "uint2", 26: "int2",
}

// dtypeOf maps an ONNX TensorProto.DataType to the engine's DType (same numbering).
func dtypeOf(onnxType int32) (tensor.DType, error) {
	dt := tensor.DType(onnxType)
	if onnxType > 0 && dt.Valid() {
		return dt, nil
	}
	if name, ok := onnxTypeNames[onnxType]; ok {
		return tensor.Invalid, fmt.Errorf("%w: element type %s", ErrUnsupported, name)
	}
	if onnxType > 16 && onnxType < 64 { // a type newer than this loader
		return tensor.Invalid, fmt.Errorf("%w: element type %d", ErrUnsupported, onnxType)
	}
	return tensor.Invalid, fmt.Errorf("%w: unknown element type %d", ErrFormat, onnxType)
}

// maxSparseDense bounds the element count of a sparse initializer made dense (2^30):
// its dims, unlike a dense tensor's, are not backed by bytes in the file.
const maxSparseDense = 1 << 30

// maxElements bounds the element count of a tensor a file may declare (2^40), so a
// corrupt header cannot ask for an absurd allocation.
const maxElements = 1 << 40

func shapeOf(dims []int64) ([]int, int, error) {
	shape := make([]int, len(dims))
	n := 1
	for i, d := range dims {
		if d < 0 {
			return nil, 0, fmt.Errorf("%w: dimension %d is negative (%d)", ErrFormat, i, d)
		}
		hi, lo := bits.Mul64(uint64(n), uint64(d))
		if hi != 0 || lo > maxElements {
			return nil, 0, fmt.Errorf("%w: dims %v hold too many elements", ErrFormat, dims)
		}
		n = int(lo)
		shape[i] = int(d)
	}
	return shape, n, nil
}

// externalStore opens external data files once per load and keeps them: small files
// are read into memory, large ones are mapped (and stay mapped while the store lives).
type externalStore struct {
	dir   string
	noMap bool // read every file into memory (for Decode, which has no Close)
	mu    sync.Mutex
	files map[string][]byte
	maps  [][]byte
}

const mapThreshold = 16 << 20

func (s *externalStore) file(location string) ([]byte, error) {
	if s == nil || s.dir == "" {
		return nil, fmt.Errorf("%w: external data %q but no model directory is known", ErrFormat, location)
	}
	clean := filepath.Clean(filepath.FromSlash(location))
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return nil, fmt.Errorf("%w: external data location %q lies outside the model directory", ErrFormat, location)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.files[clean]; ok {
		return b, nil
	}
	b, m, err := readOrMap(filepath.Join(s.dir, clean), s.noMap)
	if err != nil {
		return nil, fmt.Errorf("onnx: external data: %w", err)
	}
	if s.files == nil {
		s.files = map[string][]byte{}
	}
	s.files[clean] = b
	if m {
		s.maps = append(s.maps, b)
	}
	return b, nil
}

func (s *externalStore) close() error {
	if s == nil {
		return nil
	}
	var first error
	for _, m := range s.maps {
		if err := syscall.Munmap(m); err != nil && first == nil {
			first = err
		}
	}
	s.maps = nil
	return first
}

// readOrMap reads a small file into memory or maps a large one read-only.
func readOrMap(path string, noMap bool) (data []byte, mapped bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	if noMap || st.Size() < mapThreshold {
		b, err := os.ReadFile(path)
		return b, false, err
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, false, fmt.Errorf("map %s: %w", path, err)
	}
	return b, true, nil
}

// toTensor converts a decoded TensorProto. raw_data and packed float/double data are
// borrowed from the input bytes without copying.
func (tp *tensorProto) toTensor(ext *externalStore) (*tensor.Tensor, error) {
	if tp.segment {
		return nil, fmt.Errorf("%w: tensor %q is segmented", ErrUnsupported, tp.name)
	}
	dt, err := dtypeOf(tp.dataType)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", tp.name, err)
	}
	shape, n, err := shapeOf(tp.dims)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", tp.name, err)
	}
	size := n * dt.Size()
	wrap := func(b []byte) (*tensor.Tensor, error) {
		if len(b) != size {
			return nil, fmt.Errorf("%w: tensor %q: %v%v needs %d bytes of data, found %d", ErrFormat, tp.name, dt, shape, size, len(b))
		}
		return tensor.FromBytes(dt, shape, b)
	}
	if tp.location == 1 {
		return tp.fromExternal(ext, dt, shape, size)
	}
	if tp.hasRaw {
		return wrap(tp.raw)
	}
	switch dt {
	case tensor.Float32:
		if len(tp.floats) > 0 || n == 0 {
			return wrap(tp.floats)
		}
	case tensor.Float64:
		if len(tp.doubles) > 0 || n == 0 {
			return wrap(tp.doubles)
		}
	}
	var src []int64
	switch dt {
	case tensor.Int64:
		src = tp.int64s
	case tensor.Uint32, tensor.Uint64:
		src = tp.uint64s
	case tensor.Int32, tensor.Int16, tensor.Int8, tensor.Uint16, tensor.Uint8, tensor.Bool, tensor.Float16, tensor.BFloat16:
		src = tp.int32s
	}
	if len(src) != n {
		return nil, fmt.Errorf("%w: tensor %q: %v%v needs %d values, found %d", ErrFormat, tp.name, dt, shape, n, len(src))
	}
	t := tensor.New(dt, shape)
	b := t.Bytes()
	w := dt.Size()
	for i, v := range src {
		switch w {
		case 1:
			b[i] = byte(v)
		case 2:
			binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
		case 4:
			binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
		case 8:
			binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
		}
	}
	if dt == tensor.Bool {
		for i := range b {
			if b[i] != 0 {
				b[i] = 1
			}
		}
	}
	return t, nil
}

func (tp *tensorProto) fromExternal(ext *externalStore, dt tensor.DType, shape []int, size int) (*tensor.Tensor, error) {
	var location string
	offset, length := int64(0), int64(-1)
	for _, e := range tp.external {
		var err error
		switch e.key {
		case "location":
			location = e.value
		case "offset":
			offset, err = strconv.ParseInt(e.value, 10, 64)
		case "length":
			length, err = strconv.ParseInt(e.value, 10, 64)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: tensor %q: external_data %s=%q: %v", ErrFormat, tp.name, e.key, e.value, err)
		}
	}
	if location == "" {
		return nil, fmt.Errorf("%w: tensor %q: external data without a location", ErrFormat, tp.name)
	}
	file, err := ext.file(location)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", tp.name, err)
	}
	if length < 0 {
		length = int64(len(file)) - offset
	}
	if offset < 0 || length < 0 || offset > int64(len(file)) || length > int64(len(file))-offset {
		return nil, fmt.Errorf("%w: tensor %q: external range [%d, +%d) outside %q (%d bytes)", ErrFormat, tp.name, offset, length, location, len(file))
	}
	if length != int64(size) {
		return nil, fmt.Errorf("%w: tensor %q: %v%v needs %d bytes, external data has %d", ErrFormat, tp.name, dt, shape, size, length)
	}
	return tensor.FromBytes(dt, shape, file[offset:offset+length])
}

// DecodeTensor decodes a serialized TensorProto (an input_N.pb file of the ONNX test
// data, for example) and returns its name and data. The tensor borrows from data.
func DecodeTensor(data []byte) (string, *tensor.Tensor, error) {
	tp, err := decodeTensorProto(data)
	if err != nil {
		return "", nil, err
	}
	t, err := tp.toTensor(nil)
	if err != nil {
		return tp.name, nil, err
	}
	return tp.name, t, nil
}

// sparseToDense converts a SparseTensorProto to a dense tensor (zeros elsewhere).
func sparseToDense(b []byte, ext *externalStore) (string, *tensor.Tensor, error) {
	sp, err := decodeSparse(b)
	if err != nil {
		return "", nil, err
	}
	vp, err := decodeTensorProto(sp.values)
	if err != nil {
		return "", nil, err
	}
	ip, err := decodeTensorProto(sp.indices)
	if err != nil {
		return vp.name, nil, err
	}
	values, err := vp.toTensor(ext)
	if err != nil {
		return vp.name, nil, err
	}
	indices, err := ip.toTensor(ext)
	if err != nil {
		return vp.name, nil, err
	}
	shape, n, err := shapeOf(sp.dims)
	if err != nil {
		return vp.name, nil, fmt.Errorf("sparse tensor %q: %w", vp.name, err)
	}
	if n > maxSparseDense {
		return vp.name, nil, fmt.Errorf("%w: sparse tensor %q: dims %v are too large to densify (%d elements, limit %d)", ErrUnsupported, vp.name, sp.dims, n, maxSparseDense)
	}
	if indices.DType() != tensor.Int64 {
		return vp.name, nil, fmt.Errorf("%w: sparse tensor %q: indices are %v, not int64", ErrFormat, vp.name, indices.DType())
	}
	nnz := values.Len()
	if values.Rank() != 1 {
		return vp.name, nil, fmt.Errorf("%w: sparse tensor %q: values have rank %d, not 1", ErrFormat, vp.name, values.Rank())
	}
	idx := indices.Int64s()
	linear := make([]int64, nnz)
	switch {
	case indices.Rank() == 1 && indices.Len() == nnz:
		copy(linear, idx)
	case indices.Rank() == 2 && indices.Shape()[0] == nnz && indices.Shape()[1] == len(shape):
		r := len(shape)
		for i := 0; i < nnz; i++ {
			var l int64
			for d := 0; d < r; d++ {
				c := idx[i*r+d]
				if c < 0 || c >= int64(shape[d]) {
					return vp.name, nil, fmt.Errorf("%w: sparse tensor %q: index %d out of range for dims %v", ErrFormat, vp.name, c, shape)
				}
				l = l*int64(shape[d]) + c
			}
			linear[i] = l
		}
	default:
		return vp.name, nil, fmt.Errorf("%w: sparse tensor %q: indices shape %v does not fit %d values of rank %d", ErrFormat, vp.name, indices.Shape(), nnz, len(shape))
	}
	out := tensor.New(values.DType(), shape)
	w := values.DType().Size()
	src, dst := values.Bytes(), out.Bytes()
	for i, l := range linear {
		if l < 0 || l >= int64(n) {
			return vp.name, nil, fmt.Errorf("%w: sparse tensor %q: index %d out of range (%d elements)", ErrFormat, vp.name, l, n)
		}
		copy(dst[int(l)*w:int(l+1)*w], src[i*w:(i+1)*w])
	}
	return vp.name, out, nil
}

var _ = math.Float32bits
