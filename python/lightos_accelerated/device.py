"""Devices: LightDevice and DeviceType."""
import enum
import html
import json
import weakref
from dataclasses import dataclass, field
from typing import List, Optional

from . import _core
from ._core import _go
from .errors import LightOSNotImplementedError


class DeviceType(enum.Enum):
    """Kinds of device. AUTO picks the best device present (the CPU on a machine without
    accelerators)."""
    CPU = "cpu"
    NVIDIA = "nvidia"
    AMD = "amd"
    INTEL = "intel"
    PHOTONIC = "photonic"
    AUTO = "auto"


@dataclass
class DeviceProperties:
    """What a device says about itself. Zero means "not known"."""
    name: str
    kind: str
    device_id: int
    total_memory_gb: float
    compute_units: int          # CPU cores or GPU streaming multiprocessors
    peak_gflops: float
    isa: List[str] = field(default_factory=list)
    driver: str = ""
    simulated: bool = False
    runs_graphs: bool = True    # False: graphs "on" this device compute on the host CPU

    @property
    def cores(self):
        return self.compute_units

    @property
    def sms(self):
        return self.compute_units


class LightDevice:
    """One compute device.

    >>> dev = LightDevice(DeviceType.CPU, device_id=0)
    >>> dev.get_properties().name
    """

    def __init__(self, device_type=DeviceType.AUTO, device_id=0, threads=None):
        if isinstance(device_type, str):
            device_type = DeviceType(device_type.lower())
        if not isinstance(device_type, DeviceType):
            from .errors import ArgumentError
            raise ArgumentError(f"device_type must be a DeviceType, got {device_type!r}")
        self.device_type = device_type
        self.device_id = int(device_id)
        if threads is not None and device_type in (DeviceType.CPU, DeviceType.AUTO) and self.device_id == 0:
            self._h = _core.call(_go.DeviceOpenCPU, int(threads))   # intra-op threads (0: all cores)
        else:
            self._h = _core.call(_go.DeviceOpen, device_type.value, self.device_id)
        self._finalizer = weakref.finalize(self, _go.Close, self._h)
        self._info = json.loads(_core.call(_go.DeviceInfo, self._h))

    @classmethod
    def simulated(cls, profile="h100", device_id=0, inlet_c=0.0, cooling=1.0):
        """A simulated device (thermal and power models fitted to measured traces) for
        planning and for multi-device demos on a machine with one device. Graphs run on it
        compute on the host CPU; a PowerGovernor over simulated devices runs in virtual time
        and charges them the simulated time, power and heat."""
        dev = cls.__new__(cls)
        dev.device_type = DeviceType.NVIDIA if profile == "h100" else DeviceType.PHOTONIC
        dev.device_id = int(device_id)
        dev._h = _core.call(_go.DeviceOpenSim, profile, dev.device_id, float(inlet_c), float(cooling))
        dev._finalizer = weakref.finalize(dev, _go.Close, dev._h)
        dev._info = json.loads(_core.call(_go.DeviceInfo, dev._h))
        return dev

    @property
    def simulated_device(self):
        return bool(self._info["simulated"])

    @property
    def handle(self):
        return self._h

    def get_properties(self) -> DeviceProperties:
        i = self._info
        return DeviceProperties(
            name=i["name"], kind=i["kind"], device_id=i["id"],
            total_memory_gb=round(i["memory_bytes"] / 2**30, 2), compute_units=i["compute_units"],
            peak_gflops=i["peak_gflops"], isa=i["isa"] or [], driver=i["driver"], simulated=i["simulated"],
            runs_graphs=i.get("runs_graphs", True))

    def telemetry(self) -> dict:
        """A snapshot of the sensors: temperature_c, power_w, utilization, clock_mhz, ...;
        None for each sensor the device does not have."""
        return json.loads(_core.call(_go.DeviceTelemetry, self._h))

    def get_temperature(self) -> Optional[float]:
        """The temperature in degrees Celsius, or None without a sensor."""
        return self.telemetry()["temperature_c"]

    def get_power(self) -> Optional[float]:
        return self.telemetry()["power_w"]

    def set_power_limit(self, watts):
        """Device settings are read-only in LightOS unless explicitly allowed; not available."""
        raise LightOSNotImplementedError(
            "set_power_limit: LightOS reads device settings but does not write them "
            "(shared machines run this code); use the PowerGovernor's pacing instead")

    def __repr__(self):
        p = self.get_properties()
        sim = " (simulated)" if p.simulated and "simulated" not in p.name else ""
        host = "" if p.runs_graphs else "; graphs compute on the host CPU"
        return f"LightDevice({self.device_type.name}, {self.device_id}: {p.name}{sim}{host})"

    def _repr_html_(self):
        p = self.get_properties()
        t = self.telemetry()
        rows = [("name", p.name), ("kind", p.kind + (" (simulated)" if p.simulated else "")),
                ("id", p.device_id), ("memory", f"{p.total_memory_gb} GB"),
                ("compute units", p.compute_units), ("ISA", ", ".join(p.isa)),
                ("runs graphs", "yes" if p.runs_graphs else "no: on the host CPU")]
        rows += [(k, "unavailable" if v is None else v) for k, v in t.items() if k != "time"]
        body = "".join(f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
                       f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>" for k, v in rows)
        return f"<table><caption>LightDevice</caption>{body}</table>"


_default = None


def default_device():
    global _default
    if _default is None:
        _default = LightDevice(DeviceType.AUTO, 0)
    return _default
