//go:build amd64 && !purego

package cpu

import "golang.org/x/sys/cpu"

// wino4AVX2 selects the AVX2 loops of Winograd F(4x4, 3x3)'s transforms
// (winograd4_amd64.s).
var wino4AVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// The transforms' loops over n floats, n a multiple of 8; wino4In and the others
// (winograd4.go) check the lengths and run the rest.

//go:noescape
func wino4InAVX2(dst, src *[6]*float32, n int)

//go:noescape
func wino4OutAVX2(dst *[4]*float32, src *[6]*float32, n int)

//go:noescape
func wino4OutEpiAVX2(dst *[4]*float32, src *[6]*float32, res *[4]*float32, bias *float32, n int, relu bool)
