package onnx

import (
	"bufio"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// TestOpenOver2GB writes a 2.5 GB model (one float32 initializer of 629,145,600
// elements feeding a Relu) and opens it: protobuf-go refuses messages over 2 GB, the
// protowire decoder maps the file and borrows the weight. It needs 2.5 GB of disk and
// runs only with LIGHTOS_ONNX_BIG=1.
func TestOpenOver2GB(t *testing.T) {
	if os.Getenv("LIGHTOS_ONNX_BIG") == "" {
		t.Skip("set LIGHTOS_ONNX_BIG=1 to write and open a 2.5 GB model")
	}
	const n = 600 << 20
	path := filepath.Join(t.TempDir(), "big.onnx")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	tensorHead := pb(nil).packed(1, n).varint(2, tFloat).str(8, "W")
	tensorHead = protowire.AppendTag(tensorHead, 9, protowire.BytesType)
	tensorHead = protowire.AppendVarint(tensorHead, 4*n)
	gtail := pb(nil).bytes(1, node("Relu", "r", []string{"W"}, []string{"y"})).bytes(12, vinfo("y", tFloat, n))
	ghead := protowire.AppendTag(nil, 5, protowire.BytesType)
	ghead = protowire.AppendVarint(ghead, uint64(len(tensorHead)+4*n))
	m := pb(nil).varint(1, 8).bytes(8, opset("", 17))
	m = protowire.AppendTag(m, 7, protowire.BytesType)
	m = protowire.AppendVarint(m, uint64(len(ghead)+len(tensorHead)+4*n+len(gtail)))
	w.Write(m)
	w.Write(ghead)
	w.Write(tensorHead)
	zeros := make([]byte, 1<<20)
	for left := 4*n - 4; left > 0; left -= min(left, len(zeros)) {
		w.Write(zeros[:min(left, len(zeros))])
	}
	w.Write(f32bytes(1.5))
	w.Write(gtail)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	md, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	v := md.Graph.Value("W").Const.Float32s()
	if len(v) != n || v[n-1] != 1.5 || v[0] != 0 {
		t.Fatalf("W has %d elements, last %v", len(v), v[len(v)-1])
	}
}
