"""`--smoke`, which every benchmark takes: its smallest run through every path it measures.

tests/test_benchmarks.py runs each benchmark with it, so a benchmark that breaks (a renamed
function, a changed default, a missing model) fails the suite instead of rotting unseen, as
bench_engine once did. A smoke run's numbers mean nothing. Benchmarks that set torch threads use
one in a smoke run: it shares the machine with the test suite, and two threads on a busy core
run several times slower.
"""

from __future__ import annotations

import argparse


def add_smoke_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="smallest run through every path: checks the benchmark still works; "
        "its numbers mean nothing",
    )


def announce_smoke() -> None:
    print("Smoke run: the smallest run through every path; its numbers mean nothing.\n")
