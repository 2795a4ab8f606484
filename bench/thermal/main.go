// Command thermal is the trace-driven benchmark of the PowerGovernor. It replays a
// bursty inference load (an hour by default) on 1, 4 and 8 simulated H100s with a
// hot inlet and weakened cooling, so that throttling happens without a governor,
// and compares four policies: no governor (first idle device), round-robin,
// coolest-first and the predictive governor. All devices are simulated (package
// backends/sim; thermal model fitted to a measured H100 trace), and the simulation
// runs in virtual time.
//
//	go run ./bench/thermal                 # 1, 4, 8 devices, one hour, seed 1
//	go run ./bench/thermal -devices 8 -hours 0.25 -write-trace trace.csv
//	go run ./bench/thermal -trace trace.csv
//
// The anchor of every ratio is the no-governor run on the same trace in the same
// process.
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/sim"
	"github.com/lightiam/lightos/engine/governor"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "thermal:", err)
		os.Exit(1)
	}
}

// Config is one benchmark setting.
type Config struct {
	Devices int
	Hours   float64
	Seed    uint64
	// InletC is the mean inlet temperature; devices spread ±InletSpreadC around it
	// (rack positions). Cooling multiplies the fitted thermal resistance.
	InletC, InletSpreadC, Cooling float64
	// Load is the mean offered work as a fraction of the devices' full-speed capacity.
	Load float64
	Step time.Duration
	// ThrottleSpeed and ThrottleHoldS override the profile's throttle model (0: keep).
	ThrottleSpeed, ThrottleHoldS float64
}

// DefaultConfig: a 47 °C inlet (±3 °C over the rack) and 20% weaker cooling than
// the measured machine, where sustained full load at 700 W settles near 93 °C,
// above the 89 °C slowdown threshold; 60% mean load in bursts.
func DefaultConfig(devices int) Config {
	return Config{Devices: devices, Hours: 1, Seed: 1, InletC: 47, InletSpreadC: 3, Cooling: 1.2, Load: 0.6, Step: 50 * time.Millisecond}
}

// Result is one policy's run.
type Result struct {
	Policy string
	M      governor.Metrics
	// OfferedItems is the number of inferences the trace offered.
	OfferedItems int64
	// BusySpeed is the mean clock fraction while a device ran a job.
	Hours float64
}

