"""Sync benchmark: creneau's CalDAV sync against vdirsyncer 0.21, on one Radicale, in the same run.

    python bench/sync_bench.py --events 5000

Seeds one Radicale collection with N realistic events (files written straight into Radicale's storage),
warms Radicale's item cache, then measures, each client in its own process:

    creneau     initial sync, no-change resync, resync after 10 changes (4 modified, 3 added, 3 deleted)
    vdirsyncer  discover + initial sync, no-change resync, resync after 10 other changes

For each: wall time of the process, HTTP requests (counted from Radicale's INFO log, one line per request,
so both clients are counted the same way without a proxy in the path), the client's peak RSS (``wait4``
rusage of that process), and Radicale's CPU time during the run. Appends a Markdown table to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import httpx

from benchkit import machine
from creneau.demo.radicale import free_loopback_port, start_radicale, stop_radicale, storage_folder

BENCH = Path(__file__).resolve().parent
USER, PASSWORD, SLUG = "bench", "bench-password", "events"  # USER and SLUG as in bench_data.py
VDIRSYNCER = "vdirsyncer==0.21.0"
_REQUEST = re.compile(r"\[INFO\] (\w+) request for ")
_IN_PROCESS = re.compile(r"sync_account\(\) ([0-9.]+) s")
_RESPONSE = re.compile(r"\[INFO\] \w+ response status for ")


# ---- measuring ----------------------------------------------------------------------------------------


@dataclass
class Measured:
    wall: float
    returncode: int
    peak_rss_mib: float
    output: str

    def last_json(self) -> dict[str, object]:
        for line in reversed(self.output.splitlines()):
            if line.startswith("{"):
                result: dict[str, object] = json.loads(line)
                return result
        raise RuntimeError(f"no JSON result in the output (exit {self.returncode}):\n{self.output[-3000:]}")


def run_measured(cmd: list[str], *, env: dict[str, str] | None = None, stdin: str = "") -> Measured:
    """Run ``cmd`` to completion; its own peak RSS comes from ``wait4`` (Linux reports ru_maxrss in KiB)."""
    out_path = BENCH / "out" / f".output-{os.getpid()}"
    with out_path.open("w+b") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT, env=env)
        assert proc.stdin is not None
        proc.stdin.write(stdin.encode())
        proc.stdin.close()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read().decode(errors="replace")
    out_path.unlink()
    return Measured(wall, proc.returncode, usage.ru_maxrss / 1024, output)


class RadicaleMeter:
    """Counts requests in Radicale's log and its CPU time, between two calls of :meth:`take`."""

    def __init__(self, log: Path, pid: int) -> None:
        self.log, self.pid = log, pid
        self.offset, self.cpu = log.stat().st_size, self._cpu_seconds()

    def _cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def take(self) -> tuple[Counter[str], float]:
        deadline = time.monotonic() + 10
        while True:  # the last response line may still be on its way to the log file
            with self.log.open("rb") as f:
                f.seek(self.offset)
                chunk = f.read().decode(errors="replace")
            requests = Counter(_REQUEST.findall(chunk))
            if len(_RESPONSE.findall(chunk)) >= sum(requests.values()) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        cpu = self._cpu_seconds()
        result = (requests, cpu - self.cpu)
        self.offset, self.cpu = self.offset + len(chunk.encode()), cpu
        return result


@dataclass
class Row:
    client: str
    scenario: str
    measured: Measured
    requests: Counter[str]
    server_cpu: float
    outcome: str
    extra: dict[str, str] = field(default_factory=dict)


# ---- the two clients ----------------------------------------------------------------------------------


def creneau_cmd(*args: str) -> list[str]:
    return [sys.executable, str(BENCH / "creneau_child.py"), *args]


def creneau_outcome(result: dict[str, object]) -> str:
    report = result["report"]
    assert isinstance(report, dict)
    keys = ("fetched", "deleted", "unchanged", "malformed")
    counts = ", ".join(f"{k} {report[k]}" for k in keys if report[k])
    return f"{report['status']}: {counts or 'nothing to do'}"


def vdirsyncer_venv(out: Path) -> Path | None:
    """vdirsyncer in its own venv under bench/out/, so its pins never touch ours. None when it cannot
    be installed (no network)."""
    venv = out / "vdirsyncer-venv"
    exe = venv / "bin" / "vdirsyncer"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", VDIRSYNCER], check=False)
        if pip.returncode != 0:
            return None
    return exe


