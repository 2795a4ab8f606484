"""PowerGovernor: thermal-aware job scheduling (engine/governor).

    governor = PowerGovernor(device)                  # or PowerGovernor(devices=[...])
    job = governor.submit_job(graph, {x: batch}, priority=1)
    out = job.result()

The policy (default "predictive") forecasts each device's temperature over the job from
its fitted thermal model and places, caps or delays work to stay below the throttle
point; "coolest-first", "round-robin" and "none" are the simple alternatives. Over
simulated devices (LightDevice.simulated) the governor runs in virtual time: result()
advances the simulation until the job ends, while the graph itself computes on the host.
Jobs run on the governor's own threads (real devices): Python custom ops work there too.
"""
import json
import weakref

import numpy as np

from . import _core
from ._core import _go, REC
from .custom import reraise_pending, take_pending
from .device import LightDevice, default_device
from .errors import ArgumentError, CustomOpError, LightOSError, translate


class Job:
    """A submitted run. result() waits for its outputs (or raises the run's exception)."""

    def __init__(self, governor, graph, session, h, token, keep, priority):
        self.governor, self.graph, self.priority = governor, graph, priority
        self._session, self._h, self._token, self._keep = session, h, token, keep
        self._fin = weakref.finalize(self, _go.Close, h)
        self._result = None

    def result(self, timeout=None):
        if self._result is None:
            m = np.zeros(REC * self._session.n_out, np.int64)
            try:
                _go.JobWait(self._h, float(timeout or 0), m.ctypes.data, m.size)
            except RuntimeError as e:
                err = translate(e)
                if isinstance(err, CustomOpError):
                    reraise_pending(self._token, err)
                take_pending(self._token)
                raise err from None
            self._result = self._session.unpack(m.tolist())
            self._keep = None
        return self._result

    def info(self):
        """status, device, queue_s, run_s, energy_j, power_cap_w, flops."""
        return json.loads(_core.call(_go.JobInfo, self._h))

    @property
    def status(self):
        return self.info()["status"]

    @property
    def device(self):
        return self.info()["device"]

    def done(self):
        return self.status in ("done", "failed", "canceled", "expired")

    def cancel(self):
        _core.call(_go.JobCancel, self._h)

    def __repr__(self):
        i = self.info()
        return f"<Job {i['id']} {i['name']!r} priority={self.priority} {i['status']} on {i['device']}>"


class PowerGovernor:
    """Runs graph jobs on one or more devices, placing them by temperature and power."""

    def __init__(self, device=None, devices=None, policy="predictive", power_budget_w=0.0):
        if devices is None:
            devices = [device or default_device()]
        devices = list(devices)
        if not devices:
            raise ArgumentError("PowerGovernor needs at least one device")
        for d in devices:
            if not isinstance(d, LightDevice):
                raise ArgumentError(f"PowerGovernor takes LightDevices, got {type(d).__name__}")
        self.devices = devices
        self.policy = policy
        self._h = _core.call(_go.GovernorNew, ",".join(str(d.handle) for d in devices), policy, float(power_budget_w))
        self._fin = weakref.finalize(self, _go.Close, self._h)

    def submit_job(self, graph, feeds=None, priority=0, deadline_s=None, name=None, flops=None, batch=None):
        """Queue graph.execute(feeds) and return its Job. The feed arrays are borrowed
        until the job ends (the Job keeps them alive). deadline_s: the latest start, in
        seconds from now. flops/batch override the job's estimated work, which is what a
        simulated device is charged (e.g. to model a large model with a small graph)."""
        s = graph._session()
        recs, keep, n_in = s.pack(feeds or {})
        recs[0] = n_in
        recs[2] = len(recs)
        meta = np.array(recs, np.int64)
        token = _core.next_token()
        h = _core.call(_go.GovernorSubmit, self._h, s.h, token, meta.ctypes.data, int(priority),
                       float(deadline_s or 0), name or graph.name, float(flops or 0), int(batch or 0))
        return Job(self, graph, s, h, token, (keep, meta), priority)

    def advance(self, seconds=0.0):
        """Virtual time only: advance the simulation by seconds (0: until idle)."""
        _core.call(_go.GovernorAdvance, self._h, float(seconds))

    def metrics(self):
        """Throughput, energy, temperatures, throttle events, queue delays so far."""
        return json.loads(_core.call(_go.GovernorMetrics, self._h))

    def shutdown(self):
        self._fin()

    def __repr__(self):
        try:
            m = self.metrics()
        except LightOSError:
            return "<PowerGovernor (shut down)>"
        return (f"<PowerGovernor {m['policy']} over {m['devices']} device(s)"
                f"{' (simulated, virtual time)' if m['virtual'] else ''}: {m['completed']}/{m['submitted']} jobs done>")

    def _repr_html_(self):
        import html
        m = self.metrics()
        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                       for k, v in m.items())
        return f"<table><caption>PowerGovernor</caption>{rows}</table>"
