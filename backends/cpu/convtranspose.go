package cpu

import (
	"context"
	"fmt"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

func init() {
	register("", "ConvTranspose", viaFloat32(newConvTranspose))
}

// newConvTranspose prepares a transposed convolution (1 to 3 spatial axes, groups,
// strides, dilations, pads, output_padding, output_shape). Per image and group it
// computes col = W_gᵀ·X_g (a GEMM: float32 on package gemm) and scatters col into
// the output (col2im), then adds the bias.
func newConvTranspose(n *graph.Node, env *Env) (backends.Kernel, error) {
	dt := n.Inputs[0].DType
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, unsupported(n, "dtype %v", dt)
	}
	name, attrs := n.Name, n.Attrs
	return backends.KernelFunc(func(_ context.Context, in, out []*tensor.Tensor) error {
		x, w, y := in[0], in[1], out[0]
		var b *tensor.Tensor
		if len(in) > 2 {
			b = in[2]
		}
		xs, ws := x.Shape(), w.Shape()
		if len(xs) < 3 || len(xs) > 5 || len(ws) != len(xs) {
			return fmt.Errorf("cpu: node %q (ConvTranspose): X %v and W %v must both have rank 3 to 5", name, xs, ws)
		}
		g, err := ops.ConvTransposeGeometry(attrs, xs[2:], ws[2:])
		if err != nil {
			return fmt.Errorf("cpu: node %q (ConvTranspose): %w", name, err)
		}
		cout := ws[1] * g.Group
		if xs[1] != ws[0] || xs[1]%g.Group != 0 {
			return fmt.Errorf("cpu: node %q (ConvTranspose): X has %d channels, W %v with group %d", name, xs[1], ws, g.Group)
		}
		if want := append([]int{xs[0], cout}, g.Out...); fmt.Sprint(y.Shape()) != fmt.Sprint(want) {
			return fmt.Errorf("cpu: node %q (ConvTranspose): output %v, expected %v", name, y, want)
		}
		if b != nil && b.Len() != cout {
			return fmt.Errorf("cpu: node %q (ConvTranspose): bias %v, expected [%d]", name, b, cout)
		}
		if dt == tensor.Float32 {
			err = convTransposeRun(env, g, xs, ws, x.Float32s(), w.Float32s(), tensorF32(b), y.Float32s(), f32GEMM(env))
		} else {
			err = convTransposeRun(env, g, xs, ws, x.Float64s(), w.Float64s(), tensorF64(b), y.Float64s(), genericGEMM[float64](env))
		}
		if err != nil {
			return fmt.Errorf("cpu: node %q (ConvTranspose): %w", name, err)
		}
		return nil
	}), nil
}

func convTransposeRun[T float32 | float64](env *Env, geo *ops.Geometry, xs, ws []int, x, w, b, y []T, mm matmulFunc[T]) error {
	// The transposed convolution is the adjoint of a forward one whose input is our
	// output: swap the roles of in and out in the geometry.
	g := toGeo3(geo)
	g.in, g.out = g.out, g.in
	batch, cin, group := xs[0], xs[1], geo.Group
	cg, mg := cin/group, ws[1]
	cout := mg * group
	kk := g.kernelSize()
	rows := mg * kk                        // rows of col per group
	inSz, outSz := g.outSize(), g.inSize() // X positions, Y positions
	chunk := max(16, min(inSz, colBudget/max(1, rows)))
	col := make([]T, rows*chunk)
	clear(y)
	for img := 0; img < batch; img++ {
		for gr := 0; gr < group; gr++ {
			xg := x[(img*cin+gr*cg)*inSz : (img*cin+(gr+1)*cg)*inSz]
			wg := w[gr*cg*rows : (gr+1)*cg*rows] // cg × (mg·kk)
			yg := y[(img*cout+gr*mg)*outSz : (img*cout+(gr+1)*mg)*outSz]
			for p0 := 0; p0 < inSz; p0 += chunk {
				n := min(chunk, inSz-p0)
				if err := mm(true, rows, n, cg, wg, rows, xg[p0:], inSz, col, n); err != nil {
					return err
				}
				col2im(env, &g, col[:rows*n], mg, yg, p0, n)
			}
		}
	}
	if b != nil {
		for i := 0; i < batch*cout; i++ {
			bv := b[i%cout]
			for j := range y[i*outSz : (i+1)*outSz] {
				y[i*outSz+j] += bv
			}
		}
	}
	return nil
}

// col2im adds col[r][j] into y at the output position that X position p0+j reaches
// through kernel offset r = (m, kd, kh, kw). g describes the forward convolution from
// y (g.in) to X (g.out). Channels m are split across threads (each owns its planes).
func col2im[T float32 | float64](env *Env, g *geo3, col []T, mg int, y []T, p0, n int) {
	kk := g.kernelSize()
	ySz := g.inSize()
	env.Parallel(mg, 1, func(lo, hi int) {
		for m := lo; m < hi; m++ {
			ym := y[m*ySz : (m+1)*ySz]
			for rem := 0; rem < kk; rem++ {
				kd, kh, kw := rem/(g.k[1]*g.k[2]), rem/g.k[2]%g.k[1], rem%g.k[2]
				src := col[(m*kk+rem)*n : (m*kk+rem+1)*n]
				p := p0
				for j := 0; j < n; {
					iw0 := p % g.out[2]
					ih := p / g.out[2] % g.out[1]
					id := p / (g.out[2] * g.out[1])
					cnt := min(g.out[2]-iw0, n-j)
					od := id*g.s[0] - g.pb[0] + kd*g.d[0]
					oh := ih*g.s[1] - g.pb[1] + kh*g.d[1]
					if od >= 0 && od < g.in[0] && oh >= 0 && oh < g.in[1] {
						row := ym[(od*g.in[1]+oh)*g.in[2] : (od*g.in[1]+oh+1)*g.in[2]]
						off, st := kw*g.d[2]-g.pb[2], g.s[2]
						for q, v := range src[j : j+cnt] {
							if ow := (iw0+q)*st + off; ow >= 0 && ow < len(row) {
								row[ow] += v
							}
						}
					}
					j += cnt
					p += cnt
				}
			}
		}
	})
}
