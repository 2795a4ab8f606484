//go:build !amd64 || purego

package cpu

func arithF32(op arith, z, x, y []float32, sx, sy bool) bool { return false }

func reluF32(z, x []float32) { reluGo(z, x) }

const vectorized = false

func vecUnaryF32(op string) func(z, x []float32) { return nil }

func halfToFloat(z []float32, x []uint16) { halfToFloatGo(z, x) }

func floatToHalf(z []uint16, x []float32) { floatToHalfGo(z, x) }

func clampAffineF32(z, x []float32, a, b, lo, hi float32, mulx bool) {
	clampAffineGo(z, x, a, b, lo, hi, mulx)
}

func transpose8x8(dst []uint32, ldd int, src []uint32, lds int) bool { return false }

func leakyReluF32(z, x []float32, alpha float32) { leakyReluGo(z, x, alpha) }

func sumF32(x []float32, sq bool) (float64, int) { return 0, 0 }

func accumF32(acc []float64, x []float32, sq bool) int { return 0 }
