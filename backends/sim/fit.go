package sim

// H100Thermal is the thermal model of one H100 SXM 80GB fitted by
// scripts/thermalfit to ../shared/data/h100-thermal (copied to
// testdata/h100-thermal-trace.csv). Fitted on the step phases (idle, 90 s at the
// 700 W cap, 90 s cool-down): RMS error 0.62 °C under load, 0.49 °C cooling; on the
// 50% duty phase it never saw, RMS 3.4 °C (max 11.8 °C at on/off edges, where the
// 200 ms power samples alias the 0.5 s duty cycle). See FIT.md; TestH100FitError
// checks these numbers.
var H100Thermal = ThermalParams{R0: 0.0143111, R1: 0.0224466, Tau1: 0.622997, R2: 0.0180373, Tau2: 15.7752, FittedInlet: 27.1902}
