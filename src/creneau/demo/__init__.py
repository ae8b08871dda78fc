"""The demo: a local Radicale seeded with realistic calendars for two accounts, and what to tell the user.

``creneau demo`` (cli.py) calls :func:`prepare_demo`, creates the demo researcher, starts the web app and
prints :func:`demo_banner`. See docs/demo.md for what the calendars contain.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from creneau.demo.calendars import READ_ONLY_COLLECTIONS, demo_collections
from creneau.demo.radicale import DEMO_USERS, seed_radicale, start_radicale, stop_radicale, storage_folder

DEMO_EMAIL = "demo@creneau.test"
DEMO_PASSWORD = "demo-password"


@dataclass
class DemoInfo:
    radicale_url: str  # the CalDAV server URL to type in "Connect a calendar"
    users: dict[str, str]  # CalDAV user name -> password
    email: str  # the creneau researcher to sign in as
    password: str
    storage: Path  # Radicale's collections, editable by hand
    today: date  # the day the calendars were dated from
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        stop_radicale(self.process)


def prepare_demo(var_dir: Path, *, radicale_port: int, today: date | None = None) -> DemoInfo:
    """Seed the demo calendars (dated relative to ``today``) under ``var_dir/demo-radicale`` and start
    Radicale on 127.0.0.1:``radicale_port``. The caller stops it with :meth:`DemoInfo.stop`.

    :raises ConfigurationError: when Radicale cannot start (the port is taken, most often).
    """
    folder = var_dir / "demo-radicale"
    today = today or datetime.now().astimezone().date()  # the machine's local day
    seed_radicale(storage_folder(folder), demo_collections(today))
    process = start_radicale(folder, port=radicale_port, users=DEMO_USERS, read_only=READ_ONLY_COLLECTIONS)
    return DemoInfo(
        radicale_url=f"http://127.0.0.1:{radicale_port}/",
        users=dict(DEMO_USERS),
        email=DEMO_EMAIL,
        password=DEMO_PASSWORD,
        storage=storage_folder(folder),
        today=today,
        process=process,
    )


def demo_banner(info: DemoInfo, app_url: str) -> str:
    """The instructions ``creneau demo`` prints, in English with a French summary."""
    accounts = "\n".join(f"      user {user:<6} password {password}" for user, password in info.users.items())
    first_user, first_password = next(iter(info.users.items()))
    return f"""
creneau demo is running.

  1. Open {app_url} and sign in as {info.email} / {info.password}
  2. Settings > Integrations > Connect a calendar > CalDAV, with
      server {info.radicale_url}
{accounts}
     Both accounts can be connected at once; their calendars sync straight away.
     "Connect iCloud" works offline too: in the demo it points at the same Radicale.
  3. The JSON API and its documentation are at {app_url}/docs.

  The demo CalDAV server is Radicale at {info.radicale_url} (web interface included); its calendars
  are files under {info.storage} and are re-dated to today each time the demo starts.

FR : ouvrez {app_url}, connectez-vous avec {info.email} / {info.password}, puis Paramètres >
     Intégrations > Connecter un calendrier (serveur {info.radicale_url}, {first_user} / {first_password}).

Press Ctrl+C to stop. / Ctrl+C pour arrêter.
"""


__all__ = ["DEMO_EMAIL", "DEMO_PASSWORD", "DemoInfo", "demo_banner", "prepare_demo"]
