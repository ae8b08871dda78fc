"""The demo: a local Radicale seeded with realistic calendars for two accounts, the Google and Microsoft
emulators with demo users (``demo/cloud.py``), and what to tell the user.

``creneau demo`` (cli.py) calls :func:`prepare_demo`, creates the demo researcher and its accounts
(``demo/launch.py``, ``demo/signins.py``), starts the web app and prints :func:`demo_banner`. See docs/demo.md
for what the calendars contain.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from creneau.demo.calendars import READ_ONLY_COLLECTIONS, demo_collections
from creneau.demo.cloud import (
    GOOGLE_EMAIL,
    LEGACY_EMAIL,
    OFFICE365_EMAIL,
    OUTLOOK_EMAIL,
    DemoCloud,
    start_cloud,
)
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
    cloud: DemoCloud | None = None  # the Google and Microsoft emulators, when started

    def stop(self) -> None:
        try:
            if self.cloud is not None:
                self.cloud.stop()
        finally:
            stop_radicale(self.process)


def prepare_demo(
    var_dir: Path,
    *,
    radicale_port: int,
    today: date | None = None,
    google_port: int | None = None,
    microsoft_port: int | None = None,
    redirect_uri: str = "",
) -> DemoInfo:
    """Seed the demo calendars (dated relative to ``today``) under ``var_dir/demo-radicale`` and start
    Radicale on 127.0.0.1:``radicale_port``; with ``google_port`` and ``microsoft_port`` (0: free ones), also
    the Google and Microsoft emulators with the demo OAuth client (Google's accepting ``redirect_uri``) and
    demo users (:func:`creneau.demo.cloud.start_cloud`). The caller stops it all with :meth:`DemoInfo.stop`.

    :raises ConfigurationError: when Radicale or an emulator cannot start (the port is taken, most often).
    """
    folder = var_dir / "demo-radicale"
    today = today or datetime.now().astimezone().date()  # the machine's local day
    seed_radicale(storage_folder(folder), demo_collections(today))
    process = start_radicale(folder, port=radicale_port, users=DEMO_USERS, read_only=READ_ONLY_COLLECTIONS)
    cloud = None
    if google_port is not None and microsoft_port is not None:
        try:
            cloud = start_cloud(
                google_port=google_port, microsoft_port=microsoft_port, redirect_uri=redirect_uri, today=today
            )
        except BaseException:
            stop_radicale(process)
            raise
    return DemoInfo(
        radicale_url=f"http://127.0.0.1:{radicale_port}/",
        users=dict(DEMO_USERS),
        email=DEMO_EMAIL,
        password=DEMO_PASSWORD,
        storage=storage_folder(folder),
        today=today,
        process=process,
        cloud=cloud,
    )


def demo_banner(info: DemoInfo, app_url: str) -> str:
    """The instructions ``creneau demo`` prints, in English with a French summary."""
    accounts = "\n".join(f"      user {user:<6} password {password}" for user, password in info.users.items())
    first_user, first_password = next(iter(info.users.items()))
    api_step = 4 if info.cloud else 3
    return f"""
creneau demo is running.

  1. Open {app_url} and sign in as {info.email} / {info.password}
  2. Settings > Integrations > Connect a calendar > CalDAV, with
      server {info.radicale_url}
{accounts}
     Both accounts can be connected at once; their calendars sync straight away.
     "Connect iCloud" works offline too: in the demo it points at the same Radicale.
{_cloud_steps(info.cloud)}  {api_step}. The JSON API and its documentation are at {app_url}/docs.

  The demo CalDAV server is Radicale at {info.radicale_url} (web interface included); its calendars
  are files under {info.storage} and are re-dated to today each time the demo starts.
{_cloud_servers(info.cloud, app_url)}
FR : ouvrez {app_url}, connectez-vous avec {info.email} / {info.password}, puis Paramètres >
     Intégrations > Connecter un calendrier (serveur {info.radicale_url}, {first_user} / {first_password}).
{_cloud_french(info.cloud)}
Press Ctrl+C to stop. / Ctrl+C pour arrêter.
"""


def _cloud_steps(cloud: DemoCloud | None) -> str:
    if cloud is None:
        return ""
    return f"""  3. Google, Office 365 and Outlook.com work offline too, against local stand-ins of their
     servers: on Settings > Integrations, click a Connect button, then on its consent page pick
       Connect Google       {GOOGLE_EMAIL}
       Connect Office 365   {OFFICE365_EMAIL}
       Connect Outlook.com  {OUTLOOK_EMAIL}
     and Allow: the account's calendars sync straight away (another address typed there makes an empty one).
     {LEGACY_EMAIL} is connected through the OLD Google integration: its notice and
     "Move to the new integration" are on Settings > Integrations (the consent page has its address
     selected); the session "Remote interview" writes to its calendar and keeps it after the move.
"""


def _cloud_servers(cloud: DemoCloud | None, app_url: str) -> str:
    if cloud is None:
        return ""
    return f"""  The Google emulator is at {cloud.google_url}, the Microsoft one at {cloud.microsoft_url}
  (GET /_emulator/state on either shows its users, calendars and push channels). They keep nothing between
  runs: each start seeds them again and gives the accounts already connected new tokens. Push notifications
  reach creneau at {app_url}.
"""


def _cloud_french(cloud: DemoCloud | None) -> str:
    if cloud is None:
        return ""
    return f"""     Connecter Google : choisissez {GOOGLE_EMAIL} ; Office 365 : {OFFICE365_EMAIL} ;
     Outlook.com : {OUTLOOK_EMAIL}. {LEGACY_EMAIL} utilise l'ancienne intégration Google.
"""


__all__ = ["DEMO_EMAIL", "DEMO_PASSWORD", "DemoInfo", "demo_banner", "prepare_demo"]
