"""The provider contract against the EWS emulator, plus what is Exchange's own: busy statuses, availability,
throttling and 5xx storms, an invalid sync state, the request count of a quiet resync, the guard."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import icalendar
import pytest

pytest.importorskip("exchangelib")

from creneau.calendars import ical
from creneau.calendars.providers import load
from creneau.calendars.providers.base import Connection, EventDraft
from creneau.calendars.providers.ews import ExchangeProvider
from creneau.calendars.providers.netguard import NetworkPolicy
from creneau.domain.intervals import Interval
from creneau.emulators.ews import RunningEmulator, start
from creneau.emulators.ews import mime as emulator_mime
from creneau.errors import (
    AddressForbidden,
    AuthFailed,
    MailboxNotFound,
    RateLimited,
    SyncCursorInvalid,
    TransientProviderError,
)
from tests.providers.conftest import test_policy as guarded_policy
from tests.providers.contract import DAY, ProviderContract, etags, ics

PASSWORD = "Secret1!"
_numbers = itertools.count()
HTTP = httpx.Client(timeout=10)


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    running = start()
    yield running
    from exchangelib import close_connections  # type: ignore[import-untyped]

    close_connections()
    running.stop()


def _iso(value: datetime | date) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value.isoformat()


def to_event(component: icalendar.cal.Component) -> dict[str, Any]:
    """A VEVENT as the control API's event (what another Exchange client would have created)."""
    start = component.decoded("DTSTART")
    end = component.decoded("DTEND") if "DTEND" in component else start
    event: dict[str, Any] = {
        "subject": str(component.get("SUMMARY", "")),
        "start": _iso(start),
        "end": _iso(end),
        "uid": str(component["UID"]),
    }
    if not isinstance(start, datetime):
        event["is_all_day"] = True
    if "RRULE" in component:
        rule: Any = component["RRULE"]
        recurrence: dict[str, Any] = {
            "pattern": {"DAILY": "daily", "WEEKLY": "weekly"}[rule["FREQ"][0]],
            "interval": int(rule.get("INTERVAL", [1])[0]),
        }
        if "COUNT" in rule:
            recurrence["count"] = int(rule["COUNT"][0])
        event["recurrence"] = recurrence
    return event


class EwsHarness:
    """See tests/providers/contract.py: Harness. Data goes in through the emulator's control API."""

    principal_url: str | None
    home_url: str | None
    supports_read_only = True

    def __init__(self, emulator: RunningEmulator) -> None:
        self.emulator = emulator
        number = next(_numbers)
        self.email = f"ews{number:03d}@contoso.example"
        self.logon = f"CONTOSO\\ews{number:03d}"
        self.mailbox = emulator.state.add_mailbox(self.email, PASSWORD, username=f"ews{number:03d}")
        self.owner_emails = (self.email,)
        self.principal_url = f"mailto:{self.email}"
        self.home_url = emulator.ews_url
        self.by_uid: dict[tuple[str, str], str] = {}

    def connection(self, password: str | None = None) -> Connection:
        return Connection(
            server_url=self.emulator.ews_url,
            username=self.logon,
            secret=password or PASSWORD,
            principal_url=f"mailto:{self.email}",
        )

    def provider(
        self,
        *,
        password: str | None = None,
        on_request: Callable[[httpx.Request], None] | None = None,
        **options: Any,
    ) -> ExchangeProvider:
        return ExchangeProvider(self.connection(password), policy=guarded_policy(on_request), **options)

    def control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = HTTP.post(f"{self.emulator.url}/_emulator/{path}", json=body)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def add_calendar(
        self,
        name: str,
        *,
        display_name: str | None = None,
        color: str | None = None,
        components: Sequence[str] = ("VEVENT",),
        read_only: bool = False,
    ) -> str:
        if "VEVENT" not in components:
            return f"tasks:{name}"  # tasks live in Exchange's Tasks folder, never in a calendar folder
        made = self.control(
            "folders", {"email": self.email, "name": display_name or name, "read_only": read_only}
        )
        return str(made["id"])

    def put(self, calendar_id: str, uid: str, text: str) -> str:
        if calendar_id.startswith("tasks:") or "BEGIN:VEVENT" not in text:
            return f"task:{uid}"
        components = icalendar.Calendar.from_ical(text).walk("VEVENT")
        [master] = [c for c in components if "RECURRENCE-ID" not in c]
        event = to_event(master)
        existing = self.by_uid.get((calendar_id, uid))
        if existing is not None and existing in self.emulator.state.items:
            self.control(f"events/{existing}", {"event": event})
            item_id = existing
        else:
            item_id = str(self.control("events", {"folder_id": calendar_id, "event": event})["id"])
            self.by_uid[(calendar_id, uid)] = item_id
        for override in (c for c in components if "RECURRENCE-ID" in c):
            fields = to_event(override)
            fields.pop("uid")
            self.control(
                f"events/{item_id}/occurrences",
                {"original_start": _iso(override.decoded("RECURRENCE-ID")), "event": fields},
            )
        return item_id

    def put_raw(self, calendar_id: str, name: str, text: str) -> str | None:
        return None  # Exchange stores typed properties, never iCalendar text: see the skipped test

    def remove(self, calendar_id: str, remote_id: str) -> None:
        assert HTTP.delete(f"{self.emulator.url}/_emulator/events/{remote_id}").status_code == 204

    def stored(self, calendar_id: str, remote_id: str) -> str | None:
        """The item as Exchange would write it (the emulator's MimeContent), with its body."""
        state = self.emulator.state
        with state.lock:
            item = state.items.get(remote_id)
            if item is None or item.folder_id != calendar_id:
                return None
            times = {o: state.exception_times(item, x) for o, x in item.exceptions.items()}
            text = emulator_mime.ical(item, times).decode()
            body = item.text("Body")
        calendar = icalendar.Calendar.from_ical(text)
        if body:
            for event in calendar.walk("VEVENT"):
                event.add("description", body)
        return bytes(calendar.to_ical()).decode()

    def stale_cursor(self, cursor: str) -> str | None:
        import json

        data = json.loads(cursor)
        data["state"] = "AAAA" + data["state"][4:][::-1]
        return json.dumps(data)


