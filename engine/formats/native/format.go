package native

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"syscall"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// Magic starts every .lightos file.
const Magic = "LIGHTOS\x00"

// Version is the format version this package writes. It reads Version only.
const Version = 1

// Alignment of tensor data in the file, in bytes.
const Alignment = 64

const prefixLen = 24

// ErrFormat is wrapped by every error about a malformed file.
var ErrFormat = errors.New("native: malformed file")

type tensorRef struct {
	DType  string `json:"dtype"`
	Shape  []int  `json:"shape"`
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
}

type dimJSON struct {
	Size  int64  `json:"size"`
	Param string `json:"param,omitempty"`
}

type valueJSON struct {
	Name     string     `json:"name"`
	DType    string     `json:"dtype,omitempty"`
	Shape    []dimJSON  `json:"shape,omitempty"`
	HasShape bool       `json:"has_shape,omitempty"`
	Const    *tensorRef `json:"const,omitempty"`
}

type attrJSON struct {
	Kind    graph.AttrKind `json:"kind"`
	Int     int64          `json:"i,omitempty"`
	Float   float32        `json:"f,omitempty"`
	String  string         `json:"s,omitempty"`
	Ints    []int64        `json:"ints,omitempty"`
	Floats  []float32      `json:"floats,omitempty"`
	Strings []string       `json:"strings,omitempty"`
	Tensor  *tensorRef     `json:"t,omitempty"`
	Graph   *graphJSON     `json:"g,omitempty"`
}

type nodeJSON struct {
	Name    string              `json:"name"`
	Op      string              `json:"op"`
	Domain  string              `json:"domain,omitempty"`
	Inputs  []string            `json:"inputs"`  // "" for an omitted input
	Outputs []string            `json:"outputs"` // "" for an omitted output
	Attrs   map[string]attrJSON `json:"attrs,omitempty"`
}

type graphJSON struct {
	Name         string      `json:"name"`
	Opset        int64       `json:"opset,omitempty"`
	Inputs       []valueJSON `json:"inputs"`
	Initializers []valueJSON `json:"initializers"`
	Values       []valueJSON `json:"values"` // node outputs, with their inferred types
	Nodes        []nodeJSON  `json:"nodes"`
	Outputs      []string    `json:"outputs"`
	// Outer lists names this (sub)graph reads from an enclosing graph.
	Outer []string `json:"outer,omitempty"`
}

