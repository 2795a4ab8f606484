package nvml

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ebitengine/purego"
	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/backends/sim"
)

// Options configures Open. The zero value loads libnvidia-ml.so.1 with read-only calls.
type Options struct {
	// Library is the path or soname to load (default "libnvidia-ml.so.1").
	Library string
	// AllowSet binds the setting calls (power limit). Off by default: on a shared
	// machine a setting changes the card for every user, and it needs root.
	AllowSet bool
}

// NVML return codes used here.
const (
	success      = 0
	notSupported = 3
)

// Threshold, sensor, clock and policy constants of the NVML API.
const (
	thresholdShutdown = 0
	thresholdSlowdown = 1
	sensorGPU         = 0
	clockSM           = 1
	policyPower       = 0
	policyThermal     = 1
)

type memory struct{ Total, Free, Used uint64 }
type utilization struct{ GPU, Memory uint32 }
type violationTime struct{ ReferenceTime, ViolationTime uint64 }
type attributes struct {
	MultiprocessorCount, SharedCopyEngineCount, SharedDecoderCount, SharedEncoderCount uint32
	SharedJpegCount, SharedOfaCount, GpuInstanceSliceCount, ComputeInstanceSliceCount  uint32
	MemorySizeMB                                                                       uint64
}

// funcs are the bound NVML entry points; nil when the driver lacks one. Tests
// replace them with Go functions.
type funcs struct {
	init          func() uint32
	shutdown      func() uint32
	errorString   func(uint32) string
	driverVersion func(*byte, uint32) uint32
	count         func(*uint32) uint32
	handle        func(uint32, *uintptr) uint32
	name          func(uintptr, *byte, uint32) uint32
	uuid          func(uintptr, *byte, uint32) uint32
	memInfo       func(uintptr, *memory) uint32
	cc            func(uintptr, *int32, *int32) uint32
	attrs         func(uintptr, *attributes) uint32
	temp          func(uintptr, uint32, *uint32) uint32
	threshold     func(uintptr, uint32, *uint32) uint32
	power         func(uintptr, *uint32) uint32
	limit         func(uintptr, *uint32) uint32
	energy        func(uintptr, *uint64) uint32
	clock         func(uintptr, uint32, *uint32) uint32
	maxClock      func(uintptr, uint32, *uint32) uint32
	util          func(uintptr, *utilization) uint32
	reasons       func(uintptr, *uint64) uint32
	violation     func(uintptr, uint32, *violationTime) uint32
	setLimit      func(uintptr, uint32) uint32
}

// register makes Go function values of the bound addresses.
func (f *funcs) register(addr map[string]uintptr) {
	reg := func(fp any, name string) {
		if a, ok := addr[name]; ok {
			purego.RegisterFunc(fp, a)
		}
	}
	reg(&f.init, "nvmlInit_v2")
	reg(&f.shutdown, "nvmlShutdown")
	reg(&f.errorString, "nvmlErrorString")
	reg(&f.driverVersion, "nvmlSystemGetDriverVersion")
	reg(&f.count, "nvmlDeviceGetCount_v2")
	reg(&f.handle, "nvmlDeviceGetHandleByIndex_v2")
	reg(&f.name, "nvmlDeviceGetName")
	reg(&f.uuid, "nvmlDeviceGetUUID")
	reg(&f.memInfo, "nvmlDeviceGetMemoryInfo")
	reg(&f.cc, "nvmlDeviceGetCudaComputeCapability")
	reg(&f.attrs, "nvmlDeviceGetAttributes_v2")
	reg(&f.temp, "nvmlDeviceGetTemperature")
	reg(&f.threshold, "nvmlDeviceGetTemperatureThreshold")
	reg(&f.power, "nvmlDeviceGetPowerUsage")
	reg(&f.limit, "nvmlDeviceGetEnforcedPowerLimit")
	reg(&f.energy, "nvmlDeviceGetTotalEnergyConsumption")
	reg(&f.clock, "nvmlDeviceGetClockInfo")
	reg(&f.maxClock, "nvmlDeviceGetMaxClockInfo")
	reg(&f.util, "nvmlDeviceGetUtilizationRates")
	if _, ok := addr["nvmlDeviceGetCurrentClocksEventReasons"]; ok {
		reg(&f.reasons, "nvmlDeviceGetCurrentClocksEventReasons")
	} else {
		reg(&f.reasons, "nvmlDeviceGetCurrentClocksThrottleReasons")
	}
	reg(&f.violation, "nvmlDeviceGetViolationStatus")
	reg(&f.setLimit, "nvmlDeviceSetPowerManagementLimit")
}

