"""TorchScript: LightOS against PyTorch on the same machine, same thread count, one run.

    python bench/torchscript/compare.py [--threads N] [--runs N]

Needs PyTorch and torchvision in the interpreter that runs it, and bin/lightos (make setup).
For each traced model (scripts/make_torchscript_models.py --big, written to a temporary
folder) it measures the load time of torch.jit.load against `lightos bench`'s load, and the
median latency of PyTorch eager (the nn.Module, torch.no_grad) against LightOS on the same
input size, then prints the ratios (LightOS / PyTorch; below 1 means LightOS is faster).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import make_torchscript_models as mk  # noqa: E402


def median_time(fn, runs: int) -> float:
    for _ in range(3):
        fn()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def parse_duration(s: str) -> float:
    m = re.match(r"([\d.]+)(ns|µs|us|ms|s)$", s)
    if not m:
        raise ValueError(s)
    return float(m.group(1)) * {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}[m.group(2)]


def lightos(path: Path, batch: int, threads: int, runs: int) -> tuple[float, float]:
    out = subprocess.run([str(ROOT / "bin" / "lightos"), "bench", str(path), "-batch", str(batch),
                          "-threads", str(threads), "-runs", str(runs)], check=True,
                         capture_output=True, text=True).stdout
    load = parse_duration(re.search(r"load: (\S+)", out).group(1))
    p50 = parse_duration(re.search(r"p50 (\S+)", out).group(1))
    return load, p50


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    import torchvision

    models = {
        "mlp": (mk.MLP(), torch.randn(3, 20)),
        "cnn": (mk.SmallCNN(), torch.randn(2, 3, 17, 17)),
        "encoder": (mk.encoder(), torch.randn(2, 7, 32)),
        "gpt": (mk.TinyGPT(), torch.randint(0, 50, (2, 9))),
        "resnet18": (torchvision.models.resnet18(weights=None), torch.randn(1, 3, 224, 224)),
    }
    print(f"# TorchScript vs PyTorch {torch.__version__}, {args.threads} threads, {args.runs} runs each")
    print("| model | batch | torch.jit.load | LightOS load | load ratio | PyTorch eager p50 | LightOS p50 | latency ratio |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (model, x) in models.items():
            model = model.eval()
            path = Path(tmp) / f"{name}.pt"
            with torch.no_grad():
                torch.jit.trace(model, x).save(str(path))
            t_load = min(median_time(lambda: torch.jit.load(str(path)), 5) for _ in range(1))
            with torch.no_grad():
                t_eager = median_time(lambda: model(x), args.runs)
            l_load, l_p50 = lightos(path, x.shape[0], args.threads, args.runs)
            print(f"| {name} | {x.shape[0]} | {t_load*1e3:.2f} ms | {l_load*1e3:.2f} ms | {l_load/t_load:.2f} "
                  f"| {t_eager*1e3:.3f} ms | {l_p50*1e3:.3f} ms | {l_p50/t_eager:.2f} |")


if __name__ == "__main__":
    main()