// Save writes g with its weights to path.
func Save(g *graph.Graph, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("native: %w", err)
	}
	if err := Write(g, f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Write encodes g with its weights to w.
func Write(g *graph.Graph, w io.Writer) error {
	enc := &encoder{}
	gj, err := enc.graph(g, nil)
	if err != nil {
		return err
	}
	// The header holds tensor offsets, which depend on the header's length: encode
	// once with relative offsets, then shift them by the aligned data start.
	header, err := json.Marshal(gj)
	if err != nil {
		return fmt.Errorf("native: encode header: %w", err)
	}
	for {
		start := align(int64(prefixLen + len(header)))
		for _, r := range enc.refs {
			r.Offset = start + r.rel
		}
		h2, err := json.Marshal(gj)
		if err != nil {
			return fmt.Errorf("native: encode header: %w", err)
		}
		if len(h2) == len(header) {
			header = h2
			break
		}
		header = h2
	}
	var prefix [prefixLen]byte
	copy(prefix[:8], Magic)
	binary.LittleEndian.PutUint32(prefix[8:], Version)
	binary.LittleEndian.PutUint32(prefix[12:], crc32.ChecksumIEEE(header))
	binary.LittleEndian.PutUint64(prefix[16:], uint64(len(header)))
	cw := &countWriter{w: w}
	cw.Write(prefix[:])
	cw.Write(header)
	for _, r := range enc.refs {
		cw.Write(make([]byte, r.Offset-cw.n))
		cw.Write(r.data)
	}
	if cw.err != nil {
		return fmt.Errorf("native: write: %w", cw.err)
	}
	return nil
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

func align(n int64) int64 { return (n + Alignment - 1) / Alignment * Alignment }

type pendingRef struct {
	*tensorRef
	rel  int64
	data []byte
}

type encoder struct {
	refs []*pendingRef
	size int64
	seen map[*tensor.Tensor]*tensorRef
}

func (e *encoder) tensor(t *tensor.Tensor) *tensorRef {
	if e.seen == nil {
		e.seen = map[*tensor.Tensor]*tensorRef{}
	}
	if r, ok := e.seen[t]; ok {
		return r
	}
	r := &pendingRef{tensorRef: &tensorRef{DType: t.DType().String(), Shape: append([]int{}, t.Shape()...), Length: int64(len(t.Bytes()))}, rel: e.size, data: t.Bytes()}
	e.size = align(e.size + int64(len(t.Bytes())))
	e.refs = append(e.refs, r)
	e.seen[t] = r.tensorRef
	return r.tensorRef
}

func (e *encoder) value(v *graph.Value) valueJSON {
	vj := valueJSON{Name: v.Name, HasShape: v.HasShape}
	if v.DType != tensor.Invalid {
		vj.DType = v.DType.String()
	}
	for _, d := range v.Shape {
		vj.Shape = append(vj.Shape, dimJSON{Size: d.Size, Param: d.Param})
	}
	if v.Const != nil {
		vj.Const = e.tensor(v.Const)
	}
	return vj
}

func (e *encoder) graph(g *graph.Graph, outer map[*graph.Value]bool) (*graphJSON, error) {
	gj := &graphJSON{Name: g.Name, Opset: g.Opset}
	local := map[*graph.Value]bool{}
	for _, v := range g.Inputs {
		gj.Inputs = append(gj.Inputs, e.value(v))
		local[v] = true
	}
	for _, v := range g.Initializers {
		gj.Initializers = append(gj.Initializers, e.value(v))
		local[v] = true
	}
	for _, n := range g.Nodes {
		for _, v := range n.Outputs {
			if v != nil {
				local[v] = true
			}
		}
	}
	outerSeen := map[string]bool{}
	for _, n := range g.Nodes {
		nj := nodeJSON{Name: n.Name, Op: n.Op, Domain: n.Domain}
		for _, v := range n.Inputs {
			if v == nil {
				nj.Inputs = append(nj.Inputs, "")
				continue
			}
			nj.Inputs = append(nj.Inputs, v.Name)
			if !local[v] {
				if v.Const != nil && (outer == nil || !outer[v]) {
					// a folded constant not listed as an initializer: store it as one
					gj.Initializers = append(gj.Initializers, e.value(v))
					local[v] = true
				} else if !outerSeen[v.Name] {
					outerSeen[v.Name] = true
					gj.Outer = append(gj.Outer, v.Name)
				}
			}
		}
		for _, v := range n.Outputs {
			if v == nil {
				nj.Outputs = append(nj.Outputs, "")
				continue
			}
			nj.Outputs = append(nj.Outputs, v.Name)
			vj := e.value(v)
			vj.Const = nil // node outputs are recomputed, not stored
			gj.Values = append(gj.Values, vj)
		}
		if len(n.Attrs) > 0 {
			nj.Attrs = map[string]attrJSON{}
			for name, a := range n.Attrs {
				aj := attrJSON{Kind: a.Kind, Int: a.Int, Float: a.Float, String: a.String, Ints: a.Ints, Floats: a.Floats, Strings: a.Strings}
				if a.Tensor != nil {
					aj.Tensor = e.tensor(a.Tensor)
				}
				if a.Graph != nil {
					visible := map[*graph.Value]bool{}
					for v := range outer {
						visible[v] = true
					}
					for v := range local {
						visible[v] = true
					}
					sub, err := e.graph(a.Graph, visible)
					if err != nil {
						return nil, err
					}
					aj.Graph = sub
				}
				nj.Attrs[name] = aj
			}
		}
		gj.Nodes = append(gj.Nodes, nj)
	}
	for _, v := range g.Outputs {
		gj.Outputs = append(gj.Outputs, v.Name)
		if !local[v] && !outerSeen[v.Name] {
			outerSeen[v.Name] = true
			gj.Outer = append(gj.Outer, v.Name)
		}
	}
	return gj, nil
}

// File is an opened .lightos file: its graph borrows tensor data from the file's
// memory map, which stays valid until Close.
type File struct {
	Graph *graph.Graph
	mem   []byte
}

// Close unmaps the file. The graph's constants must not be used afterwards.
func (f *File) Close() error {
	if f == nil || f.mem == nil {
		return nil
	}
	err := syscall.Munmap(f.mem)
	f.mem = nil
	return err
}

// Open maps the file at path and decodes its graph without copying tensor data.
func Open(path string) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("native: %w", err)
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, fmt.Errorf("native: %w", err)
	}
	if st.Size() < prefixLen {
		return nil, fmt.Errorf("%w: %s is %d bytes, shorter than the %d-byte prefix", ErrFormat, path, st.Size(), prefixLen)
	}
	mem, err := syscall.Mmap(int(fd.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("native: map %s: %w", path, err)
	}
	g, err := Decode(mem)
	if err != nil {
		syscall.Munmap(mem)
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &File{Graph: g, mem: mem}, nil
}

// Load reads the file at path into memory (no map) and decodes it. Use Open to
// borrow weights from a memory map instead.
func Load(path string) (*graph.Graph, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("native: %w", err)
	}
	return Decode(b)
}

// Decode decodes a whole file's bytes; tensors borrow from data.
func Decode(data []byte) (*graph.Graph, error) {
	if len(data) < prefixLen {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte prefix", ErrFormat, len(data), prefixLen)
	}
	if !bytes.Equal(data[:8], []byte(Magic)) {
		return nil, fmt.Errorf("%w: bad magic %q (not a .lightos file)", ErrFormat, data[:8])
	}
	if v := binary.LittleEndian.Uint32(data[8:]); v != Version {
		return nil, fmt.Errorf("%w: format version %d, this build reads version %d", ErrFormat, v, Version)
	}
	hlen := binary.LittleEndian.Uint64(data[16:])
	if hlen > uint64(len(data)-prefixLen) {
		return nil, fmt.Errorf("%w: header of %d bytes runs past the end of the %d-byte file (truncated?)", ErrFormat, hlen, len(data))
	}
	header := data[prefixLen : prefixLen+int(hlen)]
	if crc := crc32.ChecksumIEEE(header); crc != binary.LittleEndian.Uint32(data[12:]) {
		return nil, fmt.Errorf("%w: header checksum mismatch (corrupted file)", ErrFormat)
	}
	var gj graphJSON
	if err := json.Unmarshal(header, &gj); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrFormat, err)
	}
	d := &decoder{data: data}
	g, err := d.graph(&gj, nil)
	if err != nil {
		return nil, err
	}
	return g, nil
}

