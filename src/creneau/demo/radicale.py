"""A local Radicale for the demo (and for anything else that needs a real CalDAV server on loopback).

Collections are written straight into Radicale's ``multifilesystem`` storage, which is much faster than
uploading thousands of objects over HTTP and gives every object a stable file name. The layout, checked
against Radicale 3.9 (``radicale/storage/multifilesystem/meta.py`` and ``app/propfind.py``)::

    <storage>/collection-root/<user>/<slug>/.Radicale.props  JSON: {"tag": "VCALENDAR",
        "D:displayname": ..., "ICAL:calendar-color": ..., "C:supported-calendar-component-set": "VEVENT"}
    <storage>/collection-root/<user>/<slug>/<name>.ics       one VCALENDAR per object

Radicale notices files edited behind its back: its item cache is keyed by a hash of the file content and
sync tokens are computed from the files present, so a sync-collection REPORT reports such edits.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

import httpx

from creneau.errors import ConfigurationError

ALICE_PASSWORD = "alice-demo-password"
BOB_PASSWORD = "bob-demo-password"
DEMO_USERS: Mapping[str, str] = {"alice": ALICE_PASSWORD, "bob": BOB_PASSWORD}

START_TIMEOUT_SECONDS = 30.0


class CollectionSpec(Protocol):
    """What :func:`seed_radicale` needs of a calendar (``calendars.DemoCalendar`` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def color(self) -> str: ...
    @property
    def components(self) -> tuple[str, ...]: ...
    @property
    def objects(self) -> tuple[tuple[str, str], ...]: ...


def storage_folder(folder: Path) -> Path:
    """Where :func:`start_radicale` tells Radicale to keep its collections."""
    return folder / "collections"


def collection_path(storage: Path, user: str, slug: str) -> Path:
    return storage / "collection-root" / user / slug


def collection_props(*, name: str, color: str, components: Iterable[str]) -> dict[str, str]:
    return {
        "tag": "VCALENDAR",
        "D:displayname": name,
        "ICAL:calendar-color": color,
        "C:supported-calendar-component-set": ",".join(components),
    }


def write_collection(folder: Path, *, props: Mapping[str, str], objects: Iterable[tuple[str, str]]) -> None:
    """Create or update one collection. Objects are (file name, iCalendar text); a file whose content is
    unchanged is not rewritten, so its etag stays the same. Files not named in ``objects`` are left alone
    (events a user created through CalDAV, or bookings creneau wrote, survive a re-seed)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".Radicale.props").write_text(json.dumps(dict(props), sort_keys=True), encoding="utf-8")
    for filename, text in objects:
        path = folder / filename
        data = text.encode("utf-8")
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)


def seed_radicale(storage: Path, collections: Mapping[str, Mapping[str, CollectionSpec]]) -> None:
    """Write ``collections`` (user -> slug -> calendar) into Radicale's storage folder ``storage``."""
    for user, calendars in collections.items():
        collection_path(storage, user, "").mkdir(parents=True, exist_ok=True)
        for slug, calendar in calendars.items():
            props = collection_props(name=calendar.name, color=calendar.color, components=calendar.components)
            write_collection(collection_path(storage, user, slug), props=props, objects=calendar.objects)


def write_config(folder: Path, *, port: int, users: Mapping[str, str], read_only: Iterable[str] = ()) -> Path:
    """Write ``radicale.conf``, a plain-text htpasswd file and a rights file into ``folder``.

    ``read_only`` lists collection paths ("bob/holidays") their owner may read but not change, so that
    clients see a read-only calendar the way they would on a shared or subscribed one.
    """
    folder.mkdir(parents=True, exist_ok=True)
    users_file = folder / "users"
    users_file.write_text("".join(f"{user}:{password}\n" for user, password in users.items()))
    users_file.chmod(0o600)
    rights_file = folder / "rights"
    rights_file.write_text(_rights(read_only))
    config = folder / "radicale.conf"
    config.write_text(
        f"""[server]
hosts = 127.0.0.1:{port}

[auth]
type = htpasswd
htpasswd_filename = {users_file}
htpasswd_encryption = plain

[rights]
type = from_file
file = {rights_file}

[storage]
filesystem_folder = {storage_folder(folder)}

[logging]
level = info
mask_passwords = True
"""
    )
    return config


def _rights(read_only: Iterable[str]) -> str:
    sections = [
        "[root]\nuser: .+\ncollection:\npermissions: R\n",
        "[principal]\nuser: .+\ncollection: {user}\npermissions: RW\n",
    ]
    for number, path in enumerate(read_only):
        user, _, rest = path.strip("/").partition("/")
        sections.append(f"[read-only-{number}]\nuser: {user}\ncollection: {user}/{rest}\npermissions: r\n")
    sections.append("[calendars]\nuser: .+\ncollection: {user}/[^/]+\npermissions: rw\n")
    return "\n".join(sections)


def start_radicale(
    folder: Path, *, port: int, users: Mapping[str, str], read_only: Iterable[str] = ()
) -> subprocess.Popen[bytes]:
    """Start Radicale on 127.0.0.1:``port`` serving ``storage_folder(folder)``; return once it answers.

    Its log goes to ``folder/radicale.log``, rewritten at each start (one line per request at INFO level).

    :raises ConfigurationError: when the port is taken, or Radicale exits or does not answer in time.
    """
    if not _port_free(port):
        raise ConfigurationError(
            f"port {port} on 127.0.0.1 is already in use (another Radicale or demo still running?); "
            "choose another one"
        )
    config = write_config(folder, port=port, users=users, read_only=read_only)
    storage_folder(folder).mkdir(parents=True, exist_ok=True)
    log_path = folder / "radicale.log"
    with log_path.open("wb") as log:  # a fresh log per start: one line per request, counted by the bench
        process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_answering(process, f"http://127.0.0.1:{port}/", log_path)
    except BaseException:
        stop_radicale(process)
        raise
    return process


def _wait_until_answering(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ConfigurationError(
                f"Radicale exited with status {process.returncode} before answering on {url} "
                f"(is the port already in use?). Last lines of {log_path}:\n{_tail(log_path)}"
            )
        try:
            httpx.request("OPTIONS", url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise ConfigurationError(f"Radicale did not answer on {url} within {START_TIMEOUT_SECONDS:.0f} s")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_radicale(process: subprocess.Popen[bytes], *, timeout: float = 10.0) -> None:
    """Stop a Radicale started by :func:`start_radicale` (terminate, then kill if it lingers)."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Radicale's server does
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 right now (another process may still take it before we bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
