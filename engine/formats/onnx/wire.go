package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// ErrFormat is wrapped by every error about a malformed or truncated file.
var ErrFormat = errors.New("onnx: malformed model")

// ErrUnsupported is wrapped by errors about valid ONNX the engine cannot represent
// (operators without a schema, element types such as string or float8, sequence inputs).
var ErrUnsupported = errors.New("onnx: unsupported")

// field is one decoded protobuf field: u holds varint and fixed values, b the payload
// of a length-delimited field (a sub-slice of the input, never a copy).
type field struct {
	num protowire.Number
	typ protowire.Type
	u   uint64
	b   []byte
}

// each calls fn for every field of the message b, in order. It stops at the first
// malformed field (a truncated varint, a length past the end) with an ErrFormat error.
func each(b []byte, msg string, fn func(f field) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %s: bad field tag: %v", ErrFormat, msg, protowire.ParseError(n))
		}
		b = b[n:]
		f := field{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.u, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			f.u = uint64(v)
		case protowire.Fixed64Type:
			f.u, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			f.b, n = protowire.ConsumeBytes(b)
		default: // groups are not used by onnx.proto: skip them
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n >= 0 {
				b = b[n:]
				continue
			}
		}
		if n < 0 {
			return fmt.Errorf("%w: %s: field %d: %v", ErrFormat, msg, num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// str returns a length-delimited field as a string (it copies: names are small).
func (f field) str(msg string) (string, error) {
	if f.typ != protowire.BytesType {
		return "", f.wrongType(msg)
	}
	return string(f.b), nil
}

// int returns a varint field as int64.
func (f field) int(msg string) (int64, error) {
	if f.typ != protowire.VarintType {
		return 0, f.wrongType(msg)
	}
	return int64(f.u), nil
}

// msg returns the payload of an embedded message.
func (f field) msg(msg string) ([]byte, error) {
	if f.typ != protowire.BytesType {
		return nil, f.wrongType(msg)
	}
	return f.b, nil
}

func (f field) wrongType(msg string) error {
	return fmt.Errorf("%w: %s: field %d has wire type %d", ErrFormat, msg, f.num, f.typ)
}

// appendVarints appends a repeated varint field, packed or not; zigzag is not used by
// onnx.proto, so negative int64s arrive as 10-byte varints.
func appendVarints(dst []int64, f field, msg string) ([]int64, error) {
	switch f.typ {
	case protowire.VarintType:
		return append(dst, int64(f.u)), nil
	case protowire.BytesType:
		b := f.b
		for len(b) > 0 {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, fmt.Errorf("%w: %s: packed field %d: %v", ErrFormat, msg, f.num, protowire.ParseError(n))
			}
			dst = append(dst, int64(v))
			b = b[n:]
		}
		return dst, nil
	}
	return nil, f.wrongType(msg)
}

// appendFixed appends a repeated fixed-width field (float: 4 bytes, double: 8) as raw
// little-endian bytes. A packed field is borrowed when dst is empty.
func appendFixed(dst []byte, f field, width int, msg string) ([]byte, error) {
	switch {
	case f.typ == protowire.BytesType:
		if len(f.b)%width != 0 {
			return nil, fmt.Errorf("%w: %s: packed field %d has %d bytes, not a multiple of %d", ErrFormat, msg, f.num, len(f.b), width)
		}
		if len(dst) == 0 {
			return f.b, nil
		}
		return append(dst[:len(dst):len(dst)], f.b...), nil
	case width == 4 && f.typ == protowire.Fixed32Type:
		return binary.LittleEndian.AppendUint32(dst[:len(dst):len(dst)], uint32(f.u)), nil
	case width == 8 && f.typ == protowire.Fixed64Type:
		return binary.LittleEndian.AppendUint64(dst[:len(dst):len(dst)], f.u), nil
	}
	return nil, f.wrongType(msg)
}

// appendFloats appends a repeated float field (packed or not) as float32 values.
func appendFloats(dst []float32, f field, msg string) ([]float32, error) {
	raw, err := appendFixed(nil, f, 4, msg)
	if err != nil {
		return nil, err
	}
	for i := 0; i+4 <= len(raw); i += 4 {
		dst = append(dst, math.Float32frombits(binary.LittleEndian.Uint32(raw[i:])))
	}
	return dst, nil
}