@pytest.fixture
def exchange(emulator: RunningEmulator) -> Iterator[EwsHarness]:
    harness = EwsHarness(emulator)
    yield harness
    emulator.state.faults.clear()


class TestExchangeContract(ProviderContract):
    @pytest.fixture
    def harness(self, exchange: EwsHarness) -> EwsHarness:
        return exchange

    def test_list_calendars_keeps_event_calendars_with_their_looks(self, harness: Any, provider: Any) -> None:
        """The contract's version checks a colour too; an EWS folder has none (Outlook keeps calendar
        colours in its own navigation items, not on the folder), so this one checks the rest."""
        work = harness.add_calendar("work", display_name="Work", color="#FF8800CC")
        tasks = harness.add_calendar("tasks", display_name="Tasks", components=["VTODO"])
        holidays = harness.add_calendar("ro-holidays", display_name="Holidays", read_only=True)
        found = {c.remote_id: c for c in provider.list_calendars()}
        assert tasks not in found
        assert found[work].name == "Work" and not found[work].read_only
        assert found[work].color is None
        assert found[holidays].read_only and found[holidays].name == "Holidays"
        assert found[harness.mailbox.calendar_id].name == "Calendar"

    def test_malformed_object_is_reported_while_the_rest_syncs(self, harness: Any, provider: Any) -> None:
        pytest.skip(
            "Exchange stores typed properties (xs:dateTime starts), not iCalendar text: no client can leave "
            "an unreadable event there; an item whose MimeContent holds no event is covered below"
        )


def test_registered() -> None:
    assert load("exchange") is ExchangeProvider


# -- what is Exchange's own --------------------------------------------------------------------------------

WINDOW = Interval(DAY - timedelta(days=1), DAY + timedelta(days=10))


def _event(start: datetime, hours: float = 1, **fields: Any) -> dict[str, Any]:
    return {"subject": "x", "start": _iso(start), "end": _iso(start + timedelta(hours=hours)), **fields}


def _busy_subjects(texts: list[str], owner: str) -> set[str]:
    found: set[str] = set()
    for text in texts:
        obj = ical.parse(text)
        if ical.busy_occurrences(obj, window=WINDOW, default_tz=UTC, owner_addresses=[owner]):
            found.update(str(v.get("SUMMARY")) for v in icalendar.Calendar.from_ical(text).walk("VEVENT"))
    return found


