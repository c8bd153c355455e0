"""The packaged app (`make package`) against the source checkout: size and start-up.

Run: ``.venv/bin/python benchmarks/bench_package.py [--dist dist] [--repeat 5]`` after
``make package`` (``--smoke``: one run of each command; without a dist folder it times a stand-in
script that runs the source, to check the benchmark still works).

- one-folder: the size of PyInstaller's ``DIST/semedit/`` (what the .deb installs in /opt);
  .deb: the size of ``DIST/semedit_*.deb`` (xz-compressed);
- each command in a fresh process, as a user runs it, frozen (``DIST/semedit/semedit``) and from
  source (this Python running ``-m editor`` on the checkout: what ``.venv/bin/semedit`` runs),
  alternating, in the same run of this script, with a fresh HOME and offscreen Qt:
  ``--version`` (the median of ``--repeat``), ``upscale`` ×2 of a 256 px PNG (the app icon;
  median of half of ``--repeat``, rounded up), and the GUI from start to quit
  (``SEMEDIT_QUIT_AFTER_START=1``; the same count).

Prints a Markdown table: sizes in MB, seconds, and frozen / source.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _smoke import add_smoke_option, announce_smoke  # noqa: E402

IMAGE = (
    REPO / "resources" / "icons" / "hicolor" / "256x256" / "apps" / "io.github.semedit.SemEdit.png"
)
MB = 1024 * 1024


def folder_bytes(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return total


def stand_in(folder: Path) -> Path:
    """A dist folder whose `semedit` runs the source (smoke runs without `make package`)."""
    app = folder / "semedit"
    app.mkdir(parents=True)
    script = app / "semedit"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m editor "$@"\n')
    script.chmod(0o755)
    return folder


def timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=REPO / "dist", help="make package's output")
    parser.add_argument("--repeat", type=int, default=5, help="--version runs (median; 5)")
    add_smoke_option(parser)
    args = parser.parse_args(argv)
    repeat = 1 if args.smoke else max(1, args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        dist = args.dist.resolve()
        if not (dist / "semedit" / "semedit").is_file():
            if not args.smoke:
                print(
                    f"{dist / 'semedit' / 'semedit'} is missing: run make package first",
                    file=sys.stderr,
                )
                return 1
            dist = stand_in(tmp / "dist")
        if args.smoke:
            announce_smoke()
        frozen = [str(dist / "semedit" / "semedit")]
        source = [sys.executable, "-m", "editor"]
        home = tmp / "home"
        env = {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_CACHE_HOME": str(home / "cache"),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "QT_QPA_PLATFORM": "offscreen",
            "PYTHONPATH": str(REPO),  # the source run's checkout; the frozen app ignores it
        }
        heavy = max(1, (repeat + 1) // 2)
        cases = [
            (f"`semedit --version` (median of {repeat})", ["--version"], {}, repeat),
            (
                f"`semedit upscale` 256 px ×2 (median of {heavy})",
                ["upscale", str(IMAGE), "--scale", "2", "-o", str(tmp / "out.png")],
                {},
                heavy,
            ),
            (
                f"GUI start → quit, offscreen (median of {heavy})",
                [],
                {"SEMEDIT_QUIT_AFTER_START": "1"},
                heavy,
            ),
        ]
        rows = []
        for label, case, extra, runs in cases:
            times: dict[str, list[float]] = {"frozen": [], "source": []}
            for _ in range(runs):  # alternate, so a busy moment costs both alike
                for name, command in (("frozen", frozen), ("source", source)):
                    times[name].append(timed([*command, *case], {**env, **extra}, tmp))
            rows.append(
                (label, statistics.median(times["frozen"]), statistics.median(times["source"]))
            )
        debs = sorted(dist.glob("semedit_*.deb"))
        deb_mb = f"{debs[-1].stat().st_size / MB:.0f}" if debs else "— (no .deb)"
        folder_mb = folder_bytes(dist / "semedit") / MB
    print(f"Packaged app ({dist}) against the source checkout ({sys.executable} -m editor)\n")
    print("| measure | frozen app | source venv | frozen / source |")
    print("|---|---:|---:|---:|")
    print(f"| one-folder size (MB) | {folder_mb:.0f} | — | — |")
    print(f"| .deb size (MB) | {deb_mb} | — | — |")
    for label, frozen_s, source_s in rows:
        print(f"| {label}, s | {frozen_s:.2f} | {source_s:.2f} | {frozen_s / source_s:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
