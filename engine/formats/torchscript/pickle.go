package torchscript

import (
	"bytes"
	"fmt"
	"strings"
	"unsafe"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"

	"github.com/lightiam/lightos/engine/tensor"
)

// object is an unpickled TorchScript module instance: its class's qualified name and
// its attributes (submodules, parameters, buffers, plain values).
type object struct {
	class string
	attrs map[string]any
}

// moduleClass is a "__torch__.*" class found by the unpickler.
type moduleClass struct{ name string }

func (c *moduleClass) PyNew(args ...any) (any, error) {
	return &object{class: c.name, attrs: map[string]any{}}, nil
}

// PySetState receives BUILD's state: the attribute dict.
func (o *object) PySetState(state any) error {
	d, ok := state.(*types.Dict)
	if !ok {
		return fmt.Errorf("module %s: state is %T, expected a dict", o.class, state)
	}
	for _, e := range *d {
		k, ok := e.Key.(string)
		if !ok {
			return fmt.Errorf("module %s: attribute name %v is not a string", o.class, e.Key)
		}
		o.attrs[k] = e.Value
	}
	return nil
}

// storageType is a torch.*Storage class marker.
type storageType struct{ dtype tensor.DType }

var storageTypes = map[string]tensor.DType{
	"FloatStorage": tensor.Float32, "DoubleStorage": tensor.Float64, "HalfStorage": tensor.Float16,
	"BFloat16Storage": tensor.BFloat16, "LongStorage": tensor.Int64, "IntStorage": tensor.Int32,
	"ShortStorage": tensor.Int16, "CharStorage": tensor.Int8, "ByteStorage": tensor.Uint8,
	"BoolStorage": tensor.Bool,
}

// storage is one data/<key> entry with its dtype.
type storage struct {
	dtype tensor.DType
	data  []byte
}

// callable adapts a Go function to pickle's REDUCE.
type callable func(args ...any) (any, error)

func (f callable) Call(args ...any) (any, error) { return f(args...) }

// unpickle decodes one pickle of the archive (data.pkl or constants.pkl); tensors are
// built over the archive's storages (borrowed when contiguous and aligned).
func (a *archive) unpickle(name string) (result any, err error) {
	return a.unpickleWith(name, false)
}

// tensorMeta is a tensor's dtype and shape without data (traced_inputs.pkl holds
// example inputs whose storages are empty).
type tensorMeta struct {
	dtype tensor.DType
	shape []int
}

// unpickleWith decodes a pickle; storages live in the folder named like the pickle
// ("data.pkl" -> "data/"). With metaOnly, tensors become tensorMeta values.
func (a *archive) unpickleWith(name string, metaOnly bool) (result any, err error) {
	raw, err := a.bytes(name)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			result, err = nil, fmt.Errorf("%w: %s: unpickling panicked: %v", ErrFormat, name, r)
		}
	}()
	storages := map[string]*storage{}
	u := pickle.NewUnpickler(bytes.NewReader(raw))
	u.FindClass = func(module, cls string) (any, error) {
		switch {
		case module == "torch._utils" && cls == "_rebuild_tensor_v2":
			if metaOnly {
				return callable(rebuildMeta), nil
			}
			return callable(rebuildTensor), nil
		case module == "torch.jit._pickle":
			return callable(func(args ...any) (any, error) {
				if len(args) == 0 {
					return nil, nil
				}
				return args[0], nil
			}), nil
		case module == "torch._utils" && cls == "_rebuild_parameter":
			return callable(func(args ...any) (any, error) {
				if len(args) < 1 {
					return nil, fmt.Errorf("_rebuild_parameter without a tensor")
				}
				return args[0], nil
			}), nil
		case module == "torch" && storageTypes[cls] != tensor.Invalid:
			return &storageType{dtype: storageTypes[cls]}, nil
		case module == "torch" && cls == "device":
			return callable(func(args ...any) (any, error) { return fmt.Sprint(args...), nil }), nil
		case module == "collections" && cls == "OrderedDict":
			return &types.OrderedDictClass{}, nil
		case len(module) >= 9 && module[:9] == "__torch__":
			return &moduleClass{name: module + "." + cls}, nil
		}
		return nil, fmt.Errorf("unsupported pickled class %s.%s", module, cls)
	}
	u.PersistentLoad = func(pid any) (any, error) {
		t, ok := pid.(*types.Tuple)
		if !ok || t.Len() < 4 {
			return nil, fmt.Errorf("persistent id %v is not a storage tuple", pid)
		}
		st, ok1 := t.Get(1).(*storageType)
		key, ok2 := t.Get(2).(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("persistent id %v is not (storage, type, key, ...)", pid)
		}
		if s, ok := storages[key]; ok {
			return s, nil
		}
		if metaOnly {
			s := &storage{dtype: st.dtype}
			storages[key] = s
			return s, nil
		}
		data, err := a.bytes(strings.TrimSuffix(name, ".pkl") + "/" + key)
		if err != nil {
			return nil, err
		}
		s := &storage{dtype: st.dtype, data: data}
		storages[key] = s
		return s, nil
	}
	v, err := u.Load()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFormat, name, err)
	}
	return v, nil
}

