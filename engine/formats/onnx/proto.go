package onnx

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// The messages of onnx.proto the loader reads, decoded by hand with protowire so that
// byte payloads (raw_data) stay sub-slices of the file and files over 2 GB work.
// Field numbers follow onnx/onnx.proto (IR version 11).

type opsetID struct {
	domain  string
	version int64
}

type modelProto struct {
	irVersion int64
	opsets    []opsetID
	producer  string
	graph     []byte // GraphProto, decoded later
	functions [][]byte
}

type kv struct{ key, value string }

type tensorProto struct {
	name     string
	dims     []int64
	dataType int32
	raw      []byte
	hasRaw   bool
	floats   []byte // float_data as little-endian bytes
	doubles  []byte // double_data as little-endian bytes
	int32s   []int64
	int64s   []int64
	uint64s  []int64
	strings  [][]byte
	external []kv
	location int64
	segment  bool
}

type sparseProto struct {
	values, indices []byte
	dims            []int64
}

type dimProto struct {
	value    int64
	param    string
	hasValue bool
}

// typeProto is a TypeProto; kind names the oneof that is set.
type typeProto struct {
	kind     string // "tensor", "sparse_tensor", "sequence", "map", "optional", "" (absent)
	elemType int32
	hasShape bool
	dims     []dimProto
}

type valueInfo struct {
	name string
	typ  typeProto
}

type attrProto struct {
	name      string
	refName   string
	typ       int64
	f         float32
	i         int64
	s         []byte
	t         []byte
	g         []byte
	sparse    []byte
	tp        []byte
	floats    []float32
	ints      []int64
	strings   [][]byte
	tensors   [][]byte
	graphs    [][]byte
	typeProto [][]byte
	has       map[protowire.Number]bool
}

type nodeProto struct {
	name, op, domain string
	inputs, outputs  []string
	attrs            []attrProto
}

type graphProto struct {
	name         string
	nodes        []nodeProto
	initializers [][]byte
	sparse       [][]byte
	inputs       []valueInfo
	outputs      []valueInfo
	valueInfo    []valueInfo
}

type functionProto struct {
	name, domain, overload string
	inputs, outputs        []string
	attrNames              []string
	attrDefaults           []attrProto
	nodes                  []nodeProto
	opsets                 []opsetID
}

func decodeModel(b []byte) (*modelProto, error) {
	m := &modelProto{}
	err := each(b, "ModelProto", func(f field) error {
		var err error
		switch f.num {
		case 1:
			m.irVersion, err = f.int("ModelProto.ir_version")
		case 2:
			m.producer, err = f.str("ModelProto.producer_name")
		case 7:
			m.graph, err = f.msg("ModelProto.graph")
		case 8:
			var raw []byte
			if raw, err = f.msg("ModelProto.opset_import"); err == nil {
				var id opsetID
				id, err = decodeOpset(raw)
				m.opsets = append(m.opsets, id)
			}
		case 25:
			var raw []byte
			if raw, err = f.msg("ModelProto.functions"); err == nil {
				m.functions = append(m.functions, raw)
			}
		}
		return err
	})
	return m, err
}

func decodeOpset(b []byte) (opsetID, error) {
	var id opsetID
	err := each(b, "OperatorSetIdProto", func(f field) error {
		var err error
		switch f.num {
		case 1:
			id.domain, err = f.str("OperatorSetIdProto.domain")
		case 2:
			id.version, err = f.int("OperatorSetIdProto.version")
		}
		return err
	})
	return id, err
}

func decodeGraphProto(b []byte) (*graphProto, error) {
	g := &graphProto{}
	err := each(b, "GraphProto", func(f field) error {
		var err error
		var raw []byte
		switch f.num {
		case 1:
			if raw, err = f.msg("GraphProto.node"); err == nil {
				var n nodeProto
				n, err = decodeNode(raw)
				g.nodes = append(g.nodes, n)
			}
		case 2:
			g.name, err = f.str("GraphProto.name")
		case 5:
			if raw, err = f.msg("GraphProto.initializer"); err == nil {
				g.initializers = append(g.initializers, raw)
			}
		case 15:
			if raw, err = f.msg("GraphProto.sparse_initializer"); err == nil {
				g.sparse = append(g.sparse, raw)
			}
		case 11, 12, 13:
			if raw, err = f.msg("GraphProto value info"); err == nil {
				var vi valueInfo
				vi, err = decodeValueInfo(raw)
				switch f.num {
				case 11:
					g.inputs = append(g.inputs, vi)
				case 12:
					g.outputs = append(g.outputs, vi)
				default:
					g.valueInfo = append(g.valueInfo, vi)
				}
			}
		}
		return err
	})
	return g, err
}

