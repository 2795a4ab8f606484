"""Kernel start to kernel_info_reply, LightOS (Go) kernel against ipykernel.

Each sample launches a kernel through jupyter_client exactly as Jupyter does
(connection file, subprocess from the kernelspec), sends kernel_info_request at
once and stops the clock when the reply arrives; the kernel is then shut down.
The two kernels alternate so that load on the machine affects both alike;
ipykernel is the anchor measured in the same run.

Usage (after `go build -o bin/lightos ./cmd/lightos` and
`bin/lightos kernel install --sys-prefix` with VIRTUAL_ENV set):

    .venv/bin/python bench/kernel/startup.py [-n 10]
"""

import argparse
import json
import platform
import statistics
import subprocess
import time

from jupyter_client.manager import KernelManager


def start_to_info(kernel_name: str) -> float:
    km = KernelManager(kernel_name=kernel_name)
    t0 = time.perf_counter()
    km.start_kernel(stderr=subprocess.DEVNULL)
    kc = km.client()
    kc.start_channels()
    try:
        msg_id = kc.kernel_info()
        while True:
            reply = kc.get_shell_msg(timeout=60)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        return time.perf_counter() - t0
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10, help="samples per kernel")
    args = ap.parse_args()
    kernels = ["lightos", "python3"]
    samples = {k: [] for k in kernels}
    for k in kernels:  # warm the page cache once, not counted
        start_to_info(k)
    for _ in range(args.n):
        for k in kernels:
            samples[k].append(start_to_info(k))
    res = {}
    for k, s in samples.items():
        res[k] = {"median_s": statistics.median(s), "min_s": min(s), "max_s": max(s)}
    ratio = res["lightos"]["median_s"] / res["python3"]["median_s"]
    print(json.dumps({"machine": platform.platform(), "cpus": __import__("os").cpu_count(), "n": args.n,
                      "kernels": res, "lightos_over_ipykernel": ratio}, indent=2))
    print(f"LightOS start->kernel_info_reply median {res['lightos']['median_s'] * 1000:.0f} ms "
          f"(goal <= 1000 ms); ipykernel {res['python3']['median_s'] * 1000:.0f} ms; ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
