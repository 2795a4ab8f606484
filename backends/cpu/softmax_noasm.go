//go:build !amd64 || purego

package cpu

func expShiftSum(x, y []float32, m float32) float32 { return expShiftSumGo(x, y, m) }

func scale(y []float32, s float32) { scaleGo(y, s) }

func sum(x []float32) float32 { return sumGo(x) }

func sqDiffSum(x []float32, m float32) float32 { return sqDiffSumGo(x, m) }

func normAffine(x, y, g, b []float32, m, inv float32) { normAffineGo(x, y, g, b, m, inv) }

func rowMax(x []float32) float32 { return rowMaxGo(x) }

func scaleShift(x, y []float32, a, b float32) { scaleShiftGo(x, y, a, b) }