type decoder struct {
	data []byte
}

func (d *decoder) tensor(r *tensorRef) (*tensor.Tensor, error) {
	dt, err := tensor.ParseDType(r.DType)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	n := int64(1)
	for _, s := range r.Shape {
		if s < 0 || (s > 0 && n > (1<<62)/int64(s)) {
			return nil, fmt.Errorf("%w: bad tensor shape %v", ErrFormat, r.Shape)
		}
		n *= int64(s)
	}
	if n*int64(dt.Size()) != r.Length {
		return nil, fmt.Errorf("%w: tensor %v%v has %d bytes, expected %d", ErrFormat, dt, r.Shape, r.Length, n*int64(dt.Size()))
	}
	if r.Offset < 0 || r.Offset%Alignment != 0 || r.Offset > int64(len(d.data)) || r.Length > int64(len(d.data))-r.Offset {
		return nil, fmt.Errorf("%w: tensor data [%d, +%d) lies outside the %d-byte file (truncated?)", ErrFormat, r.Offset, r.Length, len(d.data))
	}
	return tensor.FromBytes(dt, r.Shape, d.data[r.Offset:r.Offset+r.Length])
}

func (d *decoder) typ(vj valueJSON) (graph.Type, error) {
	t := graph.Type{HasShape: vj.HasShape}
	if vj.DType != "" {
		dt, err := tensor.ParseDType(vj.DType)
		if err != nil {
			return t, fmt.Errorf("%w: value %q: %v", ErrFormat, vj.Name, err)
		}
		t.DType = dt
	}
	for _, dim := range vj.Shape {
		t.Shape = append(t.Shape, graph.Dim{Size: dim.Size, Param: dim.Param})
	}
	return t, nil
}