func decodeNode(b []byte) (nodeProto, error) {
	var n nodeProto
	err := each(b, "NodeProto", func(f field) error {
		var err error
		var s string
		switch f.num {
		case 1:
			if s, err = f.str("NodeProto.input"); err == nil {
				n.inputs = append(n.inputs, s)
			}
		case 2:
			if s, err = f.str("NodeProto.output"); err == nil {
				n.outputs = append(n.outputs, s)
			}
		case 3:
			n.name, err = f.str("NodeProto.name")
		case 4:
			n.op, err = f.str("NodeProto.op_type")
		case 7:
			n.domain, err = f.str("NodeProto.domain")
		case 5:
			var raw []byte
			if raw, err = f.msg("NodeProto.attribute"); err == nil {
				var a attrProto
				a, err = decodeAttr(raw)
				n.attrs = append(n.attrs, a)
			}
		}
		return err
	})
	if err != nil {
		return n, fmt.Errorf("node %q (%s): %w", n.name, n.op, err)
	}
	return n, nil
}

func decodeAttr(b []byte) (attrProto, error) {
	a := attrProto{has: map[protowire.Number]bool{}}
	err := each(b, "AttributeProto", func(f field) error {
		var err error
		var raw []byte
		a.has[f.num] = true
		switch f.num {
		case 1:
			a.name, err = f.str("AttributeProto.name")
		case 21:
			a.refName, err = f.str("AttributeProto.ref_attr_name")
		case 20:
			a.typ, err = f.int("AttributeProto.type")
		case 2:
			if f.typ != protowire.Fixed32Type {
				return f.wrongType("AttributeProto.f")
			}
			a.f = math.Float32frombits(uint32(f.u))
		case 3:
			a.i, err = f.int("AttributeProto.i")
		case 4:
			a.s, err = f.msg("AttributeProto.s")
		case 5:
			a.t, err = f.msg("AttributeProto.t")
		case 6:
			a.g, err = f.msg("AttributeProto.g")
		case 22:
			a.sparse, err = f.msg("AttributeProto.sparse_tensor")
		case 14:
			a.tp, err = f.msg("AttributeProto.tp")
		case 7:
			a.floats, err = appendFloats(a.floats, f, "AttributeProto.floats")
		case 8:
			a.ints, err = appendVarints(a.ints, f, "AttributeProto.ints")
		case 9:
			if raw, err = f.msg("AttributeProto.strings"); err == nil {
				a.strings = append(a.strings, raw)
			}
		case 10:
			if raw, err = f.msg("AttributeProto.tensors"); err == nil {
				a.tensors = append(a.tensors, raw)
			}
		case 11:
			if raw, err = f.msg("AttributeProto.graphs"); err == nil {
				a.graphs = append(a.graphs, raw)
			}
		case 15:
			if raw, err = f.msg("AttributeProto.type_protos"); err == nil {
				a.typeProto = append(a.typeProto, raw)
			}
		}
		return err
	})
	if err != nil {
		return a, fmt.Errorf("attribute %q: %w", a.name, err)
	}
	return a, nil
}

func decodeValueInfo(b []byte) (valueInfo, error) {
	var vi valueInfo
	err := each(b, "ValueInfoProto", func(f field) error {
		var err error
		switch f.num {
		case 1:
			vi.name, err = f.str("ValueInfoProto.name")
		case 2:
			var raw []byte
			if raw, err = f.msg("ValueInfoProto.type"); err == nil {
				vi.typ, err = decodeType(raw)
			}
		}
		return err
	})
	if err != nil {
		return vi, fmt.Errorf("value %q: %w", vi.name, err)
	}
	return vi, nil
}

func decodeType(b []byte) (typeProto, error) {
	var t typeProto
	err := each(b, "TypeProto", func(f field) error {
		var err error
		var raw []byte
		switch f.num {
		case 1, 8: // tensor_type, sparse_tensor_type: elem_type 1, shape 2
			t.kind = "tensor"
			if f.num == 8 {
				t.kind = "sparse_tensor"
			}
			if raw, err = f.msg("TypeProto.tensor_type"); err != nil {
				return err
			}
			return each(raw, "TypeProto.Tensor", func(f field) error {
				switch f.num {
				case 1:
					v, err := f.int("TypeProto.Tensor.elem_type")
					t.elemType = int32(v)
					return err
				case 2:
					raw, err := f.msg("TypeProto.Tensor.shape")
					if err != nil {
						return err
					}
					t.hasShape = true
					return each(raw, "TensorShapeProto", func(f field) error {
						if f.num != 1 {
							return nil
						}
						raw, err := f.msg("TensorShapeProto.dim")
						if err != nil {
							return err
						}
						var d dimProto
						err = each(raw, "TensorShapeProto.Dimension", func(f field) error {
							var err error
							switch f.num {
							case 1:
								d.value, err = f.int("Dimension.dim_value")
								d.hasValue = true
							case 2:
								d.param, err = f.str("Dimension.dim_param")
							}
							return err
						})
						t.dims = append(t.dims, d)
						return err
					})
				}
				return nil
			})
		case 4:
			t.kind = "sequence"
		case 5:
			t.kind = "map"
		case 9:
			t.kind = "optional"
		}
		return err
	})
	return t, err
}

