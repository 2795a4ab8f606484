package sim

import (
	"fmt"
	"math"
)

// ThermalParams are the constants of the thermal model
//
//	T = Inlet + R0·P + x1 + x2,  dxi/dt = (Ri·P − xi)/Taui
//
// with P in watts, T in °C and Tau in seconds.
type ThermalParams struct {
	R0          float64 // °C/W, instantaneous
	R1, Tau1    float64 // fast node
	R2, Tau2    float64 // slow node
	FittedInlet float64 // the effective inlet temperature of the measured machine
}

// R is the steady-state thermal resistance R0+R1+R2.
func (p ThermalParams) R() float64 { return p.R0 + p.R1 + p.R2 }

// Validate reports parameters that cannot describe a device.
func (p ThermalParams) Validate() error {
	if p.R0 < 0 || p.R1 < 0 || p.R2 < 0 || !(p.Tau1 > 0) || !(p.Tau2 > 0) || math.IsInf(p.Tau1, 0) || math.IsInf(p.Tau2, 0) {
		return fmt.Errorf("sim: thermal parameters %+v: resistances must be >= 0 and time constants > 0", p)
	}
	return nil
}

// Thermal is the state of a thermal model: the two node temperatures above inlet.
// The zero value is a device at inlet temperature with no power.
type Thermal struct {
	Params  ThermalParams
	Inlet   float64 // °C
	Cooling float64 // multiplies every R; 0 means 1
	X1, X2  float64 // °C above inlet, slow and fast node
	P       float64 // the power of the last step, for the instantaneous term
}

func (t *Thermal) c() float64 {
	if t.Cooling <= 0 {
		return 1
	}
	return t.Cooling
}

// Temp is the current die temperature.
func (t *Thermal) Temp() float64 { return t.Inlet + t.c()*t.Params.R0*t.P + t.X1 + t.X2 }

// SetSteady puts the model in the steady state for power p.
func (t *Thermal) SetSteady(p float64) {
	c := t.c()
	t.X1, t.X2, t.P = c*t.Params.R1*p, c*t.Params.R2*p, p
}

// Step advances the model by dt seconds at constant power p (exact for a constant p).
func (t *Thermal) Step(dt, p float64) {
	if dt <= 0 {
		t.P = p
		return
	}
	c := t.c()
	e1, e2 := math.Exp(-dt/t.Params.Tau1), math.Exp(-dt/t.Params.Tau2)
	t.X1 = c*t.Params.R1*p + (t.X1-c*t.Params.R1*p)*e1
	t.X2 = c*t.Params.R2*p + (t.X2-c*t.Params.R2*p)*e2
	t.P = p
}

// TempAfter is the temperature after holding power p for h seconds, without
// changing the state.
func (t *Thermal) TempAfter(p, h float64) float64 {
	s := *t
	s.Step(h, p)
	return s.Temp()
}

// PredictPeak is the highest temperature reached while holding power p for h
// seconds from the current state. Each node moves monotonically, so the peak is at
// the start, the end, or where the fast node's fall and the slow node's rise cancel;
// 48 samples, denser near the start where the fast node moves, bound it within about
// 0.05 °C.
func (t *Thermal) PredictPeak(p, h float64) float64 {
	s := *t
	s.P = p
	peak := s.Temp()
	if h <= 0 {
		return peak
	}
	const n = 48
	for i := 1; i <= n; i++ {
		f := float64(i) / n
		s2 := s
		s2.Step(h*f*f, p)
		peak = math.Max(peak, s2.Temp())
	}
	return peak
}

// MaxPower is the highest constant power that keeps the temperature at or below
// limit for h seconds from the current state (0 when even no power exceeds it).
func (t *Thermal) MaxPower(limit, h, pmax float64) float64 {
	if t.PredictPeak(pmax, h) <= limit {
		return pmax
	}
	if t.PredictPeak(0, h) > limit {
		return 0
	}
	lo, hi := 0.0, pmax
	for range 40 {
		mid := (lo + hi) / 2
		if t.PredictPeak(mid, h) <= limit {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}
