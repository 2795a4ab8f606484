//go:build !amd64 || purego

package cpu

// wino4AVX2 is false without the assembly loops: winograd4.go's Go loops run.
const wino4AVX2 = false

func wino4InAVX2(dst, src *[6]*float32, n int) { panic("cpu: no AVX2 Winograd loops") }

func wino4OutAVX2(dst *[4]*float32, src *[6]*float32, n int) {
	panic("cpu: no AVX2 Winograd loops")
}

func wino4OutEpiAVX2(dst *[4]*float32, src *[6]*float32, res *[4]*float32, bias *float32, n int, relu bool) {
	panic("cpu: no AVX2 Winograd loops")
}