func devices(c Config) ([]backends.Device, error) {
	var out []backends.Device
	for i := range c.Devices {
		inlet := c.InletC
		if c.Devices > 1 {
			inlet += c.InletSpreadC * (2*float64(i)/float64(c.Devices-1) - 1)
		}
		p := sim.H100()
		if c.ThrottleSpeed > 0 {
			p.ThrottleSpeed = c.ThrottleSpeed
		}
		if c.ThrottleHoldS > 0 {
			p.ThrottleHoldS = c.ThrottleHoldS
		}
		d, err := sim.New(p, sim.Options{ID: i, InletC: inlet, Cooling: c.Cooling})
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// Replay runs the trace under one policy.
func Replay(c Config, tr []Arrival, p governor.Policy) (Result, error) {
	devs, err := devices(c)
	if err != nil {
		return Result{}, err
	}
	g, err := governor.New(devs, governor.Options{Virtual: true, Policy: p, Step: c.Step})
	if err != nil {
		return Result{}, err
	}
	var offered int64
	end := c.Hours * 3600
	for _, a := range tr {
		if err := g.AdvanceTo(sim.Epoch.Add(time.Duration(a.T * float64(time.Second)))); err != nil {
			return Result{}, err
		}
		cost := a.Cost
		if _, err := g.Submit(governor.JobSpec{Name: a.Model, Runner: governor.CostOnly(cost), Cost: &cost}); err != nil {
			return Result{}, err
		}
		offered += int64(cost.Items)
	}
	if err := g.AdvanceTo(sim.Epoch.Add(time.Duration(end * float64(time.Second)))); err != nil {
		return Result{}, err
	}
	return Result{Policy: p.Name(), M: g.Metrics(), OfferedItems: offered, Hours: c.Hours}, nil
}

// Policies are the four compared, anchor first.
func Policies() []governor.Policy {
	return []governor.Policy{governor.NoGovernor{}, &governor.RoundRobin{}, governor.CoolestFirst{}, governor.Predictive{}}
}

func run(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("thermal", flag.ContinueOnError)
	devList := fs.String("devices", "1,4,8", "device counts, comma-separated")
	hours := fs.Float64("hours", 1, "virtual hours to replay")
	seed := fs.Uint64("seed", 1, "trace seed")
	inlet := fs.Float64("inlet", 47, "mean inlet temperature, °C")
	cooling := fs.Float64("cooling", 1.2, "thermal resistance factor (1 = measured machine)")
	loadList := fs.String("load", "0.6,1.0", "mean offered loads, fractions of full-speed capacity, comma-separated")
	thrSpeed := fs.Float64("throttle-speed", 0, "clock fraction while throttled (0: the profile's 0.5)")
	thrHold := fs.Float64("throttle-hold", 0, "minimum seconds a throttle lasts (0: the profile's 1 s)")
	traceIn := fs.String("trace", "", "read arrivals from this CSV (t,model,tflop,batch,sparsity,items) instead of generating them")
	traceOut := fs.String("write-trace", "", "write the generated arrivals (for the first device count) to this CSV")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *thrSpeed < 0 || *thrSpeed > 1 || *thrHold < 0 {
		return fmt.Errorf("-throttle-speed must be in [0, 1] and -throttle-hold >= 0")
	}
	var loads []float64
	for _, s := range strings.Split(*loadList, ",") {
		l, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || !(l > 0 && l <= 3) {
			return fmt.Errorf("-load: %q is not a load in (0, 3]", s)
		}
		loads = append(loads, l)
	}
	var counts []int
	for _, s := range strings.Split(*devList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 64 {
			return fmt.Errorf("-devices: %q is not a device count in 1..64", s)
		}
		counts = append(counts, n)
	}
	fmt.Fprintf(w, "Trace-driven thermal benchmark: SIMULATED H100s (model fitted to a measured H100 trace)\n")
	fmt.Fprintf(w, "inlet %.0f °C ±3 °C over the devices, cooling factor %.2f, %.2g h virtual, seed %d\n\n", *inlet, *cooling, *hours, *seed)
	k := 0
	for _, load := range loads {
		for _, n := range counts {
			if err := runOne(w, n, load, k, *hours, *seed, *inlet, *cooling, *thrSpeed, *thrHold, *traceIn, *traceOut); err != nil {
				return err
			}
			k++
		}
	}
	return nil
}

func runOne(w io.Writer, n int, load float64, k int, hours float64, seed uint64, inlet, cooling, thrSpeed, thrHold float64, traceIn, traceOut string) error {
	{
		c := DefaultConfig(n)
		c.Hours, c.Seed, c.InletC, c.Cooling, c.Load = hours, seed, inlet, cooling, load
		c.ThrottleSpeed, c.ThrottleHoldS = thrSpeed, thrHold
		var tr []Arrival
		var err error
		if traceIn != "" {
			tr, err = ReadTrace(traceIn)
		} else {
			tr = Generate(c)
		}
		if err != nil {
			return err
		}
		if k == 0 && traceOut != "" {
			if err := WriteTrace(traceOut, tr); err != nil {
				return err
			}
		}
		start := time.Now()
		var res []Result
		for _, p := range Policies() {
			r, err := Replay(c, tr, p)
			if err != nil {
				return fmt.Errorf("%d devices, %s: %w", n, p.Name(), err)
			}
			res = append(res, r)
		}
		printTable(w, c, tr, res, time.Since(start))
	}
	return nil
}

func printTable(w io.Writer, c Config, tr []Arrival, res []Result, wall time.Duration) {
	fmt.Fprintf(w, "## %d simulated H100, mean offered load %.0f%% (%d jobs, %.0f inferences offered; replayed in %.1f s wall)\n\n", c.Devices, 100*c.Load, len(tr), float64(res[0].OfferedItems), wall.Seconds())
	fmt.Fprintln(w, "| policy | throttle events/h | throttled s/h | energy/inference (J) | mean power/device (W) | mean temp (°C) | peak temp (°C) | throughput (inf/s) | vs none | completed of offered | p99 queue delay (s) | thermally capped jobs | delays |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	base := res[0].M
	for _, r := range res {
		m := r.M
		h := m.ElapsedS / 3600
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %.1f | %.0f | %.1f | %.1f | %.1f | %+.1f%% | %.1f%% | %.2f | %d | %d |\n",
			r.Policy, float64(m.ThrottleEvents)/h, m.ThrottleSeconds/h, m.EnergyPerItemJ(), m.MeanPowerW, m.MeanTempC, m.PeakTempC,
			m.Throughput, 100*(m.Throughput/base.Throughput-1), 100*float64(m.Items)/float64(r.OfferedItems), m.QueueP99, m.CappedJobs, m.Delays)
	}
	pred := res[len(res)-1].M
	fmt.Fprintf(w, "\nThe product description's table, measured (%d simulated H100, no governor vs predictive):\n\n", c.Devices)
	fmt.Fprintln(w, "| Metric | Without PowerGovernor | With PowerGovernor | Improvement |")
	fmt.Fprintln(w, "|---|---|---|---|")
	h0, h1 := base.ElapsedS/3600, pred.ElapsedS/3600
	row := func(name, f string, a, b float64) {
		imp := "n/a"
		if a != 0 && !math.IsNaN(a) {
			imp = fmt.Sprintf("%+.0f%%", 100*(b/a-1))
		}
		fmt.Fprintf(w, "| %s | "+f+" | "+f+" | %s |\n", name, a, b, imp)
	}
	row("Throttle events", "%.0f/hour", float64(base.ThrottleEvents)/h0, float64(pred.ThrottleEvents)/h1)
	row("Power consumption (mean per device)", "%.0f W", base.MeanPowerW, pred.MeanPowerW)
	row("Energy per inference", "%.2f J", base.EnergyPerItemJ(), pred.EnergyPerItemJ())
	row("Temperature (avg)", "%.1f °C", base.MeanTempC, pred.MeanTempC)
	row("Temperature (peak)", "%.1f °C", base.PeakTempC, pred.PeakTempC)
	row("Sustained throughput", "%.1f inf/s", base.Throughput, pred.Throughput)
	row("p99 queue delay", "%.2f s", base.QueueP99, pred.QueueP99)
	fmt.Fprintln(w)
}
