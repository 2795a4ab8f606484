"""PyTorch timings of the cases of bench/gpu/main.go, on the same card and with the
same protocol: 10 warm-up runs, then each timed run between two CUDA events; the
median is reported. float32 cases run with TF32 allowed, as the LightOS side does.
Prints one JSON line per measurement."""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F


def timed(fn, reps, warm=10):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    evs = [torch.cuda.Event(enable_timing=True) for _ in range(reps + 1)]
    evs[0].record()
    for i in range(reps):
        fn()
        evs[i + 1].record()
    torch.cuda.synchronize()
    ms = sorted(evs[i].elapsed_time(evs[i + 1]) for i in range(reps))
    return ms


def emit(case, impl, ms, flops):
    med = ms[len(ms) // 2]
    print(json.dumps({"case": case, "impl": impl, "device": torch.cuda.get_device_name(),
                      "median_ms": med, "min_ms": ms[0], "tflops": flops / med / 1e9, "reps": len(ms)}), flush=True)


def gemm(reps):
    n = 8192
    a = torch.rand(n, n, device="cuda", dtype=torch.bfloat16) * 2 - 1
    b = torch.rand(n, n, device="cuda", dtype=torch.bfloat16) * 2 - 1
    emit("gemm-bf16-8192", "torch-matmul", timed(lambda: torch.matmul(a, b), reps), 2 * n ** 3)


def mlp(reps):
    batch, width, layers = 512, 4096, 4
    ws = [(torch.randn(width, width, device="cuda") / math.sqrt(width), torch.randn(width, device="cuda") * 0.02)
          for _ in range(layers)]
    x = torch.randn(batch, width, device="cuda")

    def f():
        y = x
        for w, b in ws:
            y = F.relu(torch.addmm(b, y, w))
        return y
    with torch.no_grad():
        emit("mlp-b512-4x4096", "torch-eager", timed(f, reps), 2 * batch * width * width * layers)


def encoder(reps, layers, compile_too):
    e, heads, ffn, seq = 768, 12, 3072, 128
    d = e // heads

    def lin(i, o):
        return torch.randn(i, o, device="cuda") / math.sqrt(i), torch.randn(o, device="cuda") * 0.02
    ps = [dict(q=lin(e, e), k=lin(e, e), v=lin(e, e), o=lin(e, e), f1=lin(e, ffn), f2=lin(ffn, e),
               g1=torch.randn(e, device="cuda") * 0.1, b1=torch.randn(e, device="cuda") * 0.1,
               g2=torch.randn(e, device="cuda") * 0.1, b2=torch.randn(e, device="cuda") * 0.1) for _ in range(layers)]

    def f(x):
        bsz = x.shape[0]
        for p in ps:
            def heads_of(t):
                return t.view(bsz, seq, heads, d).transpose(1, 2)
            q = heads_of(torch.addmm(p["q"][1], x.view(-1, e), p["q"][0]))
            k = heads_of(torch.addmm(p["k"][1], x.view(-1, e), p["k"][0]))
            v = heads_of(torch.addmm(p["v"][1], x.view(-1, e), p["v"][0]))
            a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(bsz * seq, e)
            o = torch.addmm(p["o"][1], a, p["o"][0]).view(bsz, seq, e)
            h = F.layer_norm(x + o, (e,), p["g1"], p["b1"], 1e-12)
            t = F.gelu(torch.addmm(p["f1"][1], h.view(-1, e), p["f1"][0]))
            t = torch.addmm(p["f2"][1], t, p["f2"][0]).view(bsz, seq, e)
            x = F.layer_norm(h + t, (e,), p["g2"], p["b2"], 1e-12)
        return x
    per_layer = 2 * seq * e * e * 4 + 2 * 2 * seq * e * ffn + 2 * 2 * seq * seq * e
    for bsz in (1, 32):
        x = torch.randn(bsz, seq, e, device="cuda")
        with torch.no_grad():
            emit(f"bert{layers}-s128-b{bsz}", "torch-eager", timed(lambda: f(x), reps), per_layer * layers * bsz)
        if compile_too:
            compiled(f"bert{layers}-s128-b{bsz}", "torch-compile", f, x, reps, per_layer * layers * bsz)


def compiled(case, impl, fn, example, reps, flops):
    """Times torch.compile(fn) (mode reduce-overhead: Inductor kernels replayed as CUDA
    graphs) after compiling it; prints an error line instead when compiling fails."""
    try:
        t0 = time.time()
        cf = torch.compile(fn, mode="reduce-overhead")
        with torch.no_grad():
            for _ in range(3):
                cf(example)
            torch.cuda.synchronize()
            secs = time.time() - t0
            emit(case, impl, timed(lambda: cf(example), reps), flops)
        print(json.dumps({"case": case, "impl": impl, "compile_s": round(secs, 1)}), flush=True)
    except Exception as e:  # noqa: BLE001 - record why it failed on this machine
        print(json.dumps({"case": case, "impl": impl, "error": f"{type(e).__name__}: {e}"[:600]}), flush=True)


def resnet(reps, compile_too):
    import torchvision
    torch.backends.cudnn.benchmark = True
    m = torchvision.models.resnet50().cuda().eval()
    gflop = 8.18e9  # 2 x multiply-adds of the convolutions and the classifier, per image
    for bsz in (1, 64):
        x = torch.randn(bsz, 3, 224, 224, device="cuda")
        with torch.no_grad():
            emit(f"resnet50-b{bsz}", "torch-eager", timed(lambda: m(x), reps), gflop * bsz)
        if compile_too:
            compiled(f"resnet50-b{bsz}", "torch-compile", m, x, reps, gflop * bsz)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", default="all")
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile")
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    if a.case in ("gemm", "all"):
        gemm(a.reps)
    if a.case in ("mlp", "all"):
        mlp(a.reps)
    if a.case in ("encoder", "all"):
        encoder(a.reps, a.layers, a.compile)
    if a.case in ("resnet", "all"):
        resnet(a.reps, a.compile)


if __name__ == "__main__":
    main()
