"""What the benchmarks here share: a throwaway database, an object living in a child process (an emulator,
so that its CPU is not counted as creneau's), and the machine line of bench/RESULTS.md.

The scripts are run as ``python bench/<name>.py``, which puts this folder on ``sys.path``:
``from benchkit import fresh_database, machine``.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import sqlite3
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import version
from multiprocessing.connection import Connection
from pathlib import Path
from platform import python_version
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

__all__ = ["ChildProcess", "fresh_database", "git_revision", "machine"]


@contextmanager
def fresh_database(server_url: str, var_dir: Path) -> Iterator[str]:
    """A SQLite file in ``var_dir`` (empty ``server_url``), or a new database on that PostgreSQL server,
    dropped on the way out."""
    if not server_url:
        yield f"sqlite:///{(var_dir / 'creneau.sqlite3').resolve()}"
        return
    admin = make_url(server_url)
    name = f"creneau_bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield admin.set(database=name).render_as_string(hide_password=False)
        finally:
            with engine.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        engine.dispose()


class ChildProcess:
    """An object built by ``factory`` in a spawned process, whose methods are called through a pipe:
    ``call("seed", size=5000)``. ``call("cpu")`` is the child's CPU seconds (user + system); ``stop()`` calls
    the object's own ``stop()`` and ends the process. An exception in the child is a RuntimeError here."""

    def __init__(self, factory: Callable[[], Any], name: str) -> None:
        context = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(factory, child), name=name, daemon=True)
        self._process.start()

    def call(self, operation: str, **arguments: Any) -> Any:
        self._pipe.send((operation, arguments))
        ok, result = self._pipe.recv()
        if not ok:
            raise RuntimeError(f"{self._process.name}: {operation} failed: {result}")
        return result

    def stop(self) -> None:
        try:
            self.call("stop")
        finally:
            self._process.join(timeout=10)


def _serve(factory: Callable[[], Any], pipe: Connection) -> None:
    """The child: answers (operation, arguments) messages until "stop"."""
    target = factory()
    while True:
        operation, arguments = pipe.recv()
        try:
            if operation == "stop":
                target.stop()
                pipe.send((True, None))
                return
            if operation == "cpu":
                times = os.times()
                pipe.send((True, times.user + times.system))
                continue
            pipe.send((True, getattr(target, operation)(**arguments)))
        except Exception as exc:  # reported in the parent, which stops
            pipe.send((False, f"{type(exc).__name__}: {exc}"))


def machine(*, packages: tuple[str, ...], database_url: str | None = None) -> str:
    """CPUs, RAM, Python, the database (when ``database_url`` is given: empty for SQLite), the versions of
    ``packages``, the creneau revision and the 1-minute load average."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    cpu = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    mem = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    ram = f"{int(mem.group(1)) / 1024 / 1024:.1f} GiB RAM" if mem else "RAM unknown"
    parts = [f"Python {python_version()}"]
    if database_url is not None:
        parts.append(_database(database_url))
    parts += [f"{name} {version(name)}" for name in packages]
    return (
        f"{len(os.sched_getaffinity(0))} CPUs (nproc), {cpu.group(1) if cpu else 'CPU unknown'}, {ram}; "
        f"{', '.join(parts)}; creneau {git_revision()}; 1-minute load average {os.getloadavg()[0]:.1f}"
    )


def _database(url: str) -> str:
    if not url:
        return f"SQLite {sqlite3.sqlite_version}"
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            server = conn.exec_driver_sql("SHOW server_version").scalar()
    finally:
        engine.dispose()
    return f"PostgreSQL {server} (psycopg {version('psycopg')})"


def git_revision() -> str:
    """The short commit of this checkout, "+ uncommitted changes" when tracked files differ from it."""

    def git(*args: str) -> str:
        cmd = ["git", "--no-optional-locks", *args]
        done = subprocess.run(cmd, cwd=Path(__file__).parent, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    dirty = " + uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else ""
    return (git("rev-parse", "--short", "HEAD") or "unknown") + dirty
