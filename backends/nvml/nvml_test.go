package nvml

import (
	"errors"
	"strings"
	"testing"

	"github.com/lightiam/lightos/backends"
)

// TestNoSetterWithoutOptIn fails if the default binding looks up any NVML call that
// changes the device, and checks that asking for one is refused.
func TestNoSetterWithoutOptIn(t *testing.T) {
	fake := func(string) (uintptr, error) { return 1, nil }
	b := &binder{lookup: fake}
	if _, err := b.bindAll(); err != nil {
		t.Fatal(err)
	}
	for _, name := range b.looked {
		if IsSetter(name) {
			t.Errorf("default binding looked up setter %s", name)
		}
	}
	if _, err := b.bind("nvmlDeviceSetPowerManagementLimit"); !errors.Is(err, ErrSetNotAllowed) {
		t.Errorf("setter lookup without opt-in: %v", err)
	}
	for _, name := range []string{"nvmlDeviceSetApplicationsClocks", "nvmlDeviceResetGpuLockedClocks", "nvmlDeviceClearEccErrorCounts", "nvmlDeviceSetPersistenceMode"} {
		if !IsSetter(name) {
			t.Errorf("%s not recognized as a setter", name)
		}
		if _, err := b.bind(name); err == nil {
			t.Errorf("%s bound without opt-in", name)
		}
	}
	for _, g := range getters {
		if IsSetter(g.name) {
			t.Errorf("getter table holds setter %s", g.name)
		}
	}
	opt := &binder{lookup: fake, allowSet: true}
	opt.bindAll()
	if !strings.Contains(strings.Join(opt.looked, ","), "nvmlDeviceSetPowerManagementLimit") {
		t.Error("opt-in did not bind the power-limit setter")
	}
}

func TestMissingRequiredSymbol(t *testing.T) {
	b := &binder{lookup: func(name string) (uintptr, error) {
		if name == "nvmlDeviceGetCount_v2" {
			return 0, errors.New("undefined symbol")
		}
		return 1, nil
	}}
	if _, err := b.bindAll(); err == nil || !strings.Contains(err.Error(), "nvmlDeviceGetCount_v2") {
		t.Errorf("missing required symbol: %v", err)
	}
}

func TestOpenWithoutLibrary(t *testing.T) {
	_, err := Open(Options{Library: "libnvidia-ml-not-here.so.1"})
	if err == nil || !strings.Contains(err.Error(), "libnvidia-ml-not-here.so.1") {
		t.Errorf("Open of a missing library: %v", err)
	}
}

// fakeLib is an NVML whose calls are Go functions: an H100 at 46 °C, 127 W of a
// 700 W limit, where the violation counters are not supported.
func fakeLib(allowSet bool) (*Lib, *float64) {
	var setTo float64
	put := func(b *byte, n uint32, s string) {
		buf := unsafeBytes(b, n)
		copy(buf, s)
		buf[len(s)] = 0
	}
	l := &Lib{allowSet: allowSet, driver: "580.159.04"}
	l.f = funcs{
		init: func() uint32 { return success }, shutdown: func() uint32 { return success },
		errorString: func(r uint32) string { return "Not Supported" },
		count:       func(n *uint32) uint32 { *n = 1; return success },
		handle:      func(i uint32, h *uintptr) uint32 { *h = 0x1000; return success },
		name:        func(_ uintptr, b *byte, n uint32) uint32 { put(b, n, "NVIDIA H100 80GB HBM3"); return success },
		uuid:        func(_ uintptr, b *byte, n uint32) uint32 { put(b, n, "GPU-1234"); return success },
		memInfo:     func(_ uintptr, m *memory) uint32 { *m = memory{Total: 80 << 30, Used: 1 << 30}; return success },
		cc:          func(_ uintptr, a, b *int32) uint32 { *a, *b = 9, 0; return success },
		attrs:       func(uintptr, *attributes) uint32 { return notSupported },
		temp:        func(_ uintptr, _ uint32, v *uint32) uint32 { *v = 46; return success },
		threshold: func(_ uintptr, k uint32, v *uint32) uint32 {
			*v = map[uint32]uint32{thresholdSlowdown: 89, thresholdShutdown: 95}[k]
			return success
		},
		power:     func(_ uintptr, v *uint32) uint32 { *v = 127000; return success },
		limit:     func(_ uintptr, v *uint32) uint32 { *v = 700000; return success },
		energy:    func(_ uintptr, v *uint64) uint32 { *v = 123456789; return success },
		clock:     func(_ uintptr, _ uint32, v *uint32) uint32 { *v = 1980; return success },
		util:      func(_ uintptr, u *utilization) uint32 { *u = utilization{GPU: 37}; return success },
		reasons:   func(_ uintptr, v *uint64) uint32 { *v = 0x4; return success },
		violation: func(uintptr, uint32, *violationTime) uint32 { return notSupported },
		setLimit:  func(_ uintptr, mw uint32) uint32 { setTo = float64(mw) / 1000; return success },
	}
	return l, &setTo
}

