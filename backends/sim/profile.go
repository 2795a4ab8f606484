package sim

import (
	"fmt"

	"github.com/lightiam/lightos/backends"
)

// Profile describes a kind of simulated device: its thermal, power and speed models.
type Profile struct {
	Name    string
	Kind    backends.Kind
	Thermal ThermalParams
	// IdleW is the power with a context held and nothing running.
	IdleW float64
	// MaxW is the power demanded at full utilization, full batch, dense weights and
	// full clocks; with the default cap it is the enforced power limit.
	MaxW float64
	// PowerLimitW is the enforced power limit (0: MaxW).
	PowerLimitW float64
	// PeakTFLOPS is the sustained rate at full clocks and full batch.
	PeakTFLOPS float64
	// SpeedExponent relates clocks to dynamic power: Pdyn ∝ speed^SpeedExponent.
	SpeedExponent float64
	// SlowdownC starts hardware throttling; it ends HysteresisC lower.
	SlowdownC, ShutdownC, HysteresisC float64
	// ThrottleSpeed is the clock fraction while throttled, for at least ThrottleHoldS.
	ThrottleSpeed, ThrottleHoldS float64
	// BatchHalf is the batch that fills half the device (utilization b/(b+BatchHalf),
	// normalized to 1 at FullBatch).
	BatchHalf, FullBatch float64
	// SparsityPower is the fraction of dynamic power saved when every weight is zero.
	SparsityPower float64
	MemoryBytes   int64
	ComputeUnits  int
	MaxClockMHz   float64
}

// H100 is an H100 SXM 80GB: thermal model fitted to the measured trace, idle 118 W
// with a context (measured), 700 W limit (measured), 674 TFLOP/s bf16 at the limit
// (measured), slowdown 89 °C and shutdown 95 °C (read from NVML on that card). The
// speed exponent (2.5), throttle clock fraction (0.5) held for at least 1 s,
// hysteresis (3 °C), batch
// curve and sparsity saving (35% of dynamic power at full sparsity) are assumptions
// of the model, not measurements.
func H100() Profile {
	return Profile{
		Name: "NVIDIA H100 80GB HBM3", Kind: backends.NVIDIA, Thermal: H100Thermal,
		IdleW: 118, MaxW: 700, PowerLimitW: 700, PeakTFLOPS: 674, SpeedExponent: 2.5,
		SlowdownC: 89, ShutdownC: 95, HysteresisC: 3, ThrottleSpeed: 0.5, ThrottleHoldS: 1,
		BatchHalf: 4, FullBatch: 64, SparsityPower: 0.35,
		MemoryBytes: 80 << 30, ComputeUnits: 132, MaxClockMHz: 1980,
	}
}

// PhotonicNPU is a hypothetical photonic inference accelerator. Every number is an
// assumption chosen to make a plausible, different device: lasers, modulator drivers
// and converters give a high idle share (35 W of 120 W); the phase shifters need a
// narrow temperature band, so it "throttles" (re-calibrates at lower rate) above
// 55 °C; a large package with a thermo-electric cooler gives slow heating; zeros in
// the weights save little power (10%), because optical MACs cost the same.
func PhotonicNPU() Profile {
	return Profile{
		Name: "Photonic NPU", Kind: backends.Photonic,
		Thermal: ThermalParams{R0: 0.02, R1: 0.05, Tau1: 2, R2: 0.15, Tau2: 60, FittedInlet: 25},
		IdleW:   35, MaxW: 120, PowerLimitW: 120, PeakTFLOPS: 200, SpeedExponent: 1.5,
		SlowdownC: 55, ShutdownC: 70, HysteresisC: 2, ThrottleSpeed: 0.6, ThrottleHoldS: 2,
		BatchHalf: 2, FullBatch: 32, SparsityPower: 0.1,
		MemoryBytes: 32 << 30, ComputeUnits: 64, MaxClockMHz: 10000,
	}
}

// Validate reports a profile whose numbers cannot work.
func (p Profile) Validate() error {
	if err := p.Thermal.Validate(); err != nil {
		return fmt.Errorf("sim: profile %q: %w", p.Name, err)
	}
	switch {
	case p.IdleW < 0 || p.MaxW <= p.IdleW:
		return fmt.Errorf("sim: profile %q: need 0 <= IdleW < MaxW, have %g, %g", p.Name, p.IdleW, p.MaxW)
	case p.PeakTFLOPS <= 0 || p.SpeedExponent < 1:
		return fmt.Errorf("sim: profile %q: need PeakTFLOPS > 0 and SpeedExponent >= 1", p.Name)
	case p.ThrottleSpeed <= 0 || p.ThrottleSpeed > 1:
		return fmt.Errorf("sim: profile %q: ThrottleSpeed %g outside (0, 1]", p.Name, p.ThrottleSpeed)
	case p.SlowdownC <= 0 || p.HysteresisC < 0:
		return fmt.Errorf("sim: profile %q: SlowdownC must be > 0 and HysteresisC >= 0", p.Name)
	case p.SparsityPower < 0 || p.SparsityPower > 1:
		return fmt.Errorf("sim: profile %q: SparsityPower %g outside [0, 1]", p.Name, p.SparsityPower)
	}
	return nil
}

func (p Profile) limit() float64 {
	if p.PowerLimitW > 0 {
		return p.PowerLimitW
	}
	return p.MaxW
}

// Fill is the fraction of the device a batch of b keeps busy (1 for b <= 0, unknown).
func (p Profile) Fill(b int) float64 {
	if b <= 0 || p.BatchHalf <= 0 {
		return 1
	}
	f := float64(b) / (float64(b) + p.BatchHalf)
	full := p.FullBatch / (p.FullBatch + p.BatchHalf)
	if p.FullBatch <= 0 || f >= full {
		return 1
	}
	return f / full
}

// DemandW is the power a load would draw at full clocks with no cap: idle plus the
// dynamic part scaled by utilization, batch fill and weight sparsity.
func (p Profile) DemandW(util float64, batch int, sparsity float64) float64 {
	util = clamp(util, 0, 1)
	sparsity = clamp(sparsity, 0, 1)
	return p.IdleW + (p.MaxW-p.IdleW)*util*p.Fill(batch)*(1-p.SparsityPower*sparsity)
}

// SpeedAt is the clock fraction a cap of capW allows for a load demanding demandW.
func (p Profile) SpeedAt(demandW, capW float64) float64 {
	dyn := demandW - p.IdleW
	if dyn <= 0 || capW >= demandW {
		return 1
	}
	if capW <= p.IdleW {
		return 0
	}
	return pow((capW-p.IdleW)/dyn, 1/p.SpeedExponent)
}

// PowerAt is the power drawn by a load demanding demandW at clock fraction s.
func (p Profile) PowerAt(demandW, s float64) float64 {
	return p.IdleW + (demandW-p.IdleW)*pow(s, p.SpeedExponent)
}

func clamp(x, lo, hi float64) float64 {
	if x < lo || x != x {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}
