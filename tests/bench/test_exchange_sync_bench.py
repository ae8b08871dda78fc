"""bench/exchange_sync_bench.py end to end at two small sizes: every sync ends "ok", the 10-change resync is
"verified" against the emulator, the resyncs' requests do not grow with the calendar, and --no-record leaves
bench/RESULTS.md alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("exchangelib")

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_exchange_bench_small_sizes() -> None:
    results = (BENCH / "RESULTS.md").read_bytes()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(BENCH.parent / "src"), str(BENCH)])}
    done = subprocess.run(
        [sys.executable, str(BENCH / "exchange_sync_bench.py"), "--sizes", "300,0.6k", "--no-record"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.count("deleted 3; verified |") == 2  # the table's 10-change rows
    assert "- Exchange, no-change resync: the same at every size" in out
    assert "- Exchange, resync after 10 changes: the same at every size" in out
    assert "| Exchange | 600 | initial sync |" in out
    assert "ok: fetched 600 |" in out
    assert (BENCH / "RESULTS.md").read_bytes() == results
