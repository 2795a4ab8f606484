// Package sim provides simulated devices for tests, benchmarks and notebooks on
// machines without accelerators. Every simulated device says so: Info.Simulated is
// true and its name ends in "(simulated)".
//
// A device has three models:
//
//   - Thermal: temperature = inlet + R0·P + x1 + x2, where each xi follows
//     dxi/dt = (Ri·P − xi)/τi. R0 is the instantaneous term (the die heats within a
//     sample), τ1 ≈ 1 s and τ2 ≈ 16 s the two time constants. The H100 parameters
//     are fitted to ../shared/data/h100-thermal (scripts/thermalfit; the fit and its
//     error are in fit.go and FIT.md). A cooling factor scales every Ri (1 = the
//     measured machine, above 1 = worse cooling).
//   - Power: idle + dynamic, the dynamic part scaled by utilization, by batch
//     (small batches do not fill the device) and by weight sparsity (zeros switch
//     fewer transistors), then limited by the power cap.
//   - Speed: a power cap below the demand lowers clocks; the work rate follows
//     (Pdyn/Pdemand)^(1/SpeedExponent). Above the slowdown threshold the device
//     throttles (clocks cut to ThrottleSpeed) until it has cooled by the hysteresis.
//
// Devices run in virtual time: Advance(dt) steps the models, so an hour of load
// replays in well under a second.
package sim
