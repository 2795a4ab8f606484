"""PyTorch versions of the models in make_onnx_models.py, exported with torch.onnx.

Used only when torch is installed (CI builds the models with onnx.helper instead):
    python scripts/make_onnx_models.py OUT_DIR --torch
The architectures match make_onnx_models.py (ResNet-50 and MobileNetV2 in eval mode
with BatchNormalization; a 6-layer post-LN BERT encoder and a 6-layer pre-LN GPT
decoder, hidden 512, 8 heads), so the same tests and benchmarks apply; what differs is
the graph the exporter writes (its Shape/Gather/Concat plumbing, its attention and
GELU patterns), which is the point of exporting them.
"""
import math

import torch
from torch import nn


class Bottleneck(nn.Module):
    def __init__(self, cin, width, stride, downsample):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, width * 4, 1, bias=False), nn.BatchNorm2d(width * 4)
        self.down = nn.Sequential(nn.Conv2d(cin, width * 4, 1, stride, bias=False), nn.BatchNorm2d(width * 4)) if downsample else None

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return torch.relu(y + (self.down(x) if self.down is not None else x))


class ResNet50(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        layers, cin = [], 64
        for i, (blocks, width) in enumerate([(3, 64), (4, 128), (6, 256), (3, 512)]):
            for j in range(blocks):
                layers.append(Bottleneck(cin, width, 2 if j == 0 and i > 0 else 1, j == 0))
                cin = width * 4
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(2048, 1000)

    def forward(self, x):
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.layers(self.stem(x)), 1), 1))


def conv_bn(cin, cout, k, stride=1, groups=1, act=True):
    mods = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        mods.append(nn.ReLU6())
    return nn.Sequential(*mods)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, t):
        super().__init__()
        hidden = cin * t
        mods = [conv_bn(cin, hidden, 1)] if t != 1 else []
        mods += [conv_bn(hidden, hidden, 3, stride, hidden), conv_bn(hidden, cout, 1, act=False)]
        self.block = nn.Sequential(*mods)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.block(x)
        return x + y if self.residual else y


class MobileNetV2(nn.Module):
    def __init__(self):
        super().__init__()
        mods, cin = [conv_bn(3, 32, 3, 2)], 32
        for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
            for i in range(n):
                mods.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        mods.append(conv_bn(cin, 1280, 1))
        self.features = nn.Sequential(*mods)
        self.fc = nn.Linear(1280, 1000)

    def forward(self, x):
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.features(x), 1), 1))


class SelfAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.heads, self.hd = heads, d // heads

    def forward(self, x, mask):
        b, s, d = x.shape
        split = lambda t: t.view(b, s, self.heads, self.hd).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.hd) + mask
        y = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(b, s, d)
        return self.o(y)


class EncoderLayer(nn.Module):
    def __init__(self, d, heads, ffn, pre_ln):
        super().__init__()
        self.attn, self.ln1, self.ln2 = SelfAttention(d, heads), nn.LayerNorm(d), nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, ffn), nn.GELU(), nn.Linear(ffn, d))
        self.pre_ln = pre_ln

    def forward(self, x, mask):
        if self.pre_ln:
            x = x + self.attn(self.ln1(x), mask)
            return x + self.ff(self.ln2(x))
        x = self.ln1(x + self.attn(x, mask))
        return self.ln2(x + self.ff(x))


class Bert(nn.Module):
    def __init__(self, layers=6, d=512, heads=8, ffn=2048, seq=128, vocab=8000):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Parameter(torch.randn(seq, d) * 0.5)
        self.ln = nn.LayerNorm(d)
        self.layers = nn.ModuleList(EncoderLayer(d, heads, ffn, False) for _ in range(layers))

    def forward(self, input_ids, attention_mask):
        x = self.ln(self.tok(input_ids) + self.pos)
        mask = ((1.0 - attention_mask.to(torch.float32)) * -10000.0)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, mask)
        return x


class GPT(nn.Module):
    def __init__(self, layers=6, d=512, heads=8, ffn=2048, seq=64, vocab=8000):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Parameter(torch.randn(seq, d) * 0.5)
        self.layers = nn.ModuleList(EncoderLayer(d, heads, ffn, True) for _ in range(layers))
        self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, vocab, bias=False)
        self.register_buffer("causal", torch.triu(torch.full((seq, seq), -10000.0), 1)[None, None])

    def forward(self, input_ids):
        x = self.tok(input_ids) + self.pos
        for layer in self.layers:
            x = layer(x, self.causal)
        return self.head(self.ln(x))


def export(name, path, seed=0):
    """Export one model with random weights (eval mode) to path."""
    torch.manual_seed(seed)
    if name in ("resnet50", "mobilenetv2"):
        model = ResNet50() if name == "resnet50" else MobileNetV2()
        args, inputs = (torch.randn(1, 3, 224, 224),), ["input"]
        axes = {"input": {0: "N"}, "output": {0: "N"}}
    elif name == "bert":
        model = Bert()
        args = (torch.randint(0, 8000, (1, 128)), torch.ones(1, 128, dtype=torch.int64))
        inputs = ["input_ids", "attention_mask"]
        axes = {"input_ids": {0: "N"}, "attention_mask": {0: "N"}, "output": {0: "N"}}
    else:
        model = GPT()
        args, inputs = (torch.randint(0, 8000, (1, 64)),), ["input_ids"]
        axes = {"input_ids": {0: "N"}, "output": {0: "N"}}
    model.eval()
    kwargs = dict(opset_version=17, input_names=inputs, output_names=["output"], dynamic_axes=axes)
    try:
        torch.onnx.export(model, args, path, dynamo=False, **kwargs)
    except TypeError:  # torch before 2.5 has no dynamo argument
        torch.onnx.export(model, args, path, **kwargs)
    return path
