"""Every benchmark still runs to its table.

Nothing else runs the benchmarks, and one (bench_engine) crashed unseen for several commits
after refined became the default removal method. `--smoke` is each benchmark's smallest run
through every path it measures: its numbers mean nothing, but a renamed function, a changed
default or a missing model breaks it here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from conftest import REPO, SHARED

BENCHMARKS = sorted((REPO / "benchmarks").glob("bench_*.py"))
TABLE = re.compile(r"^\|.*\|[ \t]*\n\|[ \t]*:?-{3,}", re.MULTILINE)
"""A Markdown table: a row of cells followed by its |---| rule."""


def test_every_benchmark_is_found():
    assert len(BENCHMARKS) >= 12


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda path: path.stem)
def test_benchmark_smoke_run_prints_a_table(script, tmp_path):
    if not SHARED.is_dir():
        pytest.skip("../shared (test images and models) is not present")
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "OMP_NUM_THREADS": "1",  # it shares the cores with the test run: stay at one
    }
    result = subprocess.run(
        [sys.executable, str(script), "--smoke"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,  # a benchmark that writes files writes them here, not into the repo
        env=env,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert TABLE.search(result.stdout), result.stdout[-2000:]