// Lib is a loaded, initialized NVML.
type Lib struct {
	f        funcs
	handle   uintptr
	allowSet bool
	driver   string
	looked   []string
	mu       sync.Mutex
	closed   bool
}

// Open loads NVML and initializes it. On a machine without an NVIDIA driver it
// returns an error saying so.
func Open(o Options) (*Lib, error) {
	name := o.Library
	if name == "" {
		name = "libnvidia-ml.so.1"
	}
	h, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, fmt.Errorf("nvml: loading %s (no NVIDIA driver here?): %w", name, err)
	}
	b := &binder{allowSet: o.AllowSet, lookup: func(s string) (uintptr, error) { return purego.Dlsym(h, s) }}
	addr, err := b.bindAll()
	if err != nil {
		purego.Dlclose(h)
		return nil, err
	}
	l := &Lib{handle: h, allowSet: o.AllowSet, looked: b.looked}
	l.f.register(addr)
	if err := l.start(); err != nil {
		purego.Dlclose(h)
		return nil, err
	}
	return l, nil
}

func (l *Lib) start() error {
	if r := l.f.init(); r != success {
		return l.err("nvmlInit_v2", r)
	}
	if l.f.driverVersion != nil {
		buf := make([]byte, 96)
		if l.f.driverVersion(&buf[0], uint32(len(buf))) == success {
			l.driver = cString(buf)
		}
	}
	return nil
}

// Looked lists the symbols Open looked up.
func (l *Lib) Looked() []string { return append([]string(nil), l.looked...) }

// Driver is the driver version.
func (l *Lib) Driver() string { return l.driver }

func (l *Lib) err(call string, r uint32) error {
	msg := fmt.Sprintf("code %d", r)
	if l.f.errorString != nil {
		msg = l.f.errorString(r)
	}
	return fmt.Errorf("nvml: %s: %s", call, msg)
}

// Close shuts NVML down. Devices must not be used afterwards.
func (l *Lib) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	var err error
	if r := l.f.shutdown(); r != success {
		err = l.err("nvmlShutdown", r)
	}
	if l.handle != 0 {
		if e := purego.Dlclose(l.handle); e != nil && err == nil {
			err = fmt.Errorf("nvml: dlclose: %w", e)
		}
	}
	return err
}

func cString(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return strings.TrimSpace(string(b))
}

// Devices lists the GPUs. With Options.AllowSet they are *CappableDevice values.
func (l *Lib) Devices() ([]backends.Device, error) {
	var n uint32
	if r := l.f.count(&n); r != success {
		return nil, l.err("nvmlDeviceGetCount_v2", r)
	}
	var out []backends.Device
	for i := range n {
		var h uintptr
		if r := l.f.handle(i, &h); r != success {
			return nil, fmt.Errorf("device %d: %w", i, l.err("nvmlDeviceGetHandleByIndex_v2", r))
		}
		d := &Device{lib: l, h: h}
		d.info = d.describe(int(i))
		if l.allowSet && l.f.setLimit != nil {
			out = append(out, &CappableDevice{d})
		} else {
			out = append(out, d)
		}
	}
	return out, nil
}

// Device is one GPU seen through NVML's read-only calls.
type Device struct {
	lib  *Lib
	h    uintptr
	info backends.Info
}

var _ backends.Device = (*Device)(nil)

// smCount holds the SM count of boards NVML does not report it for (it does only
// for MIG instances); public specifications.
var smCount = []struct {
	substr string
	sms    int
}{{"H100 PCIe", 114}, {"H100", 132}, {"H200", 132}, {"GH200", 132}, {"A100", 108}, {"L40S", 142}, {"L4", 58}}

func (d *Device) describe(index int) backends.Info {
	f := &d.lib.f
	info := backends.Info{Kind: backends.NVIDIA, ID: index, Name: "NVIDIA GPU", Driver: d.lib.driver}
	buf := make([]byte, 96)
	if f.name(d.h, &buf[0], uint32(len(buf))) == success {
		info.Name = cString(buf)
	}
	if f.uuid != nil {
		clear(buf)
		if f.uuid(d.h, &buf[0], uint32(len(buf))) == success {
			info.UUID = cString(buf)
		}
	}
	if f.memInfo != nil {
		var m memory
		if f.memInfo(d.h, &m) == success {
			info.MemoryBytes = int64(m.Total)
		}
	}
	if f.cc != nil {
		var major, minor int32
		if f.cc(d.h, &major, &minor) == success {
			info.ISA = []string{fmt.Sprintf("sm_%d%d", major, minor)}
		}
	}
	if f.attrs != nil {
		var a attributes
		if f.attrs(d.h, &a) == success && a.MultiprocessorCount > 0 {
			info.ComputeUnits = int(a.MultiprocessorCount)
		}
	}
	if info.ComputeUnits == 0 {
		for _, s := range smCount {
			if strings.Contains(info.Name, s.substr) {
				info.ComputeUnits = s.sms
				break
			}
		}
	}
	return info
}

