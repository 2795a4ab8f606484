package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// refHalf converts float32 to float16 bits through float64 arithmetic, as the
// reference for Float32ToFloat16: it picks the nearest representable half (ties to even).
func refHalf(f float32) uint16 {
	best, bestErr := uint16(0), math.Inf(1)
	if math.IsNaN(float64(f)) {
		return 0x7e00
	}
	// candidates: scan neighbours of the truncated value
	for _, c := range candidates(f) {
		v := float64(Float16ToFloat32(c))
		e := math.Abs(v - float64(f))
		if e < bestErr || (e == bestErr && c&1 == 0) {
			best, bestErr = c, e
		}
	}
	return best
}

func candidates(f float32) []uint16 {
	var out []uint16
	sign := uint16(0)
	if math.Signbit(float64(f)) {
		sign = 0x8000
	}
	a := math.Abs(float64(f))
	// binary search the magnitude among the 0x7c00 finite-or-inf codes
	lo, hi := 0, 0x7c00
	for lo < hi {
		mid := (lo + hi) / 2
		if float64(Float16ToFloat32(uint16(mid))) < a {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	for c := lo - 1; c <= lo; c++ {
		if c >= 0 && c <= 0x7c00 {
			out = append(out, sign|uint16(c))
		}
	}
	return out
}

func TestFloat16RoundTripAndRounding(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	values := []float32{0, 1, -1, 65504, 65520, 1e-8, 6e-8, 5.96e-8, 3e-5, 0.1, -2.5, float32(math.Inf(1))}
	for i := 0; i < 5000; i++ {
		values = append(values, float32(r.NormFloat64()*math.Pow(10, float64(r.IntN(10)-5))))
	}
	for _, f := range values {
		got, want := Float32ToFloat16(f), refHalf(f)
		if math.Abs(float64(f)) >= 65520 {
			want = 0x7c00 | want&0x8000 // overflow rounds to infinity
		}
		if got != want {
			t.Fatalf("Float32ToFloat16(%g) = %#04x (%g), want %#04x (%g)", f, got, Float16ToFloat32(got), want, Float16ToFloat32(want))
		}
	}
	for h := 0; h < 0x10000; h++ {
		f := Float16ToFloat32(uint16(h))
		if math.IsNaN(float64(f)) {
			continue
		}
		if back := Float32ToFloat16(f); back != uint16(h) {
			t.Fatalf("half %#04x -> %g -> %#04x", h, f, back)
		}
	}
}

func TestBFloat16(t *testing.T) {
	cases := []struct {
		in   float32
		want float32
	}{{1, 1}, {1.00390625, 1}, {1.01171875, 1.015625}, {-3.140625, -3.140625}, {0, 0}}
	for _, c := range cases {
		if got := BFloat16ToFloat32(Float32ToBFloat16(c.in)); got != c.want {
			t.Errorf("bfloat16(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if !math.IsNaN(float64(BFloat16ToFloat32(Float32ToBFloat16(float32(math.NaN()))))) {
		t.Error("NaN did not stay NaN")
	}
}

func TestMappedTensorLivesOutsideTheGoHeapAndReleases(t *testing.T) {
	m, err := NewMapped(Float32, []int{3, 5})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Mapped() || m.Len() != 15 || len(m.Float32s()) != 15 {
		t.Fatalf("mapped tensor: mapped=%v len=%d", m.Mapped(), m.Len())
	}
	m.Float32s()[14] = 7
	if m.Pointer()%4096 != 0 {
		t.Errorf("mapping not page aligned: %#x", m.Pointer())
	}
	if err := m.Release(); err != nil {
		t.Fatal(err)
	}
	if err := m.Release(); err != nil { // second release is a no-op
		t.Fatal(err)
	}
}

func TestBorrowSharesMemory(t *testing.T) {
	buf := make([]float64, 6)
	b, err := Borrow(Float64, []int{2, 3}, uintptr(unsafe.Pointer(&buf[0])))
	if err != nil {
		t.Fatal(err)
	}
	b.Float64s()[4] = 42
	if buf[4] != 42 {
		t.Fatal("borrowed tensor does not share the caller's memory")
	}
	if _, err := Borrow(Float64, []int{2}, 0); err == nil {
		t.Error("borrow of nil pointer accepted")
	}
	if _, err := Borrow(Float64, []int{2}, uintptr(unsafe.Pointer(&buf[0]))+1); err == nil {
		t.Error("misaligned borrow accepted")
	}
	if _, err := FromBytes(Float32, []int{3}, make([]byte, 8)); err == nil {
		t.Error("FromBytes with the wrong length accepted")
	}
}

func TestSetAndGetEveryDType(t *testing.T) {
	for dt := range dtypeInfo {
		x := New(dt, []int{4})
		for i, v := range []float64{0, 1, 2, 1} {
			x.SetFloat64At(i, v)
		}
		for i, v := range []float64{0, 1, 2, 1} {
			if dt == Bool && v > 1 {
				v = 1
			}
			if got := x.Float64At(i); got != v {
				t.Errorf("%v: element %d = %v, want %v", dt, i, got, v)
			}
		}
		if p, err := ParseDType(dt.String()); err != nil || p != dt {
			t.Errorf("ParseDType(%q) = %v, %v", dt.String(), p, err)
		}
	}
}
