package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/lightiam/lightos/engine/tensor"
)

// NumPy .npy files (format versions 1 to 3), little-endian, C order: what `lightos run`
// reads as inputs and writes as outputs.

var npyDescr = map[string]tensor.DType{
	"<f4": tensor.Float32, "<f8": tensor.Float64, "<f2": tensor.Float16, "<i8": tensor.Int64,
	"<i4": tensor.Int32, "<i2": tensor.Int16, "|i1": tensor.Int8, "|u1": tensor.Uint8,
	"<u2": tensor.Uint16, "<u4": tensor.Uint32, "<u8": tensor.Uint64, "|b1": tensor.Bool,
}

var (
	npyDescrRe = regexp.MustCompile(`'descr'\s*:\s*'([^']*)'`)
	npyOrderRe = regexp.MustCompile(`'fortran_order'\s*:\s*(True|False)`)
	npyShapeRe = regexp.MustCompile(`'shape'\s*:\s*\(([^)]*)\)`)
)

func readNPY(path string) (*tensor.Tensor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 10 || !bytes.Equal(b[:6], []byte("\x93NUMPY")) {
		return nil, fmt.Errorf("%s: not a .npy file", path)
	}
	var hlen, off int
	switch b[6] {
	case 1:
		hlen, off = int(binary.LittleEndian.Uint16(b[8:])), 10
	case 2, 3:
		if len(b) < 12 {
			return nil, fmt.Errorf("%s: truncated header", path)
		}
		hlen, off = int(binary.LittleEndian.Uint32(b[8:])), 12
	default:
		return nil, fmt.Errorf("%s: .npy version %d is not supported", path, b[6])
	}
	if off+hlen > len(b) {
		return nil, fmt.Errorf("%s: truncated header", path)
	}
	header := string(b[off : off+hlen])
	m := npyDescrRe.FindStringSubmatch(header)
	if m == nil {
		return nil, fmt.Errorf("%s: header has no descr", path)
	}
	descr := m[1]
	if descr == "<b1" {
		descr = "|b1"
	}
	dt, ok := npyDescr[descr]
	if !ok {
		return nil, fmt.Errorf("%s: dtype %q is not supported", path, m[1])
	}
	if o := npyOrderRe.FindStringSubmatch(header); o != nil && o[1] == "True" {
		return nil, fmt.Errorf("%s: Fortran-order arrays are not supported", path)
	}
	sm := npyShapeRe.FindStringSubmatch(header)
	if sm == nil {
		return nil, fmt.Errorf("%s: header has no shape", path)
	}
	var shape []int
	for _, p := range strings.Split(sm[1], ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		d, err := strconv.Atoi(p)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("%s: bad shape %q", path, sm[1])
		}
		shape = append(shape, d)
	}
	data := b[off+hlen:]
	want := tensor.NumElements(shape) * dt.Size()
	if len(data) < want {
		return nil, fmt.Errorf("%s: %v%v needs %d bytes of data, file has %d", path, dt, shape, want, len(data))
	}
	t := tensor.New(dt, shape)
	copy(t.Bytes(), data[:want])
	return t, nil
}

func writeNPY(path string, t *tensor.Tensor) error {
	descr := ""
	for d, dt := range npyDescr {
		if dt == t.DType() {
			descr = d
		}
	}
	if descr == "" {
		return fmt.Errorf("%s: no .npy dtype for %v", path, t.DType())
	}
	dims := make([]string, len(t.Shape()))
	for i, d := range t.Shape() {
		dims[i] = strconv.Itoa(d)
	}
	shape := strings.Join(dims, ", ")
	if len(dims) == 1 {
		shape += ","
	}
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, shape)
	pad := 64 - (10+len(header)+1)%64
	header += strings.Repeat(" ", pad%64) + "\n"
	var buf bytes.Buffer
	buf.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&buf, binary.LittleEndian, uint16(len(header)))
	buf.WriteString(header)
	buf.Write(t.Bytes())
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
