"""The demo's Google and Microsoft: both emulators on fixed loopback ports, the demo OAuth clients, and demo
users whose calendars hold events dated from today, so that **Connect Google**, **Connect Office 365** and
**Connect Outlook.com** go through a consent page and sync calendars without any network.

::

    cloud = start_cloud(google_port=GOOGLE_PORT, microsoft_port=MICROSOFT_PORT,
                        redirect_uri="http://127.0.0.1:8000/oauth/callback")
    settings = Settings(**cloud_settings(app_url=..., google_url=cloud.google_url,
                                         microsoft_url=cloud.microsoft_url))
    ...
    cloud.stop()

The emulators keep everything in memory: each start seeds them afresh (same users, calendars, event ids), and
``demo/signins.py`` gives the accounts the database already holds new tokens from them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from creneau.demo.icsgen import PARIS, Days
from creneau.emulators import google as google_emulator
from creneau.emulators import msgraph as graph_emulator
from creneau.errors import ConfigurationError

GOOGLE_PORT = 5233
MICROSOFT_PORT = 5234

# The demo's OAuth applications, registered in the emulators (what an operator registers at Google and in
# Microsoft Entra ID). The old Google integration had an application of its own.
CLIENT_ID = "creneau-demo"
CLIENT_SECRET = "creneau-demo-secret"  # known to the local emulators only
LEGACY_CLIENT_ID = "creneau-demo-legacy"
LEGACY_CLIENT_SECRET = "creneau-demo-legacy-secret"

GOOGLE_EMAIL = "demo.researcher@gmail.example"
OFFICE365_EMAIL = "demo.researcher@contoso.example"
OUTLOOK_EMAIL = "demo.researcher@outlook.com"
LEGACY_EMAIL = "legacy.researcher@gmail.example"  # connected through the old Google integration

GOOGLE_INTERVIEWS = "interviews.demo.researcher@group.calendar.google.example"
GOOGLE_ROOMS = "lab-rooms@group.calendar.google.example"  # shared read-only with the demo researcher
GRAPH_ZONE = "Romance Standard Time"  # what Exchange writes for Paris

_PARIS = ZoneInfo(PARIS)
Emulator = TypeVar("Emulator", google_emulator.RunningEmulator, graph_emulator.RunningEmulator)


@dataclass
class DemoCloud:
    google: google_emulator.RunningEmulator
    graph: graph_emulator.RunningEmulator

    @property
    def google_url(self) -> str:
        return self.google.url

    @property
    def microsoft_url(self) -> str:
        return self.graph.url

    def stop(self) -> None:
        self.google.stop()
        self.graph.stop()


def cloud_settings(*, app_url: str, google_url: str, microsoft_url: str) -> dict[str, Any]:
    """The settings that point creneau's OAuth applications and API URLs at the emulators, and push at the
    app itself (the emulators, unlike Google and Microsoft, deliver to plain ``http://127.0.0.1``)."""
    return {
        "google_client_id": CLIENT_ID,
        "google_client_secret": CLIENT_SECRET,
        "google_authorize_url": f"{google_url}/o/oauth2/v2/auth",
        "google_token_url": f"{google_url}/token",
        "google_revoke_url": f"{google_url}/revoke",
        "google_api_url": f"{google_url}/calendar/v3",
        "legacy_google_client_id": LEGACY_CLIENT_ID,
        "legacy_google_client_secret": LEGACY_CLIENT_SECRET,
        "microsoft_client_id": CLIENT_ID,
        "microsoft_client_secret": CLIENT_SECRET,
        "microsoft_login_url": microsoft_url,
        "microsoft_graph_url": f"{microsoft_url}/v1.0",
        "push_base_url": app_url,
    }


def start_cloud(
    *, google_port: int, microsoft_port: int, redirect_uri: str, today: date | None = None
) -> DemoCloud:
    """Start both emulators on 127.0.0.1 (port 0: a free one), register the demo clients (Google's for
    ``redirect_uri`` only, as an operator registers it) and seed the demo users. The caller stops them.

    :raises ConfigurationError: when a port is taken (most often: another demo still running).
    """
    google = _start("Google", google_emulator.start, google_port)
    try:
        graph = _start("Microsoft", graph_emulator.start, microsoft_port)
    except BaseException:
        google.stop()
        raise
    cloud = DemoCloud(google, graph)
    days = Days(today or datetime.now().astimezone().date())
    try:
        for client_id, secret in ((CLIENT_ID, CLIENT_SECRET), (LEGACY_CLIENT_ID, LEGACY_CLIENT_SECRET)):
            google.state.add_client(client_id, secret, redirect_uris=(redirect_uri,))
        with graph.state.lock:  # what POST /_emulator/clients does
            graph.state.clients[CLIENT_ID] = CLIENT_SECRET
        seed_google(google.state, days)
        seed_graph(graph.state, days)
    except BaseException:
        cloud.stop()
        raise
    return cloud


def _start(name: str, start: Callable[..., Emulator], port: int) -> Emulator:
    try:
        return start(port=port)
    except OSError as exc:
        raise ConfigurationError(
            f"port {port} on 127.0.0.1 is already in use (another demo still running?), so the {name} "
            f"emulator cannot start; choose another one ({exc.strerror})"
        ) from None


# -- Google ----------------------------------------------------------------------------------------------


def _stable_id(name: str) -> str:
    """A stable event id, in Google's alphabet (base32hex: a-v, 0-9), the same at every start."""
    return hashlib.sha256(name.encode()).hexdigest()[:26]


def _google_time(value: datetime) -> dict[str, str]:
    return {"dateTime": value.replace(tzinfo=_PARIS).isoformat(), "timeZone": PARIS}


def _google_event(name: str, summary: str, start: datetime, end: datetime, **extra: Any) -> dict[str, Any]:
    times = {"start": _google_time(start), "end": _google_time(end)}
    return {"id": _stable_id(name), "summary": summary, **times, **extra}


def _all_day(name: str, summary: str, first: date, days: int, **extra: Any) -> dict[str, Any]:
    end = first + timedelta(days=days)
    return {"id": _stable_id(name), "summary": summary, "start": {"date": first.isoformat()},
            "end": {"date": end.isoformat()}, **extra}  # fmt: skip


def seed_google(state: google_emulator.GoogleState, d: Days) -> None:
    """demo.researcher@gmail.example (primary calendar, "Interviews", a read-only "Lab rooms") and
    legacy.researcher@gmail.example, whose primary calendar the old integration syncs."""
    state.add_user(GOOGLE_EMAIL, name="Demo Researcher")
    primary = GOOGLE_EMAIL  # a Google account's primary calendar id is its e-mail address
    state.add_calendar(GOOGLE_EMAIL, "Interviews", calendar_id=GOOGLE_INTERVIEWS, background_color="#16a765")
    state.add_calendar(GOOGLE_EMAIL, "Lab rooms", calendar_id=GOOGLE_ROOMS, access_role="reader")
    events = [
        (primary, _google_event(
            "g-team-sync", "Team sync", d.at(-3, 0, 10), d.at(-3, 0, 11),
            recurrence=["RRULE:FREQ=WEEKLY;BYDAY=MO"])),
        (primary, _google_event(
            "g-lunch", "Lunch with the design team", d.at(0, 2, 12, 30), d.at(0, 2, 13, 30))),
        (primary, _google_event(
            "g-reading", "Reading group (free to book over)", d.at(1, 1, 16), d.at(1, 1, 17),
            transparency="transparent")),
        (primary, _all_day("g-conference", "UX conference", d.day(2, 3), 2)),
        (GOOGLE_INTERVIEWS, _google_event(
            "g-pilot", "Pilot interview: P01", d.at(0, 1, 10), d.at(0, 1, 11))),
        (GOOGLE_INTERVIEWS, _google_event(
            "g-p02", "Interview: P02", d.at(1, 3, 14), d.at(1, 3, 15))),
        (GOOGLE_ROOMS, _google_event(
            "g-room", "Usability lab booked", d.at(0, 4, 9), d.at(0, 4, 12))),
    ]  # fmt: skip
    state.add_user(LEGACY_EMAIL, name="Legacy Researcher")
    events += [
        (LEGACY_EMAIL, _google_event(
            "g-legacy-standup", "Research ops stand-up", d.at(-2, 1, 9), d.at(-2, 1, 9, 15),
            recurrence=["RRULE:FREQ=WEEKLY;BYDAY=TU,TH"])),
        (LEGACY_EMAIL, _google_event(
            "g-legacy-debrief", "Field visit debrief", d.at(0, 3, 15), d.at(0, 3, 16, 30))),
    ]  # fmt: skip
    for calendar_id, event in events:
        state.put_event(calendar_id, event)


# -- Microsoft Graph -------------------------------------------------------------------------------------


def _graph_time(value: datetime) -> dict[str, str]:
    return {"dateTime": value.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": GRAPH_ZONE}


def _graph_event(name: str, subject: str, start: datetime, end: datetime, **extra: Any) -> dict[str, Any]:
    return {"id": f"AAMkAGdemo{_stable_id(name)}", "subject": subject, "start": _graph_time(start),
            "end": _graph_time(end), **extra}  # fmt: skip


def _weekly(first: date, *days: str) -> dict[str, Any]:
    return {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": list(days), "firstDayOfWeek": "monday"},
        "range": {"type": "noEnd", "startDate": first.isoformat()},
    }


def seed_graph(state: graph_emulator.GraphState, d: Days) -> None:
    """demo.researcher@contoso.example (Office 365: "Calendar", "Research sessions" with Teams, a read-only
    "Team holidays") and demo.researcher@outlook.com (Outlook.com: "Calendar")."""
    work = OFFICE365_EMAIL
    user = state.add_user(work, kind="work", display_name="Demo Researcher (Contoso)", time_zone=GRAPH_ZONE)
    calendar = state.calendar_of(user, None).id
    sessions = state.add_calendar(work, "Research sessions", color="#8764b8").id
    holidays = state.add_calendar(work, "Team holidays", color="#e3008c", can_edit=False).id
    user = state.add_user(
        OUTLOOK_EMAIL, kind="personal", display_name="Demo Researcher", time_zone=GRAPH_ZONE
    )
    personal = state.calendar_of(user, None).id
    events = [
        (calendar, _graph_event(
            "m-standup", "Team stand-up", d.at(-4, 0, 9, 30), d.at(-4, 0, 9, 45),
            recurrence=_weekly(d.day(-4, 0), "monday", "tuesday", "wednesday", "thursday", "friday"))),
        (calendar, _graph_event(
            "m-steering", "Steering committee", d.at(0, 3, 10), d.at(0, 3, 11, 30))),
        (calendar, _graph_event(
            "m-focus", "Focus time", d.at(1, 2, 8), d.at(1, 2, 10), showAs="free")),
        (calendar, _graph_event(
            "m-offsite", "Tentative: partner visit", d.at(1, 4, 14), d.at(1, 4, 16), showAs="tentative")),
        (sessions, _graph_event(
            "m-p03", "Interview: P03", d.at(0, 2, 15), d.at(0, 2, 16))),
        (holidays, _graph_event(
            "m-holiday", "Camille on holiday", d.at(1, 0, 0), d.at(1, 5, 0), isAllDay=True, showAs="free")),
        (personal, _graph_event(
            "o-dentist", "Dentist", d.at(0, 1, 17, 30), d.at(0, 1, 18, 15))),
        (personal, _graph_event(
            "o-yoga", "Yoga", d.at(-3, 3, 18, 30), d.at(-3, 3, 19, 30),
            recurrence=_weekly(d.day(-3, 3), "thursday"))),
        (personal, _graph_event(
            "o-weekend", "Weekend in Lyon", d.at(2, 4, 0), d.at(2, 7, 0), isAllDay=True)),
    ]  # fmt: skip
    for calendar_id, event in events:
        state.put_event(calendar_id, event)
