//go:build !amd64 || purego

package cpu

func expShiftSum(x, y []float32, m float32) float32 { return expShiftSumGo(x, y, m) }

func scale(y []float32, s float32) { scaleGo(y, s) }
