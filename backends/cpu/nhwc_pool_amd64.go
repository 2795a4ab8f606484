//go:build amd64 && !purego

package cpu

// maxWindowAVX2 is maxWindowsGo for n a multiple of 8 (nhwc_pool_amd64.s): 32
// channels at a time while they last, then 8; a NaN tap sets its lane to NaN.
//
//go:noescape
func maxWindowAVX2(z, x *float32, n, k, step, count, xstride int)

// maxWindowsAsm runs maxWindowAVX2 when AVX2 is present and n is a multiple of 8, and
// reports whether it did (the caller checked the bounds).
func maxWindowsAsm(z, x []float32, n, k, step, count, xstride int) bool {
	if !elemAVX2 || n%8 != 0 {
		return false
	}
	maxWindowAVX2(&z[0], &x[0], n, k, step, count, xstride)
	return true
}
