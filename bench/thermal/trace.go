package main

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"github.com/lightiam/lightos/backends/sim"
	"github.com/lightiam/lightos/engine/governor"
)

// Arrival is one job of the trace.
type Arrival struct {
	T     float64 // seconds
	Model string
	Cost  governor.Cost
}

// model is a kind of inference job in the generated mix.
type model struct {
	name     string
	share    float64 // of arrivals
	tflopPer float64 // per inference
	batches  []int
	sparsity float64
}

// The mix: a dense LLM prefill, a 2:4-pruned LLM (50% zero weights), and a vision
// model. TFLOP per inference are round numbers of the right order, not measurements.
var mix = []model{
	{"llm-dense", 0.5, 20, []int{4, 8, 16, 32}, 0},
	{"llm-sparse-2:4", 0.25, 20, []int{8, 16, 32}, 0.5},
	{"vision", 0.25, 4, []int{16, 32, 64}, 0},
}

// Generate makes a bursty arrival trace: a two-state process alternating bursts
// (30–120 s at 1.1× the devices' full-speed capacity) and quiet spells (30–240 s),
// with the quiet rate chosen so the mean offered load is c.Load; Poisson arrivals
// within each phase.
func Generate(c Config) []Arrival {
	r := rand.New(rand.NewPCG(c.Seed, uint64(c.Devices)))
	h100 := sim.H100()
	var meanTFLOP float64 // per job, at full speed
	for _, m := range mix {
		var b float64
		for _, x := range m.batches {
			b += float64(x) / h100.Fill(x)
		}
		meanTFLOP += m.share * m.tflopPer * b / float64(len(m.batches))
	}
	capacity := float64(c.Devices) * h100.PeakTFLOPS // TFLOP/s of full-batch-equivalent work
	const burstLoad, burstMean, quietMean = 1.1, 75.0, 135.0
	quietLoad := math.Max(0.05, (c.Load*(burstMean+quietMean)-burstLoad*burstMean)/quietMean)
	end := c.Hours * 3600
	var out []Arrival
	t, burst := 0.0, false
	for t < end {
		dur := 30 + r.Float64()*90
		load := burstLoad
		if !burst {
			dur, load = 30+r.Float64()*210, quietLoad
		}
		rate := load * capacity / meanTFLOP // jobs per second
		phaseEnd := math.Min(t+dur, end)
		for t += r.ExpFloat64() / rate; t < phaseEnd; t += r.ExpFloat64() / rate {
			out = append(out, arrival(r, t))
		}
		t = phaseEnd
		burst = !burst
	}
	return out
}

func arrival(r *rand.Rand, t float64) Arrival {
	u := r.Float64()
	m := mix[len(mix)-1]
	for _, x := range mix {
		if u < x.share {
			m = x
			break
		}
		u -= x.share
	}
	b := m.batches[r.IntN(len(m.batches))]
	return Arrival{T: t, Model: m.name, Cost: governor.Cost{FLOPs: m.tflopPer * float64(b) * 1e12, Batch: b, Sparsity: m.sparsity, Items: b}}
}

// WriteTrace writes arrivals as CSV: t,model,tflop,batch,sparsity,items.
func WriteTrace(path string, tr []Arrival) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write trace: %w", err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "t,model,tflop,batch,sparsity,items")
	for _, a := range tr {
		fmt.Fprintf(w, "%.4f,%s,%g,%d,%g,%d\n", a.T, a.Model, a.Cost.FLOPs/1e12, a.Cost.Batch, a.Cost.Sparsity, a.Cost.Items)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write trace: %w", err)
	}
	return f.Close()
}

// ReadTrace reads a CSV written by WriteTrace.
func ReadTrace(path string) ([]Arrival, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read trace: %w", err)
	}
	var out []Arrival
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if i == 0 {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) != 6 {
			return nil, fmt.Errorf("trace %s line %d: %d fields, expected 6", path, i+1, len(f))
		}
		var nums [5]float64
		for k, s := range []string{f[0], f[2], f[3], f[4], f[5]} {
			if nums[k], err = strconv.ParseFloat(s, 64); err != nil {
				return nil, fmt.Errorf("trace %s line %d: %w", path, i+1, err)
			}
		}
		if nums[1] < 0 || nums[3] < 0 || nums[3] > 1 || (len(out) > 0 && nums[0] < out[len(out)-1].T) {
			return nil, fmt.Errorf("trace %s line %d: negative work, sparsity outside [0,1] or time going back", path, i+1)
		}
		out = append(out, Arrival{T: nums[0], Model: f[1], Cost: governor.Cost{FLOPs: nums[1] * 1e12, Batch: int(nums[2]), Sparsity: nums[3], Items: int(nums[4])}})
	}
	return out, nil
}