STATUSES: dict[str, dict[str, Any]] = {
    "free": {"free_busy": "Free"},
    "tentative": {"free_busy": "Tentative"},
    "busy": {"free_busy": "Busy"},
    "oof": {"free_busy": "OOF"},
    "elsewhere": {"free_busy": "WorkingElsewhere"},
    "cancelled": {"free_busy": "Busy", "is_cancelled": True},
    "declined": {"free_busy": "Busy", "my_response": "Decline"},
}
BUSY_ONES = {"tentative", "busy", "oof", "elsewhere"}


def test_busy_rules_of_synced_items(exchange: EwsHarness) -> None:
    calendar = exchange.add_calendar("statuses")
    for number, (name, fields) in enumerate(STATUSES.items()):
        exchange.control(
            "events",
            {"folder_id": calendar, "event": _event(DAY + timedelta(hours=number), subject=name, **fields)},
        )
    provider = exchange.provider()
    try:
        changes = provider.pull_changes(calendar, cursor=None, known_etags={})
    finally:
        provider.close()
    assert len(changes.upserted) == len(STATUSES)
    assert _busy_subjects([e.ical for e in changes.upserted], exchange.email) == BUSY_ONES


def test_live_busy_times_of_a_sub_folder_follow_the_same_rules(exchange: EwsHarness) -> None:
    calendar = exchange.add_calendar("live")
    for number, (name, fields) in enumerate(STATUSES.items()):
        exchange.control(
            "events",
            {"folder_id": calendar, "event": _event(DAY + timedelta(hours=number), subject=name, **fields)},
        )
    provider = exchange.provider()
    try:
        events = provider.busy_times([calendar], WINDOW)
    finally:
        provider.close()
    assert _busy_subjects([e.ical for e in events], exchange.email) == BUSY_ONES


def test_the_default_calendar_is_checked_with_get_user_availability(
    exchange: EwsHarness, emulator: RunningEmulator
) -> None:
    main = exchange.mailbox.calendar_id
    for number, (name, fields) in enumerate(STATUSES.items()):
        exchange.control(
            "events",
            {"folder_id": main, "event": _event(DAY + timedelta(hours=number), subject=name, **fields)},
        )
    provider = exchange.provider()
    try:
        provider.discover()
        emulator.state.requests.clear()
        events = provider.busy_times([main], WINDOW)
    finally:
        provider.close()
    assert "GetUserAvailabilityRequest" in emulator.state.requests
    assert "FindItem" not in emulator.state.requests
    spans = sorted(
        (o.start, o.end)
        for e in events
        for o in ical.busy_occurrences(ical.parse(e.ical), window=WINDOW, default_tz=UTC)
    )
    hours = [number for number, name in enumerate(STATUSES) if name in BUSY_ONES]
    assert spans == [(DAY + timedelta(hours=h), DAY + timedelta(hours=h + 1)) for h in hours]


def test_a_series_with_a_moved_and_a_deleted_occurrence(exchange: EwsHarness) -> None:
    calendar = exchange.add_calendar("series")
    made = exchange.control(
        "events",
        {
            "folder_id": calendar,
            "event": _event(
                DAY + timedelta(hours=9),
                subject="Standup",
                time_zone="W. Europe Standard Time",
                recurrence={"pattern": "daily", "interval": 1, "count": 5},
            ),
        },
    )
    exchange.control(
        f"events/{made['id']}/occurrences",
        {"original_start": _iso(DAY + timedelta(days=1, hours=9)), "delete": True},
    )
    exchange.control(
        f"events/{made['id']}/occurrences",
        {
            "original_start": _iso(DAY + timedelta(days=2, hours=9)),
            "event": _event(DAY + timedelta(days=2, hours=15), subject="Moved standup"),
        },
    )
    provider = exchange.provider()
    try:
        [event] = provider.pull_changes(calendar, cursor=None, known_etags={}).upserted
    finally:
        provider.close()
    starts = sorted(
        o.start for o in ical.busy_occurrences(ical.parse(event.ical), window=WINDOW, default_tz=UTC)
    )
    hour = timedelta(hours=1)
    assert starts == [DAY + 9 * hour, DAY + timedelta(days=2) + 15 * hour] + [
        DAY + timedelta(days=d) + 9 * hour for d in (3, 4)
    ]