func TestTelemetryFromNVML(t *testing.T) {
	l, _ := fakeLib(false)
	devs, err := l.Devices()
	if err != nil || len(devs) != 1 {
		t.Fatal(devs, err)
	}
	info := devs[0].Info()
	if info.Name != "NVIDIA H100 80GB HBM3" || info.UUID != "GPU-1234" || info.ComputeUnits != 132 || info.ISA[0] != "sm_90" || info.Simulated {
		t.Errorf("info %+v", info)
	}
	tel, err := devs[0].Telemetry()
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		r    backends.Reading
		want float64
	}{{"temperature", tel.TemperatureC, 46}, {"slowdown", tel.SlowdownC, 89}, {"shutdown", tel.ShutdownC, 95},
		{"power", tel.PowerW, 127}, {"limit", tel.PowerLimitW, 700}, {"energy", tel.EnergyJ, 123456.789},
		{"clock", tel.ClockMHz, 1980}, {"utilization", tel.Utilization, 0.37}}
	for _, c := range checks {
		if !c.r.Valid || c.r.Value != c.want {
			t.Errorf("%s = %v, want %g", c.name, c.r, c.want)
		}
	}
	if !tel.ThrottleValid || tel.ThrottleReasons != 0x4 {
		t.Errorf("throttle reasons %x valid %v", tel.ThrottleReasons, tel.ThrottleValid)
	}
	if tel.ThermalViolationS.Valid || tel.PowerViolationS.Valid {
		t.Error("unsupported violation counters reported as valid")
	}
	if _, ok := devs[0].(interface{ SetPowerLimitW(float64) error }); ok {
		t.Error("a read-only device offers SetPowerLimitW")
	}
	p, ok := devs[0].(*Device).PowerProfile()
	if !ok || p.SlowdownC != 89 || p.PowerLimitW != 700 {
		t.Errorf("profile %+v %v", p, ok)
	}
}

func TestCappableOnlyWithOptIn(t *testing.T) {
	l, setTo := fakeLib(true)
	devs, _ := l.Devices()
	c, ok := devs[0].(*CappableDevice)
	if !ok {
		t.Fatalf("device %T with AllowSet", devs[0])
	}
	if err := c.SetPowerLimitW(550); err != nil || *setTo != 550 {
		t.Errorf("set limit: %v, set to %g", err, *setTo)
	}
	if err := c.SetPowerLimitW(-1); err == nil {
		t.Error("negative limit accepted")
	}
	l.allowSet = false
	if err := c.SetPowerLimitW(500); !errors.Is(err, ErrSetNotAllowed) {
		t.Errorf("set without opt-in: %v", err)
	}
}

// TestRealNVML reads a real GPU's telemetry where NVML loads.
func TestRealNVML(t *testing.T) {
	l, err := Open(Options{})
	if err != nil {
		t.Skipf("no NVIDIA driver on this machine: %v", err)
	}
	defer l.Close()
	for _, name := range l.Looked() {
		if IsSetter(name) {
			t.Errorf("looked up setter %s", name)
		}
	}
	devs, err := l.Devices()
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) == 0 {
		t.Skip("NVML loaded but reports no GPU")
	}
	for _, d := range devs {
		tel, err := d.Telemetry()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%v: %.0f C (slowdown %v), %v W of %v W, energy %v J, clock %v MHz, reasons %#x",
			d.Info(), tel.TemperatureC.Value, tel.SlowdownC, tel.PowerW, tel.PowerLimitW, tel.EnergyJ, tel.ClockMHz, tel.ThrottleReasons)
		if !tel.TemperatureC.Valid || tel.TemperatureC.Value < 5 || tel.TemperatureC.Value > 110 {
			t.Errorf("%v: implausible temperature %v", d.Info(), tel.TemperatureC)
		}
		if !tel.PowerW.Valid || tel.PowerW.Value <= 0 {
			t.Errorf("%v: power %v", d.Info(), tel.PowerW)
		}
	}
}

// TestSetPowerLimitNeedsOptIn: even with the setter bound, a library opened without
// AllowSet never calls it; with the opt-in it is called with milliwatts.
func TestSetPowerLimitNeedsOptIn(t *testing.T) {
	var calls []uint32
	lib := &Lib{}
	lib.f.setLimit = func(_ uintptr, mw uint32) uint32 { calls = append(calls, mw); return success }
	d := &CappableDevice{&Device{lib: lib}}
	if err := d.SetPowerLimitW(300); !errors.Is(err, ErrSetNotAllowed) || len(calls) != 0 {
		t.Fatalf("without AllowSet: err %v, calls %v", err, calls)
	}
	lib.allowSet = true
	if err := d.SetPowerLimitW(0); err == nil || len(calls) != 0 {
		t.Fatalf("a 0 W limit: err %v, calls %v", err, calls)
	}
	if err := d.SetPowerLimitW(312.5); err != nil || len(calls) != 1 || calls[0] != 312500 {
		t.Fatalf("with AllowSet: err %v, calls %v", err, calls)
	}
}