// rebuildTensor implements torch._utils._rebuild_tensor_v2(storage, offset, size,
// stride, requires_grad, hooks[, metadata]).
func rebuildTensor(args ...any) (any, error) {
	if len(args) < 4 {
		return nil, fmt.Errorf("_rebuild_tensor_v2 with %d arguments", len(args))
	}
	s, ok := args[0].(*storage)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor_v2: %T is not a storage", args[0])
	}
	offset, ok := args[1].(int)
	size, ok2 := args[2].(*types.Tuple)
	stride, ok3 := args[3].(*types.Tuple)
	if !ok || !ok2 || !ok3 || size.Len() != stride.Len() || offset < 0 {
		return nil, fmt.Errorf("_rebuild_tensor_v2: bad offset, size or stride")
	}
	shape := make([]int, size.Len())
	strides := make([]int, size.Len())
	for i := range shape {
		d, ok := (*size)[i].(int)
		st, ok2 := (*stride)[i].(int)
		if !ok || !ok2 || d < 0 || st < 0 {
			return nil, fmt.Errorf("_rebuild_tensor_v2: bad size %v or stride %v", size, stride)
		}
		shape[i], strides[i] = d, st
	}
	es := s.dtype.Size()
	n := tensor.NumElements(shape)
	// the furthest element must lie inside the storage
	last := offset
	for i := range shape {
		if shape[i] > 0 {
			last += (shape[i] - 1) * strides[i]
		}
	}
	if n > 0 && (last+1)*es > len(s.data) {
		return nil, fmt.Errorf("tensor %v at offset %d overruns its %d-byte storage", shape, offset, len(s.data))
	}
	contiguous, expect := true, 1
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] != 1 && strides[i] != expect {
			contiguous = false
		}
		expect *= shape[i]
	}
	if n == 0 {
		return tensor.New(s.dtype, shape), nil
	}
	if contiguous {
		b := s.data[offset*es : (offset+n)*es]
		if uintptr(unsafe.Pointer(&b[0]))%uintptr(es) == 0 {
			return tensor.FromBytes(s.dtype, shape, b) // borrowed from the file's map
		}
	}
	t := tensor.New(s.dtype, shape)
	dst := t.Bytes()
	idx := make([]int, len(shape))
	for k := 0; k < n; k++ {
		src := offset
		for i := range idx {
			src += idx[i] * strides[i]
		}
		copy(dst[k*es:(k+1)*es], s.data[src*es:(src+1)*es])
		for i := len(idx) - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < shape[i] {
				break
			}
			idx[i] = 0
		}
	}
	return t, nil
}

// rebuildMeta is rebuildTensor for metaOnly unpickling.
func rebuildMeta(args ...any) (any, error) {
	if len(args) < 3 {
		return nil, fmt.Errorf("_rebuild_tensor_v2 with %d arguments", len(args))
	}
	s, ok := args[0].(*storage)
	size, ok2 := args[2].(*types.Tuple)
	if !ok || !ok2 {
		return nil, fmt.Errorf("_rebuild_tensor_v2: bad storage or size")
	}
	m := &tensorMeta{dtype: s.dtype}
	for _, d := range *size {
		n, ok := d.(int)
		if !ok || n < 0 {
			return nil, fmt.Errorf("_rebuild_tensor_v2: bad size %v", size)
		}
		m.shape = append(m.shape, n)
	}
	return m, nil
}
