package cpu

// Winograd F(4x4, 3x3): each tile is a 4x4 block of output pixels, computed from a
// 6x6 input patch with the transforms (points 0, ±1, ±2; Lavin and Gray, 2015)
//
//	Bᵀ = | 4  0 -5  0  1  0 |   G = | 1/4     0     0 |   Aᵀ = | 1  1  1  1  1  0 |
//	     | 0 -4 -4  1  1  0 |       | -1/6 -1/6  -1/6 |        | 0  1 -1  2 -2  0 |
//	     | 0  4 -4 -1  1  0 |       | -1/6  1/6  -1/6 |        | 0  1  1  4  4  0 |
//	     | 0 -2 -1  2  1  0 |       | 1/24  1/12  1/6 |        | 0  1 -1  8 -8  1 |
//	     | 0  2 -1 -2  1  0 |       | 1/24 -1/12  1/6 |
//	     | 0  4  0 -5  0  1 |       | 0     0     1   |
//
// 36 GEMMs of tiles·C·M per 16 output pixels against the direct convolution's 144
// (4x fewer multiplications; F(2x2, 3x3) makes 16 per 4 pixels, 2.25x fewer). It
// runs channels-last only: each tile's patch is read straight from the input's
// pixels (runs of channels) and its outputs written straight to the output's, and
// the 1-D transforms run over blocks of wino4Block channels (AVX2 loops in
// winograd4_amd64.s). The rest (chunks of tiles, threads, the GEMMs) is
// winograd.go's, with 36 products instead of 16.

// wino4Block is how many channels the F(4x4) transforms take at once: their 6x6
// temporaries (36 vectors) then stay in the L1 cache.
const wino4Block = 64

