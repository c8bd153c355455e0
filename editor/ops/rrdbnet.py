"""ESRGAN's RRDBNet in torch, and a reader that fills it from ncnn ``.param``/``.bin`` bytes.

- **Network**: Wang et al. 2018, "ESRGAN: Enhanced Super-Resolution Generative Adversarial
  Networks" (ECCV-W), sec. 3.1: residual-in-residual dense blocks (RRDB) without batch norm,
  each three dense blocks of five 3x3 convolutions (growth 32, LeakyReLU 0.2), every residual
  scaled by 0.2 before it is added. Real-ESRGAN x4plus (Wang et al. 2021, ICCV-W) is this
  network with 23 RRDBs; its anime variant has 6. Parameter names are basicsr's
  (``conv_first``, ``body.N.rdb1.conv1``, ``conv_body``, ``conv_up1``, ``conv_up2``,
  ``conv_hr``, ``conv_last``), so a PyTorch ``RealESRGAN_x4plus.pth`` state dict would load too.
- **ncnn format** (shared MANIFEST section 8): ``.param`` is text: the magic ``7767517``, a line
  ``layer_count blob_count``, then one layer a line (``type name n_in n_out inputs outputs
  k=v``; for Convolution 0=out channels, 1=kernel, 4=pad, 5=bias flag, 6=weight count,
  9=activation, 2 = LeakyReLU). ``.bin`` holds each Convolution's weights in layer order: a
  4-byte storage flag (0x01306B47: float16; 0: float32), the weights [out, in, kh, kw], then the
  bias as float32 [out]. The convolutions map in order onto `RRDBNet`'s ``nn.Conv2d`` modules
  (1 + 15 * blocks + 5 of them: 351 for x4plus).

Pure: the engine reads the files and passes their text and bytes to `rrdbnet_from_ncnn`.
Input float (N, 3, h, w) RGB 0..1, output (N, 3, 4h, 4w) RGB ~0..1, not clipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

NCNN_MAGIC = "7767517"
NCNN_FP16_FLAG = 0x01306B47
"""ncnn's storage tag for float16 weights (``.bin``, before each layer's weight blob)."""
NCNN_FP32_FLAG = 0


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2, inplace=True)


class ResidualDenseBlock(nn.Module):
    """Five 3x3 convs, each seeing the block input and every earlier output (dense
    connections, Huang et al. 2017), the fifth back to `features` channels; the result is
    scaled by 0.2 and added to the input (ESRGAN's residual scaling, sec. 3.1)."""

    def __init__(self, features: int = 64, growth: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, growth, 3, padding=1)
        self.conv2 = nn.Conv2d(features + growth, growth, 3, padding=1)
        self.conv3 = nn.Conv2d(features + 2 * growth, growth, 3, padding=1)
        self.conv4 = nn.Conv2d(features + 3 * growth, growth, 3, padding=1)
        self.conv5 = nn.Conv2d(features + 4 * growth, features, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = _lrelu(self.conv1(x))
        x2 = _lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = _lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = _lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    """Residual in residual: three dense blocks in series, scaled by 0.2, plus the input."""

    def __init__(self, features: int = 64, growth: int = 32) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(features, growth)
        self.rdb2 = ResidualDenseBlock(features, growth)
        self.rdb3 = ResidualDenseBlock(features, growth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNet(nn.Module):
    """ESRGAN's generator, x4: ``forward(rgb01_lr) -> rgb01_hr``.

    Data path: ``conv_first`` 3 -> 64, `blocks` RRDBs, ``conv_body``, plus the first features
    (a long skip), then twice nearest x2 + 3x3 conv + LeakyReLU (``conv_up1``, ``conv_up2``),
    ``conv_hr`` + LeakyReLU and ``conv_last`` 64 -> 3. Input float (N, 3, h, w) RGB 0..1 (any
    h, w >= 1), output (N, 3, 4h, 4w), not clipped. 16.7 M parameters with 23 blocks.
    All convolutions zero-pad; the receptive field is huge on paper but the output settles
    within a few LR pixels (see ``RRDB_OVERLAP`` in `editor.ops.sr_models`).
    """

    scale = 4

    def __init__(self, blocks: int = 23, features: int = 64, growth: int = 32) -> None:
        super().__init__()
        self.blocks, self.features, self.growth = blocks, features, growth
        self.conv_first = nn.Conv2d(3, features, 3, padding=1)
        self.body = nn.Sequential(*(RRDB(features, growth) for _ in range(blocks)))
        self.conv_body = nn.Conv2d(features, features, 3, padding=1)
        self.conv_up1 = nn.Conv2d(features, features, 3, padding=1)
        self.conv_up2 = nn.Conv2d(features, features, 3, padding=1)
        self.conv_hr = nn.Conv2d(features, features, 3, padding=1)
        self.conv_last = nn.Conv2d(features, 3, 3, padding=1)

    def forward(self, rgb01_lr: torch.Tensor) -> torch.Tensor:
        feat = self.conv_first(rgb01_lr)
        feat = feat + self.conv_body(self.body(feat))
        feat = _lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2.0, mode="nearest")))
        feat = _lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2.0, mode="nearest")))
        return self.conv_last(_lrelu(self.conv_hr(feat)))


