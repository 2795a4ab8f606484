"""PowerGovernor: submit graph runs as jobs.

Until engine/governor lands, the governor here is a simple one: jobs run on a worker
pool in priority order (higher first), each recording the device telemetry before and
after; it does no thermal placement yet, and says so in its repr."""
import concurrent.futures
import heapq
import itertools
import threading
import time

from .device import LightDevice, default_device
from .errors import ArgumentError


class Job:
    """A submitted run. result() waits for the outputs (or raises the run's exception)."""

    def __init__(self, graph, feeds, priority, device):
        self.graph, self.feeds, self.priority, self.device = graph, feeds, priority, device
        self._future = concurrent.futures.Future()
        self.submitted = time.time()
        self.started = self.finished = None
        self.telemetry_before = self.telemetry_after = None

    def result(self, timeout=None):
        return self._future.result(timeout)

    def done(self):
        return self._future.done()

    @property
    def latency_s(self):
        return None if self.finished is None else self.finished - self.started

    def __repr__(self):
        state = "done" if self.done() else "pending"
        return f"<Job {self.graph.name} priority={self.priority} on {self.device!r}: {state}>"


class PowerGovernor:
    """Runs jobs on one or more devices. With several devices, each job goes to the
    coolest one that reports a temperature (else round robin)."""

    def __init__(self, device=None, workers=1, devices=None):
        if devices is None:
            devices = [device or default_device()]
        for d in devices:
            if not isinstance(d, LightDevice):
                raise ArgumentError(f"PowerGovernor takes LightDevices, got {type(d).__name__}")
        self.devices = list(devices)
        self._queue = []
        self._seq = itertools.count()
        self._rr = itertools.count()
        self._cv = threading.Condition()
        self._closed = False
        self._threads = [threading.Thread(target=self._worker, daemon=True, name=f"lightos-governor-{i}")
                         for i in range(max(1, workers))]
        for t in self._threads:
            t.start()

    def _pick(self):
        temps = [(d.get_temperature(), i) for i, d in enumerate(self.devices)]
        known = [(t, i) for t, i in temps if t is not None]
        if known:
            return self.devices[min(known)[1]]
        return self.devices[next(self._rr) % len(self.devices)]

    def submit_job(self, graph, feeds=None, priority=0):
        """Queue graph.execute(feeds) and return its Job."""
        job = Job(graph, feeds or {}, priority, self._pick())
        with self._cv:
            if self._closed:
                raise ArgumentError("the governor is shut down")
            heapq.heappush(self._queue, (-priority, next(self._seq), job))
            self._cv.notify()
        return job

    def _worker(self):
        while True:
            with self._cv:
                while not self._queue and not self._closed:
                    self._cv.wait()
                if not self._queue:
                    return
                _, _, job = heapq.heappop(self._queue)
            if not job._future.set_running_or_notify_cancel():
                continue
            try:
                job.telemetry_before = job.device.telemetry()
                job.started = time.perf_counter()
                out = job.graph.execute(job.feeds)
                job.finished = time.perf_counter()
                job.telemetry_after = job.device.telemetry()
                job._future.set_result(out)
            except BaseException as e:  # noqa: B036 - handed to the caller
                job.finished = time.perf_counter()
                job._future.set_exception(e)

    def shutdown(self, wait=True):
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        if wait:
            for t in self._threads:
                t.join()

    def __repr__(self):
        return f"<PowerGovernor {len(self.devices)} device(s), {len(self._queue)} queued (priority queue; no thermal model yet)>"