func decodeTensorProto(b []byte) (*tensorProto, error) {
	t := &tensorProto{}
	err := each(b, "TensorProto", func(f field) error {
		var err error
		const m = "TensorProto"
		switch f.num {
		case 1:
			t.dims, err = appendVarints(t.dims, f, m+".dims")
		case 2:
			var v int64
			v, err = f.int(m + ".data_type")
			t.dataType = int32(v)
		case 3:
			t.segment = true
		case 4:
			t.floats, err = appendFixed(t.floats, f, 4, m+".float_data")
		case 5:
			t.int32s, err = appendVarints(t.int32s, f, m+".int32_data")
		case 6:
			var raw []byte
			if raw, err = f.msg(m + ".string_data"); err == nil {
				t.strings = append(t.strings, raw)
			}
		case 7:
			t.int64s, err = appendVarints(t.int64s, f, m+".int64_data")
		case 8:
			t.name, err = f.str(m + ".name")
		case 9:
			t.raw, err = f.msg(m + ".raw_data")
			t.hasRaw = true
		case 10:
			t.doubles, err = appendFixed(t.doubles, f, 8, m+".double_data")
		case 11:
			t.uint64s, err = appendVarints(t.uint64s, f, m+".uint64_data")
		case 13:
			var raw []byte
			if raw, err = f.msg(m + ".external_data"); err == nil {
				var e kv
				err = each(raw, "StringStringEntryProto", func(f field) error {
					var err error
					switch f.num {
					case 1:
						e.key, err = f.str("StringStringEntryProto.key")
					case 2:
						e.value, err = f.str("StringStringEntryProto.value")
					}
					return err
				})
				t.external = append(t.external, e)
			}
		case 14:
			t.location, err = f.int(m + ".data_location")
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.name, err)
	}
	return t, nil
}

func decodeSparse(b []byte) (*sparseProto, error) {
	s := &sparseProto{}
	err := each(b, "SparseTensorProto", func(f field) error {
		var err error
		switch f.num {
		case 1:
			s.values, err = f.msg("SparseTensorProto.values")
		case 2:
			s.indices, err = f.msg("SparseTensorProto.indices")
		case 3:
			s.dims, err = appendVarints(s.dims, f, "SparseTensorProto.dims")
		}
		return err
	})
	return s, err
}

func decodeFunction(b []byte) (*functionProto, error) {
	fn := &functionProto{}
	err := each(b, "FunctionProto", func(f field) error {
		var err error
		var s string
		var raw []byte
		switch f.num {
		case 1:
			fn.name, err = f.str("FunctionProto.name")
		case 10:
			fn.domain, err = f.str("FunctionProto.domain")
		case 13:
			fn.overload, err = f.str("FunctionProto.overload")
		case 4:
			if s, err = f.str("FunctionProto.input"); err == nil {
				fn.inputs = append(fn.inputs, s)
			}
		case 5:
			if s, err = f.str("FunctionProto.output"); err == nil {
				fn.outputs = append(fn.outputs, s)
			}
		case 6:
			if s, err = f.str("FunctionProto.attribute"); err == nil {
				fn.attrNames = append(fn.attrNames, s)
			}
		case 11:
			if raw, err = f.msg("FunctionProto.attribute_proto"); err == nil {
				var a attrProto
				a, err = decodeAttr(raw)
				fn.attrDefaults = append(fn.attrDefaults, a)
			}
		case 7:
			if raw, err = f.msg("FunctionProto.node"); err == nil {
				var n nodeProto
				n, err = decodeNode(raw)
				fn.nodes = append(fn.nodes, n)
			}
		case 9:
			if raw, err = f.msg("FunctionProto.opset_import"); err == nil {
				var id opsetID
				id, err = decodeOpset(raw)
				fn.opsets = append(fn.opsets, id)
			}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("function %q: %w", fn.name, err)
	}
	return fn, nil
}
