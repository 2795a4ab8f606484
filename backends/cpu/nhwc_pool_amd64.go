//go:build amd64 && !purego

package cpu

// maxWindowAVX2 is maxWindowGo for n a multiple of 8 (nhwc_pool_amd64.s): 32
// channels at a time while they last, then 8; a NaN tap sets its lane to NaN.
//
//go:noescape
func maxWindowAVX2(z, x *float32, n, k, step int)

// maxWindowAsm runs maxWindowAVX2 on the multiple-of-8 prefix of n where AVX2 is
// present and returns how many elements it covered (the caller checked the bounds).
func maxWindowAsm(z, x []float32, n, k, step int) int {
	n8 := n &^ 7
	if !elemAVX2 || n8 == 0 {
		return 0
	}
	maxWindowAVX2(&z[0], &x[0], n8, k, step)
	return n8
}
