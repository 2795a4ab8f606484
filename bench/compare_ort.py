#!/usr/bin/env python3
"""LightOS against ONNX Runtime on ResNet-50 and a BERT-style encoder, one machine, one run.

    .venv/bin/python bench/compare_ort.py [--threads N] [--runs 20] [--rounds 4]
                                          [--models resnet50,bert] [--batches 1,8]

Models come from scripts/make_onnx_models.py (random weights, generated into --model-dir).
Latency: ONNX Runtime with every graph optimization on (ORT_ENABLE_ALL) and
intra_op_num_threads = N, against `lightos run --threads N` (optimizer on). Each side gets
3 untimed runs (ORT: 3 warm-up runs; LightOS: the first run, which plans, and
--warmup 2) and then takes the median of --runs timed runs. Rounds interleave the two,
the first of each round alternating (ORT first in odd rounds), so that noise on a shared
machine hits both alike. Reported: each side's best round and their ratio LightOS / ORT
(below 1.0: LightOS is faster), and the ratio of every round, with their median.
Load time: the fastest of 5 loads of ResNet-50 from ONNX (memory-mapped, weights
borrowed) and from the native .lightos format (made by `lightos convert`), both with
`lightos run --load-only`; ORT's session creation time is shown for scale.
Prints a Markdown report.
"""
import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import make_onnx_models  # noqa: E402

UNITS = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_duration(s):
    """Parse a Go duration string such as 1.234ms or 1m2.5s into seconds."""
    total = 0.0
    for num, unit in re.findall(r"([0-9.]+)(ns|µs|us|ms|s|m|h)", s):
        total += float(num) * UNITS[unit]
    return total


def feeds_for(name, batch, rng):
    if name in ("resnet50", "mobilenetv2"):
        return {"input": rng.standard_normal((batch, 3, 224, 224)).astype(np.float32)}
    if name == "bert":
        return {"input_ids": rng.integers(0, 8000, (batch, 128)).astype(np.int64),
                "attention_mask": np.ones((batch, 128), np.int64)}
    return {"input_ids": rng.integers(0, 8000, (batch, 64)).astype(np.int64)}


def ort_median(path, feeds, threads, runs):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    for _ in range(3):
        sess.run(None, feeds)
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        sess.run(None, feeds)
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def lightos_median(binary, path, feeds, threads, runs, workdir):
    args = [binary, "run", path, "--warmup", "2", "--repeat", str(runs), "--threads", str(threads)]
    for name, arr in feeds.items():
        f = os.path.join(workdir, f"{name}.npy")
        np.save(f, arr)
        args += ["--input", f"{name}={f}"]
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip() or p.stdout.strip())
    m = re.search(r"median ([0-9.]+[a-zµ]+)", p.stdout)
    if not m:
        raise RuntimeError("no latency in output:\n" + p.stdout)
    return go_duration(m.group(1))


def load_time(binary, path):
    p = subprocess.run([binary, "run", path, "--load-only", "5"], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip())
    return go_duration(re.search(r"fastest of \d+: (\S+)", p.stdout).group(1))


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--models", default="resnet50,bert")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--model-dir", default=os.path.join(ROOT, ".work", "onnx-models"))
    ap.add_argument("--lightos", default="", help="the lightos binary (default: build one)")
    a = ap.parse_args()
    os.makedirs(a.model_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="compare_ort_")
    binary = a.lightos
    if not binary:
        binary = os.path.join(work, "lightos")
        subprocess.run(["go", "build", "-o", binary, "./cmd/lightos"], cwd=ROOT, check=True)
    import onnxruntime as ort
    print(f"# LightOS vs ONNX Runtime {ort.__version__}\n")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Machine: {cpu_name()}, {os.cpu_count()} logical CPUs, load average {load:.1f} at start; "
          f"threads {a.threads}; median of {a.runs} runs in each of {a.rounds} interleaved rounds.\n")
    print("| model | batch | ONNX Runtime (ms) | LightOS (ms) | ratio LightOS/ORT | per round (median) |\n"
          "|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    paths = {}
    for name in a.models.split(","):
        path = os.path.join(a.model_dir, name + ".onnx")
        if not os.path.exists(path):
            make_onnx_models.build(name, a.model_dir)
        paths[name] = path
        for batch in [int(b) for b in a.batches.split(",")]:
            feeds = feeds_for(name, batch, rng)
            ort_s, los_s, err = [], [], ""  # each round's median, seconds
            for r in range(a.rounds):
                try:
                    if r % 2 == 0:
                        ort_s.append(ort_median(path, feeds, a.threads, a.runs))
                    los_s.append(lightos_median(binary, path, feeds, a.threads, a.runs, work))
                    if r % 2 == 1:
                        ort_s.append(ort_median(path, feeds, a.threads, a.runs))
                except RuntimeError as e:
                    err = str(e).splitlines()[-1][:120]
                    break
            if err:
                print(f"| {name} | {batch} | {min(ort_s, default=float('nan')) * 1e3:.2f} | failed: {err} | - | - |")
            else:
                per_round = [lo / o for lo, o in zip(los_s, ort_s)]
                print(f"| {name} | {batch} | {min(ort_s) * 1e3:.2f} | {min(los_s) * 1e3:.2f} | "
                      f"{min(los_s) / min(ort_s):.2f} | {' '.join(f'{x:.2f}' for x in per_round)} "
                      f"({float(np.median(per_round)):.2f}) |")
            sys.stdout.flush()
    if "resnet50" in paths:
        onnx_path = paths["resnet50"]
        native = os.path.join(work, "resnet50.lightos")
        subprocess.run([binary, "convert", "-optimize=false", "-o", native, onnx_path], check=True, capture_output=True)
        t_onnx, t_native = load_time(binary, onnx_path), load_time(binary, native)
        t = time.perf_counter()
        ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        t_ort = time.perf_counter() - t
        print(f"\n| ResNet-50 load ({os.path.getsize(onnx_path) / 1e6:.0f} MB) | time (ms) |\n|---|---|")
        print(f"| LightOS from ONNX (mmap, weights borrowed) | {t_onnx * 1e3:.2f} |")
        print(f"| LightOS from .lightos (mmap) | {t_native * 1e3:.2f} |")
        print(f"| ONNX Runtime session creation (for scale; includes its optimizer) | {t_ort * 1e3:.1f} |")


if __name__ == "__main__":
    main()