def vdirsyncer_config(folder: Path, url: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config"
    config.write_text(
        f"""[general]
status_path = "{folder / "status"}/"

[pair bench]
a = "bench_remote"
b = "bench_local"
collections = ["from a"]
conflict_resolution = "a wins"

[storage bench_remote]
type = "caldav"
url = "{url}"
username = "{USER}"
password = "{PASSWORD}"

[storage bench_local]
type = "filesystem"
path = "{folder / "calendars"}/"
fileext = ".ics"
"""
    )
    return config


def vdirsyncer_run(exe: Path, config: Path, *args: str) -> Measured:
    env = {**os.environ, "VDIRSYNCER_CONFIG": str(config)}
    # discover asks before creating the local collection; answer yes.
    return run_measured([str(exe), *args], env=env, stdin="y\n" * 10)


def vdirsyncer_outcome(measured: Measured, folder: Path) -> str:
    files = sum(1 for _ in (folder / "calendars").rglob("*.ics"))
    status = "ok" if measured.returncode == 0 else f"exit {measured.returncode}"
    return f"{status}: {files} objects on disk"


# ---- scenarios ----------------------------------------------------------------------------------------

SCENARIOS = ("initial sync", "no-change resync", "resync after 10 changes")


def creneau_rows(work: Path, url: str, meter: RadicaleMeter, change: Callable[[], str]) -> list[Row]:
    var_dir = str(work)
    env = {**os.environ, "BENCH_PASSWORD": PASSWORD}
    command = creneau_cmd("setup", "--var-dir", var_dir, "--url", url, "--username", USER)
    setup = run_measured(command, env=env)
    account_id = str(setup.last_json()["account_id"])
    rows = [Row("creneau", "connect account (discovery)", setup, *meter.take(), "ok")]
    for scenario in SCENARIOS:
        if scenario.endswith("changes"):
            scenario = f"{scenario} ({change()})"
        measured = run_measured(creneau_cmd("sync", "--var-dir", var_dir, "--account-id", account_id))
        result = measured.last_json()
        sync_seconds = result["sync_seconds"]
        assert isinstance(sync_seconds, float)
        extra = {"in-process": f"sync_account() {sync_seconds:.2f} s"}
        rows.append(Row("creneau", scenario, measured, *meter.take(), creneau_outcome(result), extra))
    return rows


def vdirsyncer_rows(
    work: Path, url: str, meter: RadicaleMeter, change: Callable[[], str], exe: Path
) -> list[Row]:
    folder = work
    config = vdirsyncer_config(folder, url)
    discover = vdirsyncer_run(exe, config, "discover")
    rows = [Row("vdirsyncer", "discover", discover, *meter.take(), vdirsyncer_outcome(discover, folder))]
    for scenario in SCENARIOS:
        if scenario.endswith("changes"):
            scenario = f"{scenario} ({change()})"
        measured = vdirsyncer_run(exe, config, "sync")
        outcome = vdirsyncer_outcome(measured, folder)
        rows.append(Row("vdirsyncer", scenario, measured, *meter.take(), outcome))
        if measured.returncode != 0:
            print(measured.output[-3000:], file=sys.stderr)
    return rows


def data_cmd(command: str, storage: Path, count: int, today: date, *args: str) -> str:
    cmd = [sys.executable, str(BENCH / "bench_data.py"), command, "--storage", str(storage)]
    cmd += ["--events", str(count), "--today", today.isoformat(), *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def changes(storage: Path, count: int, today: date) -> Callable[[], str]:
    """A function applying the next batch of ten changes (bench_data.py mutate) each time it is called."""
    batches = iter(range(1000))
    return lambda: data_cmd("mutate", storage, count, today, "--batch", str(next(batches)))


def warm_up(url: str) -> int:
    """Make Radicale read every file once (item cache) and build its sync history, so that neither client
    pays for the server's first look at 5,000 new files. Returns how many objects Radicale lists."""
    collection = f"{url}{USER}/{SLUG}/"
    auth = (USER, PASSWORD)
    listing = httpx.request("PROPFIND", collection, auth=auth, headers={"Depth": "1"}, timeout=600)
    report = (
        '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1'
        "</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"
    )
    httpx.request("REPORT", collection, auth=auth, content=report, headers={"Depth": "1"}, timeout=600)
    return listing.text.count(".ics</")


# ---- report -------------------------------------------------------------------------------------------


def render(rows: list[Row]) -> str:
    lines = [
        "| Client | Scenario | Wall time | HTTP requests | By method | Client peak RSS | Radicale CPU "
        "| Outcome |",
        "|---|---|---:|---:|---|---:|---:|---|",
    ]
    for row in rows:
        methods = ", ".join(f"{m} {n}" for m, n in sorted(row.requests.items()))
        wall = f"{row.measured.wall:.1f} s" + "".join(f" ({v})" for v in row.extra.values())
        lines.append(
            f"| {row.client} | {row.scenario} | {wall} | {sum(row.requests.values())} | {methods or '-'} "
            f"| {row.measured.peak_rss_mib:.0f} MiB | {row.server_cpu:.1f} s | {row.outcome} |"
        )
    return "\n".join(lines)


def _spread(values: list[float]) -> str:
    values = sorted(values)
    return f"{statistics.median(values):.2f} s ({values[0]:.2f}–{values[-1]:.2f})" if values else "-"


def _in_process(row: Row) -> list[float]:
    return [float(v) for v in _IN_PROCESS.findall(row.extra.get("in-process", ""))]


def summarize(rounds: list[list[Row]]) -> str:
    """Median (and range) of each client's scenarios over the rounds, and the ratios the targets speak of."""
    lines = [
        f"Median of {len(rounds)} rounds (min–max):",
        "",
        "| Client | Scenario | Wall time | In-process sync | HTTP requests |",
        "|---|---|---:|---:|---:|",
    ]
    wall: dict[tuple[str, str], float] = {}
    inside: dict[tuple[str, str], float] = {}
    for i, first in enumerate(rounds[0]):
        same = [r[i] for r in rounds if len(r) > i]
        key = (first.client, first.scenario.split(" (")[0])
        walls = [r.measured.wall for r in same]
        syncs = [v for r in same for v in _in_process(r)]
        wall[key] = statistics.median(walls)
        inside[key] = statistics.median(syncs) if syncs else 0.0
        requests = sum(first.requests.values())
        lines.append(f"| {key[0]} | {key[1]} | {_spread(walls)} | {_spread(syncs)} | {requests} |")
    theirs_initial = wall.get(("vdirsyncer", "initial sync"))
    theirs_resync = wall.get(("vdirsyncer", "no-change resync"))
    if theirs_initial and theirs_resync:
        changed = ("creneau", "resync after 10 changes")
        initial = wall[("creneau", "initial sync")] / theirs_initial
        lines += [
            "",
            f"- initial sync, creneau / vdirsyncer (wall): {initial:.2f}",
            f"- creneau after 10 changes / vdirsyncer no-change resync: {wall[changed] / theirs_resync:.2f} "
            f"(wall, interpreter start included), {inside[changed] / theirs_resync:.2f} (in-process, as the "
            "creneau server runs it)",
        ]
    return "\n".join(lines)


def append_results(table: str, *, events: int, listed: int, seconds: float, notes: list[str]) -> Path:
    path = BENCH / "RESULTS.md"
    if not path.exists():
        path.write_text(
            "# Sync benchmark results\n\nAppended by `python bench/sync_bench.py`, see README.md.\n"
        )
    now = datetime.now(UTC)
    head = f"\n## {now:%Y-%m-%d %H:%M} UTC: {events} events ({listed} listed by Radicale)\n\n"
    host = machine(packages=("radicale", "icalendar"))
    body = f"Machine: {host}. Whole run: {seconds:.0f} s.\n\n{table}\n"
    with path.open("a") as f:
        f.write(head + body + "".join(f"\n- {note}" for note in notes) + ("\n" if notes else ""))
    return path


# ---- main ---------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=5000, help="objects to seed (200 or more)")
    parser.add_argument("--skip-vdirsyncer", action="store_true", help="measure creneau only")
    parser.add_argument("--keep", action="store_true", help="keep bench/out/run-*/")
    parser.add_argument("--no-record", action="store_true", help="print the table, do not append RESULTS.md")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both clients, alternated (median)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    out = BENCH / "out"
    out.mkdir(exist_ok=True)
    work = out / f"run-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    today = datetime.now().astimezone().date()
    storage = storage_folder(work / "radicale")
    data_cmd("seed", storage, args.events, today)
    notes = [f"seeding {args.events} files: {time.perf_counter() - started:.0f} s"]
    exe = None if args.skip_vdirsyncer else vdirsyncer_venv(out)
    if exe is None:
        notes.append(f"vdirsyncer not measured ({'skipped' if args.skip_vdirsyncer else 'install failed'})")
    port = free_loopback_port()
    radicale = start_radicale(work / "radicale", port=port, users={USER: PASSWORD})
    try:
        url = f"http://127.0.0.1:{port}/"
        warm_up_started = time.perf_counter()
        listed = warm_up(url)
        warm_up_seconds = time.perf_counter() - warm_up_started
        notes.append(f"Radicale's first read of them (warm-up, not measured): {warm_up_seconds:.0f} s")
        meter = RadicaleMeter(work / "radicale" / "radicale.log", radicale.pid)
        change = changes(storage, args.events, today)
        rounds: list[list[Row]] = []
        for n in range(args.rounds):  # alternated, so that a burst of load on the machine hits both
            rows = creneau_rows(work / f"creneau-{n}", url, meter, change)
            if exe is not None:
                rows += vdirsyncer_rows(work / f"vdirsyncer-{n}", url, meter, change, exe)
            rounds.append(rows)
    finally:
        stop_radicale(radicale)
    table = summarize(rounds) + "\n\nLast round in full:\n\n" + render(rounds[-1])
    print(table)
    if not args.no_record:
        path = append_results(
            table, events=args.events, listed=listed, seconds=time.perf_counter() - started, notes=notes
        )
        print(f"\nappended to {path}")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