def test_a_quiet_resync_is_one_sync_folder_items_call_whatever_the_size(
    exchange: EwsHarness, emulator: RunningEmulator
) -> None:
    operations = []
    for size in (5, 600):
        calendar = exchange.add_calendar(f"quiet-{size}")
        exchange.control(
            "events",
            {
                "folder_id": calendar,
                "events": [_event(DAY + timedelta(minutes=10 * i), subject=f"e{i}") for i in range(size)],
            },
        )
        provider = exchange.provider()
        try:
            first = provider.pull_changes(calendar, cursor=None, known_etags={})
            assert len(first.upserted) == size
            emulator.state.requests.clear()
            quiet = provider.pull_changes(calendar, cursor=first.cursor, known_etags=etags(first))
            assert not quiet.upserted and not quiet.deleted
            operations.append(list(emulator.state.requests))
        finally:
            provider.close()
    assert operations == [["SyncFolderItems"], ["SyncFolderItems"]]


def test_an_invalid_sync_state_is_sync_cursor_invalid(
    exchange: EwsHarness, emulator: RunningEmulator
) -> None:
    calendar = exchange.add_calendar("invalid")
    exchange.put(calendar, "a", ics("a", DAY))
    provider = exchange.provider()
    try:
        first = provider.pull_changes(calendar, cursor=None, known_etags={})
        emulator.state.invalidate_sync_states()
        with pytest.raises(SyncCursorInvalid):
            provider.pull_changes(calendar, cursor=first.cursor, known_etags=etags(first))
        again = provider.pull_changes(calendar, cursor=None, known_etags=etags(first))
        assert again.full and again.unchanged == [first.upserted[0].remote_id]
    finally:
        provider.close()


def test_throttling_is_rate_limited_with_the_servers_back_off(
    exchange: EwsHarness, emulator: RunningEmulator
) -> None:
    calendar = exchange.add_calendar("busy")
    provider = exchange.provider()
    try:
        provider.discover()
        emulator.state.faults.busy_next(1, back_off_ms=7000)
        with pytest.raises(RateLimited) as caught:
            provider.pull_changes(calendar, cursor=None, known_etags={})
        assert caught.value.retry_after == 7.0
        emulator.state.faults.fail_next(1, status=503)
        with pytest.raises(TransientProviderError):
            provider.pull_changes(calendar, cursor=None, known_etags={})
        assert provider.pull_changes(calendar, cursor=None, known_etags={}).full
    finally:
        provider.close()


def test_wrong_and_changed_passwords(exchange: EwsHarness, emulator: RunningEmulator) -> None:
    wrong = exchange.provider(password="Nope1!")
    try:
        with pytest.raises(AuthFailed, match=r"DOMAIN\\user"):
            wrong.discover()
    finally:
        wrong.close()
    provider = exchange.provider()
    try:
        provider.discover()
        emulator.state.set_password(exchange.email, "Changed2!")
        with pytest.raises(AuthFailed) as caught:
            provider.list_calendars()
        assert caught.value.code == "auth_expired"
    finally:
        provider.close()


def test_an_unknown_mailbox_is_mailbox_not_found(exchange: EwsHarness, emulator: RunningEmulator) -> None:
    connection = Connection(
        server_url=emulator.ews_url,
        username=exchange.logon,
        secret=PASSWORD,
        principal_url="mailto:nobody@contoso.example",
    )
    provider = ExchangeProvider(connection, policy=guarded_policy())
    try:
        with pytest.raises(MailboxNotFound):
            provider.discover()
    finally:
        provider.close()


def test_the_private_network_guard_covers_every_request(
    exchange: EwsHarness, emulator: RunningEmulator
) -> None:
    seen: list[httpx.Request] = []
    provider = ExchangeProvider(
        exchange.connection(), policy=NetworkPolicy(event_hooks={"request": [seen.append]})
    )
    try:
        with pytest.raises(AddressForbidden):
            provider.discover()
    finally:
        provider.close()
    assert not seen  # refused before any byte was sent


