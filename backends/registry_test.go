package backends_test

import (
	"strings"
	"testing"

	"github.com/lightiam/lightos/backends"
	_ "github.com/lightiam/lightos/backends/cpu"
	_ "github.com/lightiam/lightos/backends/nvml"
	_ "github.com/lightiam/lightos/backends/sim"
)

func TestDiscover(t *testing.T) {
	if got := strings.Join(backends.Providers(), ","); got != "cpu,nvidia,sim" {
		t.Errorf("providers %s", got)
	}
	r := backends.Discover(backends.DiscoverOptions{SimulatedH100: 2, SimulatedPhotonic: 1})
	defer r.Close()
	var cpus, sims, nv int
	for _, d := range r.Devices {
		in := d.Info()
		switch {
		case in.Simulated:
			sims++
			if !strings.Contains(in.String(), "simulated") {
				t.Errorf("%v not labeled", in)
			}
		case in.Kind == backends.CPU:
			cpus++
		case in.Kind == backends.NVIDIA:
			nv++
		}
	}
	if cpus != 1 || sims != 3 {
		t.Errorf("found %d CPUs, %d simulated", cpus, sims)
	}
	if nv == 0 && r.Unavailable["nvidia"] == nil {
		t.Error("no NVIDIA device and no reason given")
	}
	best, err := r.Best()
	if err != nil {
		t.Fatal(err)
	}
	if best.Info().Simulated {
		t.Errorf("Auto picked simulated %v over a real device", best.Info())
	}
	if nv > 0 && best.Info().Kind != backends.NVIDIA {
		t.Errorf("Auto picked %v with a GPU present", best.Info())
	}
	if auto, _ := r.Select(backends.Auto, 0); auto != best {
		t.Error("Select(Auto) differs from Best")
	}
	ph, err := r.Select(backends.Photonic, 0)
	if err != nil || !ph.Info().Simulated {
		t.Errorf("photonic: %v, %v", ph, err)
	}
	if _, err := r.Select(backends.AMD, 0); err == nil || !strings.Contains(err.Error(), "no amd device 0") {
		t.Errorf("missing AMD: %v", err)
	}
	// Without simulated devices none appear.
	r2 := backends.Discover(backends.DiscoverOptions{})
	defer r2.Close()
	for _, d := range r2.Devices {
		if d.Info().Simulated {
			t.Errorf("simulated %v without asking", d.Info())
		}
	}
}

func TestRegisterDuplicatePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("duplicate provider accepted")
		}
	}()
	backends.RegisterProvider(backends.Provider{Name: "cpu"})
}

func TestEmptyRegistry(t *testing.T) {
	var r backends.Registry
	if _, err := r.Best(); err == nil {
		t.Error("Best of nothing")
	}
}
