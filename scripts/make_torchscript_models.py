"""Trace small PyTorch models with torch.jit and save them with inputs and expected outputs.

    python scripts/make_torchscript_models.py OUT_DIR [--big]

Writes NAME.pt, NAME.input.npy and NAME.output.npy for each model: an MLP, a small CNN
(conv, batch norm, pooling), a 2-layer transformer encoder, a GPT-style block with a causal
mask (embedding, masked_fill, scaled_dot_product_attention), and with --big ResNet-18
(torchvision, random weights). Random weights, fixed seeds. The small archives are
committed in testdata/torchscript (made by this script); the Go tests compare the engine
with the saved outputs, and regenerate everything when PyTorch is installed.
"""

from __future__ import annotations

import argparse
import math
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

warnings.filterwarnings("ignore")


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(20, 64)
        self.fc2 = nn.Linear(64, 32)
        self.fc3 = nn.Linear(32, 10)
        self.drop = nn.Dropout(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.fc1(x))
        x = self.drop(torch.sigmoid(self.fc2(x)) * x[:, :32])
        return F.log_softmax(self.fc3(x), dim=-1)


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1, groups=2)
        self.conv3 = nn.Conv1d(32, 8, 3, padding=1)
        self.fc = nn.Linear(32 + 8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.max_pool2d(y, 2)
        y = F.silu(self.conv2(y))
        z = F.avg_pool2d(y, 2)
        pooled = F.adaptive_avg_pool2d(y, 1).flatten(1)
        seq = z.flatten(2)  # (N, 32, L)
        s = torch.tanh(self.conv3(seq)).mean(dim=2)
        h = torch.cat([pooled, s], dim=1)
        return torch.softmax(self.fc(h), dim=1)


class Block(nn.Module):
    """A GPT-style decoder block with a causal mask, written with SDPA."""

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.ff1 = nn.Linear(d, 4 * d)
        self.ff2 = nn.Linear(4 * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        q = q.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        k = k.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        v = v.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d // self.heads))
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
        att = att.masked_fill(mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, d)
        x = x + self.proj(y)
        return x + self.ff2(F.gelu(self.ff1(self.ln2(x)), approximate="tanh"))


class TinyGPT(nn.Module):
    def __init__(self, vocab: int = 50, d: int = 32, heads: int = 4, layers: int = 2) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(16, d) * 0.02)
        self.blocks = nn.ModuleList([Block(d, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.emb(idx) + self.pos[: idx.shape[1]]
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln(x))


def encoder() -> nn.Module:
    torch.backends.mha.set_fastpath_enabled(False)  # trace the decomposed attention
    layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.1, batch_first=True)
    return nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)


def save(out: Path, name: str, model: nn.Module, x: torch.Tensor) -> None:
    model = model.eval()
    with torch.no_grad():
        for m in model.modules():  # non-trivial batch-norm statistics
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
        traced = torch.jit.trace(model, x)
        y = model(x)
    traced.save(str(out / f"{name}.pt"))
    np.save(out / f"{name}.input.npy", x.numpy())
    np.save(out / f"{name}.output.npy", y.numpy())
    print(f"{name}: input {tuple(x.shape)} -> output {tuple(y.shape)}")


def make_bad(out: Path) -> None:
    """Archives the loader must refuse with a clear error: a scripted model with
    control flow, and a traced model using operators LightOS does not lower."""

    class Branchy(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if bool(x.sum() > 0):
                return x * 2
            for _ in range(3):
                x = x + 1
            return x

    class Exotic(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cumprod(torch.fliplr(x), dim=1) + torch.logdet(x @ x.T + torch.eye(x.shape[0]))

    torch.jit.script(Branchy()).save(str(out / "bad_scripted.pt"))
    torch.jit.trace(Exotic(), torch.randn(3, 3)).save(str(out / "bad_ops.pt"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--big", action="store_true", help="also ResNet-18 (needs torchvision)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    save(args.out, "mlp", MLP(), torch.randn(3, 20))
    save(args.out, "cnn", SmallCNN(), torch.randn(2, 3, 17, 17))
    save(args.out, "encoder", encoder(), torch.randn(2, 7, 32))
    save(args.out, "gpt", TinyGPT(), torch.randint(0, 50, (2, 9)))
    make_bad(args.out)
    if args.big:
        import torchvision

        save(args.out, "resnet18", torchvision.models.resnet18(weights=None), torch.randn(1, 3, 224, 224))


if __name__ == "__main__":
    main()
