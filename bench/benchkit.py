"""What every benchmark here needs: a throwaway database, and the machine line of bench/RESULTS.md.

The scripts are run as ``python bench/<name>.py``, which puts this folder on ``sys.path``:
``from benchkit import fresh_database, machine``.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from platform import python_version

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

__all__ = ["fresh_database", "git_revision", "machine"]


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
