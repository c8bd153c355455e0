"""Fast-style speed: one 512x512 forward pass of our slim net against a Johnson-size network.

Run: ``.venv/bin/python benchmarks/bench_fast_style.py [--threads N] [--size N] [--repeats N]``

Both networks are measured in the same process with the same threads: ours
(`editor.ops.transform_net.TransformNet`, the shipped styles' sizes: 16/32/64 channels, 3
residual blocks, nearest-upsample + conv) with the first shipped weights found in
``editor/resources/models/styles/`` (random weights otherwise — the time is the same), and
`JohnsonTF` with random weights: the layout of Johnson et al. 2016 / lengstrom's nets (32/64/128
channels, 5 residual blocks, transposed convolutions). Seconds are the median of ``--repeats``
runs after one warm-up, RGB 0..1 float in and out (no image decoding). Prints a Markdown table.
The issue's target: < 0.3 s for 512x512 on 2 cores.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from safetensors.torch import load_file, safe_open  # noqa: E402

from editor.ops.transform_net import JohnsonTF, TransformNet, load_transform_net  # noqa: E402

STYLES = REPO / "editor" / "resources" / "models" / "styles"


def _ours() -> tuple[TransformNet, str]:
    for path in sorted(STYLES.glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        return load_transform_net(load_file(str(path)), meta), f"ours ({path.stem})"
    torch.manual_seed(0)
    return TransformNet().eval(), "ours (random weights)"


def _seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: allocator, oneDNN primitive caches
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--size", type=int, default=512, help="square side (default 512)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    ours, label = _ours()
    torch.manual_seed(0)
    johnson = JohnsonTF().eval()
    x = torch.rand(1, 3, args.size, args.size)
    rows = []
    with torch.inference_mode():
        for name, net, run in (
            (label, ours, lambda: ours(x)),
            ("Johnson-size (JohnsonTF, random weights)", johnson, lambda: johnson(x * 255.0)),
        ):
            params = sum(p.numel() for p in net.parameters())
            rows.append((name, params, _seconds(run, args.repeats)))

    print(
        f"fast style, {args.size}x{args.size} forward, torch {torch.__version__}, "
        f"{args.threads} thread(s), {platform.processor() or platform.machine()}\n"
    )
    print("| network | parameters | seconds | vs Johnson-size |")
    print("|---|---:|---:|---:|")
    base = rows[-1][2]
    for name, params, seconds in rows:
        print(f"| {name} | {params:,} | {seconds:.3f} | {seconds / base:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
