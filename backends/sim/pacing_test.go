package sim

import "testing"

// TestPacingHardlyHelps replays the trace's experiment on the model: 90 s of full
// load against 90 s of a 0.5 s on / 0.5 s off duty cycle, from idle. Measured on the
// card: the duty cycle did 49% less work, lowered the peak by only 5 °C and cost 23%
// more energy per unit of work. The model must show the same shape: a small peak
// reduction for a large loss of work, and more energy per unit of work.
func TestPacingHardlyHelps(t *testing.T) {
	run := func(duty bool) (peak, energy, work float64) {
		d, err := New(H100(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 1800 { // 90 s in 50 ms steps
			u := 1.0
			if duty && (i/10)%2 == 1 {
				u = 0
			}
			st := d.Advance(0.05, Load{Util: u})
			peak = max(peak, st.TempC)
			energy += st.PowerW * 0.05
			work += st.TFLOP
		}
		return
	}
	pf, ef, wf := run(false)
	pd, ed, wd := run(true)
	drop := pf - pd
	extra := (ed/wd)/(ef/wf) - 1
	t.Logf("full: peak %.1f C, %.0f J/PFLOP; duty: peak %.1f C (-%.1f C), %.0f J/PFLOP (%+.0f%%)", pf, ef/wf*1000, pd, drop, ed/wd*1000, 100*extra)
	if drop > 10 || drop < 1 {
		t.Errorf("duty cycle lowered the peak by %.1f C; measured 5 C", drop)
	}
	if extra < 0.1 {
		t.Errorf("duty cycle energy per work %+.0f%%; measured +23%%", 100*extra)
	}
}
