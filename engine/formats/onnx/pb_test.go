package onnx

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// A tiny protobuf writer for building ONNX models in tests (field numbers as in
// onnx.proto), so the tests need neither Python nor generated code.

type pb []byte

func (b pb) bytes(num protowire.Number, v []byte) pb {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func (b pb) str(num protowire.Number, s string) pb { return b.bytes(num, []byte(s)) }

func (b pb) varint(num protowire.Number, v int64) pb {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

func (b pb) packed(num protowire.Number, vs ...int64) pb {
	var p []byte
	for _, v := range vs {
		p = protowire.AppendVarint(p, uint64(v))
	}
	return b.bytes(num, p)
}

func (b pb) fixed32(num protowire.Number, v uint32) pb {
	b = protowire.AppendTag(b, num, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, v)
}

func f32bytes(vs ...float32) []byte {
	out := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
	}
	return out
}

// tensorRaw is a TensorProto with raw_data.
func tensorRaw(name string, dt int32, dims []int64, raw []byte) pb {
	return pb(nil).packed(1, dims...).varint(2, int64(dt)).str(8, name).bytes(9, raw)
}

func vinfo(name string, dt int32, dims ...any) pb {
	var shape pb
	for _, d := range dims {
		var dim pb
		switch d := d.(type) {
		case int:
			dim = dim.varint(1, int64(d))
		case string:
			dim = dim.str(2, d)
		}
		shape = shape.bytes(1, dim)
	}
	tt := pb(nil).varint(1, int64(dt)).bytes(2, shape)
	return pb(nil).str(1, name).bytes(2, pb(nil).bytes(1, tt))
}

func attrInt(name string, v int64) pb { return pb(nil).str(1, name).varint(20, atInt).varint(3, v) }

func attrFloat(name string, v float32) pb {
	return pb(nil).str(1, name).varint(20, atFloat).fixed32(2, math.Float32bits(v))
}

func attrInts(name string, vs ...int64) pb {
	return pb(nil).str(1, name).varint(20, atInts).packed(8, vs...)
}

func attrTensor(name string, t pb) pb { return pb(nil).str(1, name).varint(20, atTensor).bytes(5, t) }

func node(op, name string, ins, outs []string, attrs ...pb) pb {
	b := pb(nil)
	for _, s := range ins {
		b = b.str(1, s)
	}
	for _, s := range outs {
		b = b.str(2, s)
	}
	b = b.str(3, name).str(4, op)
	for _, a := range attrs {
		b = b.bytes(5, a)
	}
	return b
}

type graphParts struct {
	name         string
	nodes        []pb
	initializers []pb
	sparse       []pb
	inputs       []pb
	outputs      []pb
}

func (g graphParts) encode() pb {
	b := pb(nil).str(2, g.name)
	for _, n := range g.nodes {
		b = b.bytes(1, n)
	}
	for _, t := range g.initializers {
		b = b.bytes(5, t)
	}
	for _, s := range g.sparse {
		b = b.bytes(15, s)
	}
	for _, v := range g.inputs {
		b = b.bytes(11, v)
	}
	for _, v := range g.outputs {
		b = b.bytes(12, v)
	}
	return b
}

func opset(domain string, v int64) pb { return pb(nil).str(1, domain).varint(2, v) }

func model(ir int64, g pb, opsets ...pb) pb {
	b := pb(nil).varint(1, ir).str(2, "lightos-test")
	for _, o := range opsets {
		b = b.bytes(8, o)
	}
	return b.bytes(7, g)
}
