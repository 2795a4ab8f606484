package sim

import (
	"math"
	"math/rand"
	"os"
	"strings"
	"testing"
)

func loadTrace(t *testing.T) []TraceSample {
	t.Helper()
	f, err := os.Open("testdata/h100-thermal-trace.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := ParseTrace(f)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestH100FitError checks that the stored parameters reproduce the errors recorded
// in FIT.md (fit window and validation window).
func TestH100FitError(t *testing.T) {
	tr := loadTrace(t)
	for _, c := range []struct {
		name     string
		from, to float64
		rmsMax   float64
	}{{"full load", 15, 105, 0.7}, {"cool-down", 105, 195, 0.6}, {"50% duty (validation)", 195, 285, 3.6}} {
		rms, _ := FitErrorWindow(H100Thermal, tr, c.from, c.to)
		if !(rms <= c.rmsMax) {
			t.Errorf("%s: rms %.3f C, recorded below %.2f", c.name, rms, c.rmsMax)
		}
	}
	if r := H100Thermal.R(); math.Abs(r-0.056) > 0.004 {
		t.Errorf("R = %.4f C/W, data README says ~0.056", r)
	}
}

// TestThermalStepAgainstEuler compares the exact step with a fine explicit Euler
// integration in float64 on random powers and awkward step lengths.
func TestThermalStepAgainstEuler(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for trial := range 50 {
		p := ThermalParams{R0: rng.Float64() * 0.03, R1: rng.Float64() * 0.05, Tau1: 0.1 + rng.Float64()*3,
			R2: rng.Float64() * 0.05, Tau2: 5 + rng.Float64()*40}
		m := Thermal{Params: p, Inlet: 20 + rng.Float64()*20, Cooling: 0.8 + rng.Float64()*0.6}
		m.SetSteady(rng.Float64() * 300)
		x1, x2 := m.X1, m.X2
		c := m.Cooling
		for range 7 {
			dt, pw := 0.013+rng.Float64()*3.7, rng.Float64()*800
			m.Step(dt, pw)
			n := 20000
			h := dt / float64(n)
			for range n {
				x1 += h * (c*p.R1*pw - x1) / p.Tau1
				x2 += h * (c*p.R2*pw - x2) / p.Tau2
			}
			ref := m.Inlet + c*p.R0*pw + x1 + x2
			if d := math.Abs(m.Temp() - ref); d > 1e-3 {
				t.Fatalf("trial %d: exact %.6f, Euler %.6f", trial, m.Temp(), ref)
			}
		}
	}
}

func TestPredictPeakAndMaxPower(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for range 30 {
		m := Thermal{Params: H100Thermal, Inlet: 25 + rng.Float64()*20}
		m.SetSteady(rng.Float64() * 700)
		m.Step(rng.Float64()*5, rng.Float64()*700)
		pw, h := rng.Float64()*700, 0.5+rng.Float64()*60
		peak := m.PredictPeak(pw, h)
		ref := -math.MaxFloat64
		for i := 0; i <= 2000; i++ {
			ref = math.Max(ref, m.TempAfter(pw, h*float64(i)/2000))
		}
		if math.Abs(peak-ref) > 0.05 {
			t.Fatalf("peak %.3f, brute force %.3f", peak, ref)
		}
		limit := m.Temp() + rng.Float64()*20
		pm := m.MaxPower(limit, h, 700)
		if pm > 0 && pm < 700 && math.Abs(m.PredictPeak(pm, h)-limit) > 0.01 {
			t.Fatalf("MaxPower %.1f gives peak %.3f, limit %.3f", pm, m.PredictPeak(pm, h), limit)
		}
	}
}

func TestSteadyStateMatchesData(t *testing.T) {
	m := Thermal{Params: H100Thermal, Inlet: H100Thermal.FittedInlet}
	m.SetSteady(697)
	if d := m.Temp() - 66; math.Abs(d) > 1.5 {
		t.Errorf("steady state at 697 W: %.1f C, measured 66", m.Temp())
	}
}

func TestDeviceIsLabeledSimulated(t *testing.T) {
	for _, p := range []Profile{H100(), PhotonicNPU()} {
		d, err := New(p, Options{ID: 2})
		if err != nil {
			t.Fatal(err)
		}
		info := d.Info()
		if !info.Simulated || !strings.Contains(info.Name, "simulated") || !strings.Contains(info.String(), "simulated") {
			t.Errorf("%v is not labeled simulated", info)
		}
		tel, _ := d.Telemetry()
		if !tel.TemperatureC.Valid || !tel.PowerW.Valid || math.Abs(tel.PowerW.Value-p.IdleW) > 1e-9 {
			t.Errorf("%s: idle telemetry %+v", p.Name, tel)
		}
	}
}

// TestThrottling: at the measured inlet the H100 never throttles under full load (as
// measured); with a hot inlet and weaker cooling it does, and throttling lowers speed.
func TestThrottling(t *testing.T) {
	run := func(o Options) (events int, minSpeed float64) {
		d, err := New(H100(), o)
		if err != nil {
			t.Fatal(err)
		}
		minSpeed = 1
		for range 3000 { // 300 s
			st := d.Advance(0.1, Load{Util: 1})
			minSpeed = math.Min(minSpeed, st.Speed)
		}
		events, _ = d.ThrottleEvents()
		return
	}
	if ev, _ := run(Options{}); ev != 0 {
		t.Errorf("measured machine throttled %d times, the card never did", ev)
	}
	ev, s := run(Options{InletC: 45, Cooling: 1.2})
	if ev == 0 || s > H100().ThrottleSpeed+1e-9 {
		t.Errorf("hot inlet: %d events, min speed %.2f", ev, s)
	}
}

func TestPowerModel(t *testing.T) {
	p := H100()
	if d := p.DemandW(1, 0, 0); d != p.MaxW {
		t.Errorf("full demand %g, want %g", d, p.MaxW)
	}
	prev := math.Inf(1)
	for _, s := range []float64{0, 0.25, 0.5, 0.9} {
		d := p.DemandW(1, 0, s)
		if !(d < prev) {
			t.Errorf("demand not decreasing with sparsity: %g at %g", d, s)
		}
		prev = d
	}
	if p.DemandW(1, 1, 0) >= p.DemandW(1, 32, 0) {
		t.Error("batch 1 should draw less than batch 32")
	}
	for _, capW := range []float64{200, 400, 650} {
		s := p.SpeedAt(700, capW)
		if math.Abs(p.PowerAt(700, s)-capW) > 1e-6 {
			t.Errorf("cap %g: speed %g draws %g", capW, s, p.PowerAt(700, s))
		}
	}
}

func TestBadInput(t *testing.T) {
	bad := H100()
	bad.Thermal.Tau1 = 0
	if _, err := New(bad, Options{}); err == nil {
		t.Error("zero time constant accepted")
	}
	if _, err := New(H100(), Options{Cooling: -1}); err == nil {
		t.Error("negative cooling accepted")
	}
	if _, err := ParseTrace(strings.NewReader("h\n1,2\n")); err == nil {
		t.Error("short trace line accepted")
	}
	d, _ := New(H100(), Options{})
	st := d.Advance(math.NaN(), Load{Util: 1})
	if st.TFLOP != 0 {
		t.Error("NaN step did work")
	}
}
