"""How long `semedit` takes to report a mistake on its command line, against a successful run.

Run: ``.venv/bin/python benchmarks/bench_cli_startup.py [--repeat N]`` (``--smoke``: one run of
each case, to check it still works).

Each case is a fresh interpreter running ``editor.cli.main(argv)``, as the ``semedit`` script
does: a missing input, a missing mask, an output folder that does not exist, an unsupported
output format and a bad ``--target``, against a successful ``semedit remove --method ns`` of a
small image, and against the imports alone of that successful run (torch, OpenCV, the edit). The
checks run before the heavy imports, so the error cases should cost what starting Python, numpy
and Pillow costs.

- process s: wall time of the whole child process (the median of ``--repeat`` runs);
- main s: from before ``import editor.cli`` to ``main`` returning (or the imports done), inside
  the child;
- torch: whether torch had been imported when ``main`` returned.

Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from _smoke import add_smoke_option, announce_smoke  # noqa: E402
from PIL import Image  # noqa: E402

CHILD = """
import contextlib, io, json, sys, time
start = time.perf_counter()
import editor.cli
argv = json.loads(sys.argv[1])
if argv == ["--imports-only"]:  # what a successful remove imports before its work starts
    import editor.core.imageio, editor.engine.device, editor.engine.edits.remove
    rc = None
else:
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        rc = editor.cli.main(argv)
elapsed = time.perf_counter() - start
print(json.dumps({"rc": rc, "main_s": elapsed, "torch": "torch" in sys.modules}))
"""


def make_files(folder: Path) -> dict[str, str]:
    """A small photo-like image and a mask with a blob, for the successful run."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    mask = np.zeros((96, 128), np.uint8)
    mask[40:56, 50:70] = 255
    Image.fromarray(image).save(folder / "photo.png")
    Image.fromarray(mask).save(folder / "mask.png")
    return {name: str(folder / f"{name}.png") for name in ("photo", "mask")} | {
        "out": str(folder / "out.png")
    }


def cases(f: dict[str, str]) -> list[tuple[str, list[str]]]:
    remove = ["remove", f["photo"], "--mask", f["mask"]]
    return [
        ("remove: missing input", ["remove", "missing.png", "--mask", "m.png", "-o", f["out"]]),
        ("remove: missing mask", ["remove", f["photo"], "--mask", "m.png", "-o", f["out"]]),
        ("remove: no such output folder", [*remove, "-o", "/no/such/folder/out.png"]),
        (
            "upscale: unsupported output format",
            ["upscale", f["photo"], "--scale", "2", "-o", "o.gif"],
        ),
        (
            "faceswap: --target 0",
            ["faceswap", f["photo"], "--face", f["photo"], "--target", "0", "-o", f["out"]],
        ),  # fmt: skip
        ("remove --method ns: success (baseline)", [*remove, "-o", f["out"], "--method", "ns"]),
        ("remove: its imports alone (baseline)", ["--imports-only"]),
    ]


def run_case(argv: list[str], cwd: Path) -> tuple[float, dict]:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(argv)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"case {argv} crashed:\n{done.stderr[-3000:]}")
    return elapsed, json.loads(done.stdout.splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per case (median; 5)")
    add_smoke_option(parser)
    args = parser.parse_args(argv)
    repeat = 1 if args.smoke else max(1, args.repeat)
    if args.smoke:
        announce_smoke()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = make_files(folder)
        rows = []
        for label, case in cases(files):
            runs = [run_case(case, folder) for _ in range(repeat)]
            result = runs[-1][1]
            process_s = statistics.median(r[0] for r in runs)
            main_s = statistics.median(r[1]["main_s"] for r in runs)
            rows.append((label, result["rc"], process_s, main_s, result["torch"]))
    print(f"`semedit` start-up, fresh interpreter per run, median of {repeat}\n")
    print("| case | exit | process s | main s | torch |")
    print("|---|---:|---:|---:|---|")
    for label, rc, process_s, main_s, torch in rows:
        status, loaded = "-" if rc is None else rc, "yes" if torch else "no"
        print(f"| {label} | {status} | {process_s:.2f} | {main_s:.2f} | {loaded} |")


if __name__ == "__main__":
    main()