func (d *decoder) graph(gj *graphJSON, outer map[string]*graph.Value) (*graph.Graph, error) {
	g := graph.New(gj.Name)
	g.Opset = gj.Opset
	scope := map[string]*graph.Value{}
	lookup := func(name string) *graph.Value {
		if v, ok := scope[name]; ok {
			return v
		}
		return outer[name]
	}
	for _, vj := range gj.Inputs {
		t, err := d.typ(vj)
		if err != nil {
			return nil, err
		}
		v := &graph.Value{Name: vj.Name, Type: t}
		g.Inputs = append(g.Inputs, v)
		scope[v.Name] = v
	}
	for _, vj := range gj.Initializers {
		if vj.Const == nil {
			return nil, fmt.Errorf("%w: initializer %q has no data", ErrFormat, vj.Name)
		}
		t, err := d.typ(vj)
		if err != nil {
			return nil, err
		}
		c, err := d.tensor(vj.Const)
		if err != nil {
			return nil, fmt.Errorf("initializer %q: %w", vj.Name, err)
		}
		v := &graph.Value{Name: vj.Name, Type: t, Const: c}
		g.Initializers = append(g.Initializers, v)
		scope[v.Name] = v
	}
	types := map[string]valueJSON{}
	for _, vj := range gj.Values {
		types[vj.Name] = vj
	}
	for _, nj := range gj.Nodes {
		n := &graph.Node{Name: nj.Name, Op: nj.Op, Domain: nj.Domain, Attrs: graph.Attrs{}}
		for _, name := range nj.Inputs {
			if name == "" {
				n.Inputs = append(n.Inputs, nil)
				continue
			}
			v := lookup(name)
			if v == nil {
				return nil, fmt.Errorf("%w: node %q reads %q, which nothing before it defines", ErrFormat, nj.Name, name)
			}
			n.Inputs = append(n.Inputs, v)
		}
		for name, aj := range nj.Attrs {
			a := graph.Attr{Kind: aj.Kind, Int: aj.Int, Float: aj.Float, String: aj.String, Ints: aj.Ints, Floats: aj.Floats, Strings: aj.Strings}
			if aj.Kind < graph.AttrInt || aj.Kind > graph.AttrGraph {
				return nil, fmt.Errorf("%w: node %q attribute %q has unknown kind %d", ErrFormat, nj.Name, name, aj.Kind)
			}
			if aj.Tensor != nil {
				t, err := d.tensor(aj.Tensor)
				if err != nil {
					return nil, fmt.Errorf("node %q attribute %q: %w", nj.Name, name, err)
				}
				a.Tensor = t
			}
			if aj.Graph != nil {
				visible := map[string]*graph.Value{}
				for k, v := range outer {
					visible[k] = v
				}
				for k, v := range scope {
					visible[k] = v
				}
				sub, err := d.graph(aj.Graph, visible)
				if err != nil {
					return nil, fmt.Errorf("node %q attribute %q: %w", nj.Name, name, err)
				}
				a.Graph = sub
			}
			n.Attrs[name] = a
		}
		for _, name := range nj.Outputs {
			if name == "" {
				n.Outputs = append(n.Outputs, nil)
				continue
			}
			if _, dup := scope[name]; dup {
				return nil, fmt.Errorf("%w: value %q is written twice", ErrFormat, name)
			}
			v := &graph.Value{Name: name, Producer: n}
			if vj, ok := types[name]; ok {
				t, err := d.typ(vj)
				if err != nil {
					return nil, err
				}
				v.Type = t
			}
			n.Outputs = append(n.Outputs, v)
			scope[name] = v
		}
		g.Nodes = append(g.Nodes, n)
	}
	for _, name := range gj.Outputs {
		v := lookup(name)
		if v == nil {
			return nil, fmt.Errorf("%w: output %q is never defined", ErrFormat, name)
		}
		g.Outputs = append(g.Outputs, v)
	}
	g.Reindex()
	return g, nil
}