// Info describes the GPU.
func (d *Device) Info() backends.Info { return d.info }

// Telemetry reads every sensor; a call the driver refuses leaves its reading
// unavailable.
func (d *Device) Telemetry() (backends.Telemetry, error) {
	f := &d.lib.f
	d.lib.mu.Lock()
	closed := d.lib.closed
	d.lib.mu.Unlock()
	if closed {
		return backends.Telemetry{}, errors.New("nvml: library closed")
	}
	t := backends.Telemetry{Time: time.Now()}
	var u uint32
	if f.temp != nil && f.temp(d.h, sensorGPU, &u) == success {
		t.TemperatureC = backends.Read(float64(u))
	}
	if f.threshold != nil {
		if f.threshold(d.h, thresholdSlowdown, &u) == success {
			t.SlowdownC = backends.Read(float64(u))
		}
		if f.threshold(d.h, thresholdShutdown, &u) == success {
			t.ShutdownC = backends.Read(float64(u))
		}
	}
	if f.power != nil && f.power(d.h, &u) == success {
		t.PowerW = backends.Read(float64(u) / 1000)
	}
	if f.limit != nil && f.limit(d.h, &u) == success {
		t.PowerLimitW = backends.Read(float64(u) / 1000)
	}
	var e uint64
	if f.energy != nil && f.energy(d.h, &e) == success {
		t.EnergyJ = backends.Read(float64(e) / 1000)
	}
	if f.clock != nil && f.clock(d.h, clockSM, &u) == success {
		t.ClockMHz = backends.Read(float64(u))
	}
	var ut utilization
	if f.util != nil && f.util(d.h, &ut) == success {
		t.Utilization = backends.Read(float64(ut.GPU) / 100)
	}
	var m memory
	if f.memInfo != nil && f.memInfo(d.h, &m) == success {
		t.MemoryUsedB = backends.Read(float64(m.Used))
	}
	if f.reasons != nil && f.reasons(d.h, &e) == success {
		t.ThrottleReasons, t.ThrottleValid = e, true
	}
	var v violationTime
	if f.violation != nil {
		if f.violation(d.h, policyThermal, &v) == success {
			t.ThermalViolationS = backends.Read(float64(v.ViolationTime) / 1e9)
		}
		if f.violation(d.h, policyPower, &v) == success {
			t.PowerViolationS = backends.Read(float64(v.ViolationTime) / 1e9)
		}
	}
	return t, nil
}

// PowerProfile gives the governor a power and thermal model for H100 boards: the
// profile fitted to a measured H100 SXM (backends/sim), with this card's enforced
// limit and thresholds. Other boards have no profile (ok false) and are placed by
// their sensors only.
func (d *Device) PowerProfile() (sim.Profile, bool) {
	if !strings.Contains(d.info.Name, "H100") {
		return sim.Profile{}, false
	}
	p := sim.H100()
	p.Name = d.info.Name
	if tel, err := d.Telemetry(); err == nil {
		if tel.PowerLimitW.Valid && tel.PowerLimitW.Value > p.IdleW {
			p.PowerLimitW, p.MaxW = tel.PowerLimitW.Value, tel.PowerLimitW.Value
		}
		if tel.SlowdownC.Valid {
			p.SlowdownC = tel.SlowdownC.Value
		}
		if tel.ShutdownC.Valid {
			p.ShutdownC = tel.ShutdownC.Value
		}
	}
	return p, true
}

// CappableDevice is a Device whose power limit may be set: Open gives these only
// with Options.AllowSet. Setting needs root and changes the card for every user.
type CappableDevice struct{ *Device }

// SetPowerLimitW sets the power management limit (nvmlDeviceSetPowerManagementLimit).
func (d *CappableDevice) SetPowerLimitW(w float64) error {
	f := &d.lib.f
	if !d.lib.allowSet || f.setLimit == nil {
		return ErrSetNotAllowed
	}
	if !(w > 0) {
		return fmt.Errorf("nvml: power limit %g W must be positive", w)
	}
	if r := f.setLimit(d.h, uint32(w*1000)); r != success {
		return d.lib.err("nvmlDeviceSetPowerManagementLimit", r)
	}
	return nil
}