// wino4TransformWeight writes G·g·Gᵀ of one 3x3 kernel g (in float64) to
// u[ξ·plane + at] for the 36 positions ξ.
func wino4TransformWeight(u, g []float32, at, plane int) {
	gm := [6][3]float64{{1.0 / 4, 0, 0}, {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
		{1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}}
	var t [6][3]float64 // G·g
	for i := range t {
		for j := 0; j < 3; j++ {
			for k := 0; k < 3; k++ {
				t[i][j] += gm[i][k] * float64(g[3*k+j])
			}
		}
	}
	for i := 0; i < 6; i++ {
		for j := 0; j < 6; j++ {
			s := 0.0
			for k := 0; k < 3; k++ {
				s += t[i][k] * gm[j][k]
			}
			u[(i*6+j)*plane+at] = float32(s)
		}
	}
}

// wino4Tmp returns sc's temporaries for the F(4x4) transforms: 36 work vectors of
// wino4Block floats, then a vector of zeros (padding; the absent bias or
// residual), then one that absorbs the outputs of a partial tile.
func (sc *winogradScratch) wino4Tmp() []float32 {
	n := 38 * wino4Block
	if len(sc.tmp) < n {
		sc.tmp = make([]float32, n)
	}
	t := sc.tmp[:n]
	clear(t[36*wino4Block : 37*wino4Block])
	return t
}

// inputTransform4 writes v[ξ][t-t0][c] = (Bᵀ·d·B)[ξ] for the tiles t0+lo ...
// t0+hi-1, d the 6x6 patch of channel c under the tile (zero outside the input).
// Channels-last only.
func (wc *winogradConv) inputTransform4(v []float32, chunk, t0, lo, hi int, tmp []float32) {
	stride := chunk * wc.c
	zeros := tmp[36*wino4Block : 37*wino4Block]
	var src, dst [6][]float32
	for t := lo; t < hi; t++ {
		img, r0, c0 := wc.tile(t0 + t)
		for cb := 0; cb < wc.c; cb += wino4Block {
			n := min(wino4Block, wc.c-cb)
			// Bᵀ·d, column by column, into tmp (row-major 6x6 of vectors).
			for j := 0; j < 6; j++ {
				col := c0 + j
				for k := 0; k < 6; k++ {
					if r := r0 + k; r < 0 || r >= wc.h || col < 0 || col >= wc.w {
						src[k] = zeros[:n]
					} else {
						p := ((img*wc.h+r)*wc.w+col)*wc.c + cb
						src[k] = wc.x[p : p+n]
					}
					dst[k] = tmp[(k*6+j)*wino4Block:][:n]
				}
				wino4In(&dst, &src, n)
			}
			// (Bᵀ·d)·B, row by row, into the 36 matrices.
			for i := 0; i < 6; i++ {
				for k := 0; k < 6; k++ {
					src[k] = tmp[(i*6+k)*wino4Block:][:n]
					o := (i*6+k)*stride + t*wc.c + cb
					dst[k] = v[o : o+n]
				}
				wino4In(&dst, &src, n)
			}
		}
	}
}

// outputTransform4 writes the output pixels of tiles t0+lo ... t0+hi-1: Aᵀ·P·A of
// the 6x6 products P of each output channel, plus the bias and the residual (which
// may be y: each is read before it is written), through ReLU if asked.
// Channels-last only.
func (wc *winogradConv) outputTransform4(prod []float32, chunk, t0, lo, hi int, tmp []float32) {
	stride := chunk * wc.m
	zeros := tmp[36*wino4Block : 37*wino4Block]
	junk := tmp[37*wino4Block : 38*wino4Block]
	var src [6][]float32
	var dst, res [4][]float32
	for t := lo; t < hi; t++ {
		img, r0, c0 := wc.tile(t0 + t)
		r0, c0 = r0+wc.pt, c0+wc.pl // the tile's output position
		for cb := 0; cb < wc.m; cb += wino4Block {
			n := min(wino4Block, wc.m-cb)
			// Aᵀ·P, column by column, into the first 4 rows of tmp.
			for j := 0; j < 6; j++ {
				for k := 0; k < 6; k++ {
					o := (k*6+j)*stride + t*wc.m + cb
					src[k] = prod[o : o+n]
				}
				for k := 0; k < 4; k++ {
					dst[k] = tmp[(k*6+j)*wino4Block:][:n]
				}
				wino4Out(&dst, &src, n)
			}
			bias := zeros[:n]
			if wc.bias != nil {
				bias = wc.bias[cb : cb+n]
			}
			// (Aᵀ·P)·A, row by row, to the output pixels with the epilogue.
			for i := 0; i < 4 && r0+i < wc.oh; i++ {
				for k := 0; k < 6; k++ {
					src[k] = tmp[(i*6+k)*wino4Block:][:n]
				}
				for j := 0; j < 4; j++ {
					dst[j], res[j] = junk[:n], zeros[:n]
					if c0+j < wc.ow {
						p := ((img*wc.oh+r0+i)*wc.ow+c0+j)*wc.m + cb
						dst[j] = wc.y[p : p+n]
						if wc.residual != nil {
							res[j] = wc.residual[p : p+n]
						}
					}
				}
				wino4OutEpi(&dst, &src, &res, bias, n, wc.relu)
			}
		}
	}
}

// wino4In writes the six rows of Bᵀ·d to dst[0..5][:n], d_k = src[k][:n].
func wino4In(dst, src *[6][]float32, n int) {
	for k := range src {
		_, _ = dst[k][:n], src[k][:n] // every vector holds n floats
	}
	done := 0
	if wino4AVX2 && n >= 8 {
		done = n &^ 7
		var dp, sp [6]*float32
		for k := range sp {
			dp[k], sp[k] = &dst[k][0], &src[k][0]
		}
		wino4InAVX2(&dp, &sp, done)
	}
	for i := done; i < n; i++ {
		d0, d1, d2, d3, d4, d5 := src[0][i], src[1][i], src[2][i], src[3][i], src[4][i], src[5][i]
		dst[0][i] = 4*d0 - 5*d2 + d4
		dst[1][i] = (d3 + d4) - 4*(d1+d2)
		dst[2][i] = (d4 - d3) + 4*(d1-d2)
		dst[3][i] = (d4 - d2) + 2*(d3-d1)
		dst[4][i] = (d4 - d2) - 2*(d3-d1)
		dst[5][i] = 4*d1 - 5*d3 + d5
	}
}

// wino4Out writes the four rows of Aᵀ·m to dst[0..3][:n], m_k = src[k][:n].
func wino4Out(dst *[4][]float32, src *[6][]float32, n int) {
	for k := range src {
		_ = src[k][:n]
	}
	for k := range dst {
		_ = dst[k][:n]
	}
	done := 0
	if wino4AVX2 && n >= 8 {
		done = n &^ 7
		var dp [4]*float32
		var sp [6]*float32
		for k := range sp {
			sp[k] = &src[k][0]
		}
		for k := range dp {
			dp[k] = &dst[k][0]
		}
		wino4OutAVX2(&dp, &sp, done)
	}
	for i := done; i < n; i++ {
		o := wino4OutAt(src, i)
		for k := range dst {
			dst[k][i] = o[k]
		}
	}
}

// wino4OutEpi is wino4Out plus bias[:n] and res[k][:n], through ReLU if relu;
// res[k] may be dst[k].
func wino4OutEpi(dst *[4][]float32, src *[6][]float32, res *[4][]float32, bias []float32, n int, relu bool) {
	_ = bias[:n]
	for k := range src {
		_ = src[k][:n]
	}
	for k := range dst {
		_, _ = dst[k][:n], res[k][:n]
	}
	done := 0
	if wino4AVX2 && n >= 8 {
		done = n &^ 7
		var dp, rp [4]*float32
		var sp [6]*float32
		for k := range sp {
			sp[k] = &src[k][0]
		}
		for k := range dp {
			dp[k], rp[k] = &dst[k][0], &res[k][0]
		}
		wino4OutEpiAVX2(&dp, &sp, &rp, &bias[0], done, relu)
	}
	for i := done; i < n; i++ {
		o := wino4OutAt(src, i)
		for k := range dst {
			v := o[k] + bias[i] + res[k][i]
			if relu && v < 0 {
				v = 0
			}
			dst[k][i] = v
		}
	}
}

// wino4OutAt is Aᵀ·m at element i of the six vectors of src.
func wino4OutAt(src *[6][]float32, i int) [4]float32 {
	m0, m1, m2, m3, m4, m5 := src[0][i], src[1][i], src[2][i], src[3][i], src[4][i], src[5][i]
	s12, a12, s34, a34 := m1+m2, m1-m2, m3+m4, m3-m4
	return [4]float32{m0 + s12 + s34, a12 + 2*a34, s12 + 4*s34, a12 + 8*a34 + m5}
}