def conv_count(blocks: int) -> int:
    """How many convolutions an RRDBNet with `blocks` RRDBs has (351 for 23)."""
    return 1 + 15 * blocks + 5


@dataclass(frozen=True)
class NcnnConv:
    """One Convolution line of a ``.param``: its name and the shape its weights must have."""

    name: str
    out_channels: int
    in_channels: int
    kernel: int
    bias: bool
    weight_count: int
    activation: int


def _layer_params(tokens: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        if not sep:
            raise ValueError(f"bad layer parameter {token!r}")
        params[key] = value
    return params


def parse_ncnn_param(text: str) -> list[NcnnConv]:
    """The Convolution layers of an ncnn ``.param`` text, in file order.

    Checks the magic line and that the header's layer count matches the lines. Raises
    ValueError (one line, naming the layer) for anything that is not this format.
    """
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != [NCNN_MAGIC]:
        raise ValueError(f"not an ncnn .param file (the first line is not {NCNN_MAGIC})")
    if len(lines) < 2 or len(lines[1]) != 2 or not all(t.isdigit() for t in lines[1]):
        raise ValueError("ncnn .param: the second line must be 'layer_count blob_count'")
    layer_count = int(lines[1][0])
    layers = lines[2:]
    if len(layers) != layer_count:
        raise ValueError(f"ncnn .param: the header says {layer_count} layers, found {len(layers)}")
    convs: list[NcnnConv] = []
    for tokens in layers:
        if len(tokens) < 4:
            raise ValueError(f"ncnn .param: short layer line {' '.join(tokens)!r}")
        kind, name = tokens[0], tokens[1]
        n_in, n_out = int(tokens[2]), int(tokens[3])
        if kind != "Convolution":
            continue
        params = _layer_params(tokens[4 + n_in + n_out :])
        out_ch = int(params.get("0", "0"))
        kernel = int(params.get("1", "1"))
        count = int(params.get("6", "0"))
        if out_ch <= 0 or count % (out_ch * kernel * kernel):
            raise ValueError(
                f"ncnn .param: {name}: {count} weights do not split into {out_ch} outputs of "
                f"{kernel}x{kernel}"
            )
        convs.append(
            NcnnConv(
                name=name,
                out_channels=out_ch,
                in_channels=count // (out_ch * kernel * kernel),
                kernel=kernel,
                bias=params.get("5", "0") == "1",
                weight_count=count,
                activation=int(params.get("9", "0")),
            )
        )
    return convs


def rrdb_blocks(convs: list[NcnnConv]) -> int:
    """The number of RRDB blocks a list of convolutions describes; ValueError if none fits."""
    blocks, rest = divmod(len(convs) - 6, 15)
    if blocks < 1 or rest:
        raise ValueError(
            f"{len(convs)} convolutions is not an RRDBNet (it has 1 + 15 * blocks + 5: 351 for "
            "23 blocks, 96 for 6)"
        )
    return blocks


def _read_convs(convs: list[NcnnConv], data: bytes) -> list[tuple[np.ndarray, np.ndarray]]:
    """(weight [out, in, k, k] float32, bias [out] float32) per convolution, from `.bin` bytes."""
    buf = memoryview(data)
    pos = 0
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for conv in convs:
        if pos + 4 > len(buf):
            raise ValueError(f"ncnn .bin ends before the weights of {conv.name}")
        flag = int(np.frombuffer(buf[pos : pos + 4], "<u4")[0])
        pos += 4
        if flag == NCNN_FP16_FLAG:
            dtype = np.dtype("<f2")
        elif flag == NCNN_FP32_FLAG:
            dtype = np.dtype("<f4")
        else:
            raise ValueError(f"ncnn .bin: {conv.name}: unsupported weight storage 0x{flag:08X}")
        size = conv.weight_count * dtype.itemsize
        bias_size = conv.out_channels * 4 if conv.bias else 0
        if pos + size + bias_size > len(buf):
            raise ValueError(f"ncnn .bin ends inside the weights of {conv.name}")
        shape = (conv.out_channels, conv.in_channels, conv.kernel, conv.kernel)
        weight = np.frombuffer(buf[pos : pos + size], dtype).astype(np.float32).reshape(shape)
        pos += size
        bias = np.zeros(conv.out_channels, np.float32)
        if conv.bias:
            bias = np.frombuffer(buf[pos : pos + bias_size], "<f4").astype(np.float32)
            pos += bias_size
        out.append((weight, bias))
    if pos != len(buf):
        raise ValueError(f"ncnn .bin has {len(buf) - pos} bytes left after the last convolution")
    return out


def rrdbnet_from_ncnn(param_text: str, bin_data: bytes) -> RRDBNet:
    """An eval-mode `RRDBNet` filled from an ncnn model's ``.param`` text and ``.bin`` bytes.

    The block count comes from the number of convolutions; every convolution's shape, bias and
    activation is checked against the network before any weight is read, and every byte of the
    ``.bin`` must be used. Raises ValueError (one line, naming the first mismatch).
    """
    convs = parse_ncnn_param(param_text)
    net = RRDBNet(rrdb_blocks(convs))
    modules = [(n, m) for n, m in net.named_modules() if isinstance(m, nn.Conv2d)]
    leaky = {"conv_up1", "conv_up2", "conv_hr"}
    for conv, (name, module) in zip(convs, modules, strict=True):
        expected = (module.out_channels, module.in_channels, module.kernel_size[0])
        found = (conv.out_channels, conv.in_channels, conv.kernel)
        if found != expected or not conv.bias:
            raise ValueError(
                f"ncnn {conv.name} is (out, in, kernel) {found}"
                f"{'' if conv.bias else ' without bias'}, but RRDBNet's {name} is {expected}"
            )
        wants_lrelu = name in leaky or name.endswith(("conv1", "conv2", "conv3", "conv4"))
        if (conv.activation == 2) != wants_lrelu:
            raise ValueError(
                f"ncnn {conv.name}: activation {conv.activation} where RRDBNet's {name} has "
                f"{'LeakyReLU (9=2)' if wants_lrelu else 'none'}"
            )
    weights = _read_convs(convs, bin_data)
    with torch.no_grad():
        for (_, module), (weight, bias) in zip(modules, weights, strict=True):
            module.weight.copy_(torch.from_numpy(weight))
            module.bias.copy_(torch.from_numpy(bias))
    return net.eval()


def rrdbnet_to_ncnn(net: RRDBNet, fp16: bool = True) -> tuple[str, bytes]:
    """The inverse of `rrdbnet_from_ncnn` for its reader: a ``.param`` text listing the
    convolutions (with an Input layer; no Split/Concat/Eltwise wiring, which the reader does not
    need) and the ``.bin`` bytes. For tests and for exporting small networks trained here."""
    modules = [(n, m) for n, m in net.named_modules() if isinstance(m, nn.Conv2d)]
    leaky = {"conv_up1", "conv_up2", "conv_hr"}
    lines = ["Input input 0 1 data"]
    chunks: list[bytes] = []
    blob = "data"
    for i, (name, m) in enumerate(modules):
        act = 2 if name in leaky or name.endswith(("conv1", "conv2", "conv3", "conv4")) else 0
        k = m.kernel_size[0]
        count = m.weight.numel()
        extra = f" 9={act} -23310=1,2.000000e-01" if act else ""
        lines.append(
            f"Convolution Conv_{i} 1 1 {blob} c{i} 0={m.out_channels} 1={k} 4={k // 2} 5=1 "
            f"6={count}{extra}"
        )
        blob = f"c{i}"
        w = m.weight.detach().cpu().numpy()
        flag = NCNN_FP16_FLAG if fp16 else NCNN_FP32_FLAG
        chunks.append(np.array([flag], "<u4").tobytes())
        chunks.append(w.astype("<f2" if fp16 else "<f4").tobytes())
        chunks.append(m.bias.detach().cpu().numpy().astype("<f4").tobytes())
    text = "\n".join([NCNN_MAGIC, f"{len(lines)} {len(lines) + 1}", *lines]) + "\n"
    return text, b"".join(chunks)


__all__ = [
    "RRDB",
    "NcnnConv",
    "RRDBNet",
    "ResidualDenseBlock",
    "conv_count",
    "parse_ncnn_param",
    "rrdb_blocks",
    "rrdbnet_from_ncnn",
    "rrdbnet_to_ncnn",
]
