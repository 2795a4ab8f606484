package sim

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// TraceSample is one row of an nvidia-smi telemetry trace.
type TraceSample struct {
	T        float64 // seconds since the first sample
	TempC    float64
	PowerW   float64 // power.draw.instant
	AvgW     float64 // power.draw (1 s average)
	ClockMHz float64
	Reasons  uint64
}

// ParseTrace reads the CSV written by
// `nvidia-smi --query-gpu=timestamp,temperature.gpu,temperature.memory,power.draw,power.draw.instant,clocks.sm,clocks_event_reasons.active,utilization.gpu --format=csv`.
func ParseTrace(r io.Reader) ([]TraceSample, error) {
	sc := bufio.NewScanner(r)
	var out []TraceSample
	var t0 time.Time
	line := 0
	for sc.Scan() {
		line++
		if line == 1 {
			continue // header
		}
		f := strings.Split(sc.Text(), ",")
		if len(f) < 8 {
			if strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			return nil, fmt.Errorf("sim: trace line %d: %d fields, expected 8", line, len(f))
		}
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		ts, err := time.Parse("2006/01/02 15:04:05.000", f[0])
		if err != nil {
			return nil, fmt.Errorf("sim: trace line %d: timestamp: %w", line, err)
		}
		if t0.IsZero() {
			t0 = ts
		}
		var nums [5]float64
		for i, col := range []int{1, 3, 4, 5} {
			v, err := strconv.ParseFloat(strings.Fields(f[col])[0], 64)
			if err != nil {
				return nil, fmt.Errorf("sim: trace line %d column %d: %w", line, col+1, err)
			}
			nums[i] = v
		}
		reasons, err := strconv.ParseUint(strings.TrimPrefix(f[6], "0x"), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("sim: trace line %d: reasons: %w", line, err)
		}
		out = append(out, TraceSample{T: ts.Sub(t0).Seconds(), TempC: nums[0], AvgW: nums[1], PowerW: nums[2], ClockMHz: nums[3], Reasons: reasons})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("sim: trace: %w", err)
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("sim: trace has %d samples, need at least 2", len(out))
	}
	return out, nil
}

// Replay runs the thermal model over a trace's measured power (held constant between
// samples), starting in the steady state of the first sample, and returns the
// predicted temperature at every sample.
func Replay(p ThermalParams, inlet float64, tr []TraceSample) []float64 {
	m := Thermal{Params: p, Inlet: inlet}
	m.SetSteady(tr[0].PowerW)
	out := make([]float64, len(tr))
	out[0] = m.Temp()
	for i := 1; i < len(tr); i++ {
		m.Step(tr[i].T-tr[i-1].T, tr[i-1].PowerW)
		m.P = tr[i].PowerW // the instantaneous term sees this sample's power
		out[i] = m.Temp()
	}
	return out
}

// FitError is the root-mean-square and largest absolute error (°C) of the model
// against the trace's measured temperature. The measured temperature is an integer,
// so an RMS error near 0.29 °C is the floor.
func FitError(p ThermalParams, tr []TraceSample) (rms, maxAbs float64) {
	pred := Replay(p, p.FittedInlet, tr)
	var ss float64
	for i, s := range tr {
		d := pred[i] - s.TempC
		ss += d * d
		maxAbs = math.Max(maxAbs, math.Abs(d))
	}
	return math.Sqrt(ss / float64(len(tr))), maxAbs
}

// FitErrorWindow is FitError over the samples with from <= T < to, with the model
// run over the whole trace (so the state entering the window is the model's own).
func FitErrorWindow(p ThermalParams, tr []TraceSample, from, to float64) (rms, maxAbs float64) {
	pred := Replay(p, p.FittedInlet, tr)
	var ss float64
	n := 0
	for i, s := range tr {
		if s.T < from || s.T >= to {
			continue
		}
		d := pred[i] - s.TempC
		ss += d * d
		n++
		maxAbs = math.Max(maxAbs, math.Abs(d))
	}
	if n == 0 {
		return math.NaN(), math.NaN()
	}
	return math.Sqrt(ss / float64(n)), maxAbs
}
