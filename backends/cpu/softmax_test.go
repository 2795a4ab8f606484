package cpu_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lightiam/lightos/backends/cpu"
	"github.com/lightiam/lightos/engine/exec"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/tensor"
)

// refSoftmax applies op along groups: outer × (axis values, inner stride).
func refSoftmax(op string, x *tensor.Tensor, outer, axis, inner int) []float64 {
	y := make([]float64, x.Len())
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			at := func(j int) int { return (o*axis+j)*inner + i }
			m, arg := math.Inf(-1), 0
			for j := 0; j < axis; j++ {
				if v := x.Float64At(at(j)); v > m {
					m, arg = v, j
				}
			}
			s := 0.0
			for j := 0; j < axis; j++ {
				s += math.Exp(x.Float64At(at(j)) - m)
			}
			for j := 0; j < axis; j++ {
				v := x.Float64At(at(j))
				switch op {
				case "Softmax":
					y[at(j)] = math.Exp(v-m) / s
				case "LogSoftmax":
					y[at(j)] = v - m - math.Log(s)
				case "Hardmax":
					if j == arg {
						y[at(j)] = 1
					}
				}
			}
		}
	}
	return y
}

func TestSoftmaxAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 1))
	cases := []struct {
		shape []int
		axis  *int64
		opset int64
	}{
		{[]int{1}, nil, 0},
		{[]int{5, 13}, nil, 0},
		{[]int{2, 12, 128}, nil, 13},
		{[]int{3, 5, 7}, nnPtr(1), 0},  // opset 13: single axis 1, inner 7
		{[]int{3, 5, 7}, nnPtr(0), 13}, // single axis 0
		{[]int{3, 5, 7}, nil, 11},      // opset 11 default axis 1: flatten [3, 35]
		{[]int{3, 5, 7}, nnPtr(-2), 11},
		{[]int{2, 3, 4, 5}, nnPtr(2), 12},
		{[]int{4, 1}, nnPtr(-1), 0},
	}
	for _, op := range []string{"Softmax", "LogSoftmax", "Hardmax"} {
		for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
			for _, c := range cases {
				t.Run(fmt.Sprintf("%s/%v/%v/axis=%v/opset=%d", op, dt, c.shape, c.axis, c.opset), func(t *testing.T) {
					x := randTensor(r, dt, c.shape...)
					for i := 0; i < x.Len(); i++ {
						x.SetFloat64At(i, x.Float64At(i)*10)
					}
					attrs := graph.Attrs{}
					if c.opset > 0 {
						attrs["_opset"] = graph.Int(c.opset)
					}
					legacy := c.opset > 0 && c.opset < 13
					ax := int64(-1)
					if legacy {
						ax = 1
					}
					if c.axis != nil {
						ax = *c.axis
						attrs["axis"] = graph.Int(ax)
					}
					if ax < 0 {
						ax += int64(len(c.shape))
					}
					outer := tensor.NumElements(c.shape[:ax])
					axis, inner := c.shape[ax], tensor.NumElements(c.shape[ax+1:])
					if legacy {
						axis, inner = axis*inner, 1
					}
					out, err := runOp(op, attrs, 1, feed(x))
					if err != nil {
						t.Fatal(err)
					}
					closeTo(t, op, out[0], c.shape, refSoftmax(op, x, outer, axis, inner), 1)
				})
			}
		}
	}
	_, err := runOp("Softmax", graph.Attrs{"axis": graph.Int(3)}, 1, feed(randTensor(r, tensor.Float32, 2, 3)))
	wantErr(t, "axis out of range", err)
}

func nnPtr(v int64) *int64 { return &v }

func TestExp32(t *testing.T) {
	// exp32 is unexported; check it through Softmax on rows of two values [v, 0],
	// whose first output is 1/(1+exp(-v)).
	r := rand.New(rand.NewPCG(12, 1))
	x := tensor.New(tensor.Float32, []int{2000, 2})
	for i := 0; i < 2000; i++ {
		x.Float32s()[2*i] = float32((r.Float64() - 0.5) * 180)
	}
	out, err := runOp("Softmax", nil, 1, feed(x))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2000; i++ {
		v := float64(x.Float32s()[2*i])
		want := 1 / (1 + math.Exp(-v))
		if got := float64(out[0].Float32s()[2*i]); math.Abs(got-want) > 1e-6*want+1e-37 {
			t.Fatalf("softmax([%v, 0])[0] = %v, want %v", v, got, want)
		}
	}
}

// TestSoftmaxGraphOpset: a graph whose Opset is 11 and whose node has no _opset
// attribute still gets the pre-13 (flatten from axis 1) meaning.
func TestSoftmaxGraphOpset(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 1))
	x := randTensor(r, tensor.Float32, 2, 3, 4)
	b := graph.NewBuilder("opset11")
	if _, err := b.Input("x", tensor.Float32, graph.ShapeOf(2, 3, 4)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Op("Softmax", "node_sm", []string{"x"}, []string{"y"}, nil); err != nil {
		t.Fatal(err)
	}
	b.Output("y")
	g, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	g.Opset = 11
	sess, err := exec.NewSession(g, cpu.New(cpu.Options{}), exec.Options{HeapOutputs: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := sess.Run(context.Background(), map[string]*tensor.Tensor{"x": x}, nil)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "Softmax opset 11", res.Outputs[0], []int{2, 3, 4}, refSoftmax("Softmax", x, 2, 12, 1), 1)
	if g.Nodes[0].Attrs.Has("_opset") {
		t.Error("inference on the session's copy changed the caller's graph")
	}
}

// TestSoftmaxNaNRow: as in NumPy, a row holding a NaN softmaxes to NaNs; other rows
// are unaffected.
func TestSoftmaxNaNRow(t *testing.T) {
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
		x := tensor.New(dt, []int{2, 11})
		for i := 0; i < 22; i++ {
			x.SetFloat64At(i, float64(i%5))
		}
		x.SetFloat64At(3, math.NaN())
		out, err := runOp("Softmax", nil, 1, feed(x))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 22; i++ {
			if v := out[0].Float64At(i); (i < 11) != math.IsNaN(v) {
				t.Fatalf("%v: element %d = %v", dt, i, v)
			}
		}
	}
}