def test_a_write_sends_no_invitation_and_keeps_our_uid(
    exchange: EwsHarness, emulator: RunningEmulator
) -> None:
    calendar = exchange.add_calendar("writes")
    draft = EventDraft(
        uid="booking-7@creneau.example", summary="Session", start=DAY, end=DAY + timedelta(hours=1)
    )
    provider = exchange.provider()
    try:
        written = provider.create_event(calendar, draft)
    finally:
        provider.close()
    state = HTTP.get(f"{emulator.url}/_emulator/state").json()
    [item] = [i for i in state["items"] if i["id"] == written.remote_id]
    assert item["uid"] == draft.uid
    assert [e["value"] for e in item["extended"]] == [draft.uid]
    assert item["invitations"] in ("SendToNone", ["SendToNone"])
    # a second process (a retry after a lost answer) finds it by the extended property, never duplicates
    other = exchange.provider()
    try:
        assert other.create_event(calendar, draft).remote_id == written.remote_id
    finally:
        other.close()
    assert (
        sum(1 for i in HTTP.get(f"{emulator.url}/_emulator/state").json()["items"] if i["uid"] == draft.uid)
        == 1
    )


def test_an_item_whose_mime_holds_no_event_is_reported(exchange: EwsHarness) -> None:
    from creneau.calendars.providers.ews import render

    with pytest.raises(render.Unreadable):
        render.from_mime(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n")
    with pytest.raises(render.Unreadable):
        render.from_mime(None)


def test_no_native_conferencing() -> None:
    assert ExchangeProvider.capabilities.native_conferencing is None
    assert not ExchangeProvider.capabilities.push


@pytest.fixture(scope="module")
def https_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningEmulator, str]]:
    """The emulator on HTTPS with a certificate of a private CA (trustme), as companies run Exchange."""
    trustme = pytest.importorskip("trustme")
    folder = tmp_path_factory.mktemp("ews-tls")
    ca = trustme.CA()
    pem, ca_file = folder / "server.pem", folder / "ca.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(pem))
    ca.cert_pem.write_to_path(str(ca_file))
    running = start(ssl_certfile=str(pem), ssl_keyfile=str(pem))
    yield running, str(ca_file)
    running.stop()


def test_tls_is_verified_against_the_configured_ca_bundle(
    https_emulator: tuple[RunningEmulator, str],
) -> None:
    from creneau.errors import TlsUntrusted

    running, ca_file = https_emulator
    assert running.ews_url.startswith("https://")
    email = f"tls{next(_numbers):03d}@contoso.example"
    running.state.add_mailbox(email, PASSWORD, username=email.split("@")[0])
    connection = Connection(
        server_url=running.ews_url,
        username=f"CONTOSO\\{email.split('@')[0]}",
        secret=PASSWORD,
        principal_url=f"mailto:{email}",
    )
    untrusted = ExchangeProvider(connection, policy=guarded_policy())
    try:
        with pytest.raises(TlsUntrusted, match="CRENEAU_EWS_CA_BUNDLE"):
            untrusted.discover()
    finally:
        untrusted.close()
    trusted = ExchangeProvider(connection, policy=guarded_policy(), ca_bundle=ca_file)
    try:
        assert trusted.discover().email_addresses == (email,)
        assert [c.name for c in trusted.list_calendars()] == ["Calendar"]
    finally:
        trusted.close()


def test_a_slow_server_is_given_up_after_the_policys_timeout(
    exchange: EwsHarness, emulator: RunningEmulator
) -> None:
    import time

    policy = NetworkPolicy(allowed_private_networks=("127.0.0.0/8",), timeout=1)
    provider = ExchangeProvider(exchange.connection(), policy=policy)
    patient = exchange.provider()  # another provider of the same account keeps its own (longer) timeout
    try:
        provider.discover()
        patient.discover()
        emulator.state.faults.set_delay(2.5)
        started = time.monotonic()
        with pytest.raises(TransientProviderError):
            provider.list_calendars()
        assert time.monotonic() - started < 2.4
    finally:
        emulator.state.faults.clear()
        provider.close()
        patient.close()


@pytest.mark.parametrize(
    ("email", "url"),
    [
        ("a@" + "b" * 300 + ".example", ""),  # a DNS label too long for Autodiscover
        ("x@y.example", "https://exa mple.org/EWS/Exchange.asmx"),  # not a URL requests can send
    ],
)
def test_odd_input_is_one_of_our_errors(email: str, url: str) -> None:
    from creneau.errors import AutodiscoverFailed, NotExchange

    connection = Connection(url, "CONTOSO\\x", "pw", principal_url=f"mailto:{email}")
    provider = ExchangeProvider(connection, policy=guarded_policy())
    try:
        with pytest.raises(AutodiscoverFailed if not url else NotExchange):
            provider.discover()
    finally:
        provider.close()
