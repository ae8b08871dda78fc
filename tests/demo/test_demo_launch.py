"""``creneau demo`` end to end, in a subprocess on free ports: the app, Radicale and both emulators start, the
account of the old Google integration syncs and gets push notifications from the Google emulator, and
Connect Office 365 goes through the Microsoft emulator's consent page to a Graph subscription."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from creneau.demo import DEMO_EMAIL, DEMO_PASSWORD
from creneau.demo.cloud import GOOGLE_EMAIL, LEGACY_EMAIL, OFFICE365_EMAIL, OUTLOOK_EMAIL
from tests.cloud import consent
from tests.servers import free_port, wait_until
from tests.web.conftest import csrf_of

pytestmark = pytest.mark.skipif(
    os.environ.get("CRENEAU_TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="the demo runs on its own SQLite file; the SQLite run of the suite covers it",
)

RUN = """
import sys
from rich.console import Console
from creneau.demo.launch import run_demo
app, radicale, google, microsoft = map(int, sys.argv[1:])
run_demo(port=app, radicale_port=radicale, google_port=google, microsoft_port=microsoft, console=Console())
"""


@dataclass
class Demo:
    app: str
    google: str
    microsoft: str
    output: Path
    process: subprocess.Popen[bytes]

    def text(self) -> str:
        return self.output.read_text(errors="replace")


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    ports = [free_port() for _ in range(4)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRENEAU_")}
    env.update(CRENEAU_VAR_DIR=str(tmp_path / "var"), COLUMNS="200")
    output = tmp_path / "demo.log"
    with output.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", RUN, *map(str, ports)],
            cwd=tmp_path,  # no .env of the repository
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its Radicale goes with it if it has to be killed
        )
    app, google, microsoft = (f"http://127.0.0.1:{p}" for p in (ports[0], ports[2], ports[3]))
    running = Demo(app, google, microsoft, output, process)
    try:
        wait_until(lambda: answers(running), timeout=90, what=f"the demo to answer:\n{running.text()}")
        yield running
    finally:
        process.send_signal(signal.SIGINT)  # what Ctrl+C does
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    assert process.returncode == 0, f"Ctrl+C did not stop the demo cleanly:\n{running.text()}"


def answers(demo: Demo) -> bool:
    if demo.process.poll() is not None:
        raise AssertionError(f"the demo exited with {demo.process.returncode}:\n{demo.text()}")
    try:
        return httpx.get(f"{demo.app}/login", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def state(url: str) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{url}/_emulator/state", timeout=5).json()
    return answer


def test_the_demo_serves_google_and_microsoft_with_an_old_google_connection(demo: Demo) -> None:
    banner = demo.text()
    for expected in (demo.google, demo.microsoft, GOOGLE_EMAIL, OFFICE365_EMAIL, OUTLOOK_EMAIL, LEGACY_EMAIL):
        assert expected in banner

    with httpx.Client(base_url=demo.app, headers={"Accept-Language": "en"}, follow_redirects=True) as client:
        token = csrf_of(client.get("/login").text)
        client.post("/login", data={"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "csrf_token": token})
        page = client.get("/settings/integrations")
        assert "Your Google calendar uses the old integration, which will soon be removed" in page.text
        assert "Move to the new integration" in page.text

        # The old integration's account syncs, then opens a watch channel; the Google emulator delivers
        # its notifications to the app, which accepts them.
        def legacy_pushed(kind: str) -> bool:
            google = state(demo.google)
            channels = {c["id"] for c in google["channels"] if c["calendar"] == LEGACY_EMAIL}
            return any(d[0] in channels and d[1] == kind and d[3] == 200 for d in google["deliveries"])

        wait_until(lambda: legacy_pushed("sync"), timeout=60, what="the legacy calendar's watch channel")
        (channel,) = [c for c in state(demo.google)["channels"] if c["calendar"] == LEGACY_EMAIL]
        assert channel["address"] == f"{demo.app}/webhooks/google"
        event = {
            "summary": "Added in Google",
            "start": {"dateTime": "2030-01-07T10:00:00+01:00"},
            "end": {"dateTime": "2030-01-07T11:00:00+01:00"},
        }
        added = httpx.post(f"{demo.google}/_emulator/calendars/{LEGACY_EMAIL}/events", json=event, timeout=5)
        assert added.status_code == 200, added.text
        wait_until(lambda: legacy_pushed("exists"), timeout=30, what="a change notification to be accepted")

        # Connect Office 365: the consent page offers the demo's work account; Graph then validates the
        # app's notification URL when the first sync subscribes to the account's calendars.
        started = client.get("/settings/integrations/connect/office365", follow_redirects=False)
        assert OFFICE365_EMAIL in httpx.get(started.headers["location"], timeout=5).text
        done = client.get(consent(started.headers["location"], OFFICE365_EMAIL))
        assert f"Office 365 — {OFFICE365_EMAIL}" in done.text

        def subscribed() -> bool:  # one subscription per calendar of the account, all to the app
            urls = [s["notificationUrl"] for s in state(demo.microsoft)["subscriptions"]]
            return urls == [f"{demo.app}/webhooks/microsoft"] * 3

        wait_until(subscribed, timeout=60, what="Graph subscriptions to the app")
        page = client.get("/settings/integrations")
        assert re.search(r"Changes arrive instantly \(push notifications\)", page.text), page.text
