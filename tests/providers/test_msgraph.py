"""The provider contract against the Microsoft Graph emulator, plus what is Graph's own: occurrences,
busy status mapping, getSchedule, Teams links, subscriptions, error mapping."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import icalendar
import pytest

from creneau.calendars import ical
from creneau.calendars.providers import load
from creneau.calendars.providers.base import EventDraft
from creneau.calendars.providers.msgraph import MicrosoftGraphProvider, parse_notifications
from creneau.domain.intervals import Interval
from creneau.emulators.msgraph import RunningEmulator, start
from creneau.errors import (
    AuthExpired,
    ProviderError,
    RateLimited,
    SyncCursorInvalid,
    TransientProviderError,
)
from tests.emulators.msgraph.webhook import Receiver, serve_receiver
from tests.providers.contract import DAY, ProviderContract, ics, uids
from tests.providers.msgraph_harness import GraphHarness, graph_time


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    running = start()
    yield running
    running.stop()


@pytest.fixture
def graph(emulator: RunningEmulator) -> Iterator[GraphHarness]:
    harness = GraphHarness(emulator)
    yield harness
    emulator.state.faults.clear()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as hook:
        yield hook


class TestGraphContract(ProviderContract):
    @pytest.fixture
    def harness(self, graph: GraphHarness) -> GraphHarness:
        return graph


def _event(start: datetime, hours: float = 1, **fields: object) -> dict[str, object]:
    return {"start": graph_time(start), "end": graph_time(start + timedelta(hours=hours)), **fields}


def _busy(provider: MicrosoftGraphProvider, calendar: str, window: Interval) -> list[tuple[datetime, bool]]:
    found = []
    for remote in provider.busy_times([calendar], window):
        obj = ical.parse(remote.ical)
        found += [
            (o.start, o.all_day)
            for o in ical.busy_occurrences(
                obj, window=window, default_tz=UTC, owner_addresses=["x@nowhere.example", *_owner(provider)]
            )
        ]
    return sorted(found)


def _owner(provider: MicrosoftGraphProvider) -> tuple[str, ...]:
    return provider.discover().email_addresses


def test_registered() -> None:
    assert load("msgraph") is MicrosoftGraphProvider


def test_series_come_as_occurrences_with_the_exception_moved(graph: GraphHarness) -> None:
    calendar = graph.add_calendar("series")
    moved = DAY + timedelta(days=2)
    text = ics(
        "weekly", DAY, rrule="FREQ=DAILY;COUNT=5", overrides=[(moved, moved + timedelta(hours=3), "Moved")]
    )
    graph.put(calendar, "weekly", text)
    provider = graph.provider()
    changes = provider.pull_changes(calendar, cursor=None, known_etags={})
    assert uids(changes) == {"weekly"} and len(changes.upserted) == 5
    starts = {}
    for event in changes.upserted:
        [vevent] = icalendar.Calendar.from_ical(event.ical).walk("VEVENT")
        assert "RRULE" not in vevent
        starts[vevent.decoded("DTSTART")] = str(vevent["SUMMARY"])
    assert starts[moved + timedelta(hours=3)] == "Moved"
    assert moved not in starts
    # Deleting one occurrence comes as a removal of that occurrence only.
    victim = next(e.remote_id for e in changes.upserted if "Moved" not in e.ical)
    assert graph.state.delete_event(victim)
    second = provider.pull_changes(calendar, cursor=changes.cursor, known_etags={})
    assert second.deleted == [victim] and not second.upserted


def test_event_leaving_the_window_is_deleted_locally(graph: GraphHarness) -> None:
    calendar = graph.add_calendar("window")
    event_id = graph.state.put_event(calendar, {"iCalUId": "far", **_event(DAY)})
    provider = graph.provider()
    first = provider.pull_changes(calendar, cursor=None, known_etags={})
    assert [e.remote_id for e in first.upserted] == [event_id]
    graph.state.put_event(
        calendar, {"id": event_id, "iCalUId": "far", **_event(datetime(2035, 1, 1, tzinfo=UTC))}
    )
    second = provider.pull_changes(
        calendar, cursor=first.cursor, known_etags={event_id: first.upserted[0].etag}
    )
    assert second.deleted == [event_id]


def test_busy_status_all_day_and_declined_invitations(graph: GraphHarness) -> None:
    calendar = graph.add_calendar("status")
    state = graph.state
    for hour, show_as in ((8, "free"), (9, "tentative"), (10, "busy"), (11, "oof"), (12, "workingElsewhere")):
        state.put_event(calendar, _event(DAY + timedelta(hours=hour), showAs=show_as))
    state.put_event(calendar, _event(DAY + timedelta(hours=13), isCancelled=True))
    state.put_event(
        calendar,
        _event(
            DAY + timedelta(hours=14),
            isOrganizer=False,
            organizer={"emailAddress": {"address": "boss@contoso.example"}},
            responseStatus={"response": "declined"},
        ),
    )
    state.put_event(
        calendar,
        _event(DAY + timedelta(hours=15), isOrganizer=False, responseStatus={"response": "notResponded"}),
    )
    state.put_event(
        calendar,
        {
            "start": graph_time(DAY.date() + timedelta(days=1)),
            "end": graph_time(DAY.date() + timedelta(days=2)),
            "isAllDay": True,
        },
    )
    provider = graph.provider()
    busy = _busy(provider, calendar, Interval(DAY, DAY + timedelta(days=2)))
    hours = [(s - DAY) / timedelta(hours=1) for s, _ in busy]
    assert hours == [9, 10, 11, 15, 24]
    assert busy[-1][1]  # the all-day event is all-day


def test_get_schedule_for_the_default_calendar_of_a_work_account(graph: GraphHarness) -> None:
    state = graph.state
    default = state.calendar_of(state.user_by_email(graph.email), None).id  # type: ignore[arg-type]
    state.put_event(default, _event(DAY + timedelta(hours=9), subject="Standup"))
    state.put_event(default, _event(DAY + timedelta(hours=11), showAs="free"))
    seen: list[str] = []
    provider = graph.provider(on_request=lambda r: seen.append(f"{r.method} {r.url.path}"))
    busy = _busy(provider, default, Interval(DAY, DAY + timedelta(days=1)))
    assert [s for s, _ in busy] == [DAY + timedelta(hours=9)]
    assert any(p.endswith("/me/calendar/getSchedule") for p in seen)


def test_personal_account_reads_calendar_view_and_has_no_teams(emulator: RunningEmulator) -> None:
    graph = GraphHarness(emulator, kind="personal")
    state = graph.state
    default = state.calendar_of(state.user_by_email(graph.email), None).id  # type: ignore[arg-type]
    state.put_event(default, _event(DAY + timedelta(hours=9)))
    seen: list[str] = []
    provider = graph.provider(on_request=lambda r: seen.append(r.url.path))
    assert provider.discover().email_addresses == (graph.email,)  # from userPrincipalName: no `mail`
    assert [s for s, _ in _busy(provider, default, Interval(DAY, DAY + timedelta(days=1)))] == [
        DAY + timedelta(hours=9)
    ]
    assert not any("getSchedule" in p for p in seen)
    assert not provider.native_conference_available(default)
    draft = EventDraft(
        uid="p-1", summary="Remote", start=DAY, end=DAY + timedelta(hours=1), native_conference=True
    )
    assert provider.create_event(default, draft).join_url is None


def test_teams_link_for_a_work_calendar(graph: GraphHarness) -> None:
    calendar = graph.add_calendar("teams")
    provider = graph.provider()
    assert provider.native_conference_available(calendar)
    draft = EventDraft(
        uid="t-1", summary="Remote", start=DAY, end=DAY + timedelta(hours=1), native_conference=True
    )
    written = provider.create_event(calendar, draft)
    assert written.join_url and written.join_url.startswith("https://teams.microsoft.com/")
    assert provider.create_event(calendar, draft) == written  # the transactionId makes a retry harmless
    stored = graph.state.get_event(written.remote_id)
    assert stored is not None and stored.data["isOnlineMeeting"] is True
    plain = provider.create_event(calendar, dataclasses.replace(draft, uid="t-2", native_conference=False))
    assert plain.join_url is None


def test_error_mapping(graph: GraphHarness) -> None:
    calendar = graph.add_calendar("errors")
    provider = graph.provider()
    faults = graph.state.faults
    faults.fail_next(1, status=429, retry_after=7)
    with pytest.raises(RateLimited) as caught:
        provider.pull_changes(calendar, cursor=None, known_etags={})
    assert caught.value.retry_after == 7
    faults.fail_next(1, status=503, retry_after=None)
    with pytest.raises(RateLimited):
        provider.pull_changes(calendar, cursor=None, known_etags={})
    faults.fail_next(1, status=500, retry_after=None)
    with pytest.raises(TransientProviderError):
        provider.pull_changes(calendar, cursor=None, known_etags={})
    first = provider.pull_changes(calendar, cursor=None, known_etags={})
    graph.state.expire_delta_tokens()
    with pytest.raises(SyncCursorInvalid):
        provider.pull_changes(calendar, cursor=first.cursor, known_etags={})
    graph.state.revoke(email=graph.email)
    with pytest.raises(AuthExpired):
        provider.pull_changes(calendar, cursor=None, known_etags={})


def test_a_moved_window_starts_a_new_full_round(graph: GraphHarness) -> None:
    calendar = graph.add_calendar("moving")
    graph.state.put_event(calendar, {"iCalUId": "in-both", **_event(DAY)})
    first = graph.provider().pull_changes(calendar, cursor=None, known_etags={})
    later = Interval(DAY - timedelta(days=100), DAY + timedelta(days=300))
    again = graph.provider(sync_window=later).pull_changes(
        calendar, cursor=first.cursor, known_etags={e.remote_id: e.etag for e in first.upserted}
    )
    assert again.full and not again.upserted and again.unchanged == [first.upserted[0].remote_id]


def test_window_defaults_follow_the_clock(graph: GraphHarness) -> None:
    window = graph.provider(sync_window=None, days_back=1, days_ahead=2).window()
    now = datetime.now(UTC)
    assert window.start < now < window.end <= now + timedelta(days=2)


def test_subscribe_renew_unsubscribe_and_notifications(graph: GraphHarness, receiver: Receiver) -> None:
    calendar = graph.add_calendar("pushed")
    provider = graph.provider()
    soon = datetime.now(UTC) + timedelta(days=1)
    sub = provider.subscribe(
        calendar, notification_url=receiver.url, lifecycle_url=receiver.url, client_state="cs-1", expires=soon
    )
    assert abs(sub.expires - soon) < timedelta(seconds=1)
    far = provider.renew(sub.id, expires=datetime.now(UTC) + timedelta(days=30))  # capped at 7 days
    assert far.expires <= datetime.now(UTC) + timedelta(minutes=10080)
    graph.state.put_event(calendar, _event(DAY))
    body = receiver.wait_for(lambda b: b["value"][0].get("changeType") == "created")
    [note] = parse_notifications(json.dumps(body).encode())
    assert (note.subscription_id, note.client_state, note.change_type) == (sub.id, "cs-1", "created")
    provider.unsubscribe(sub.id)
    provider.unsubscribe(sub.id)  # already gone: fine
    assert sub.id not in graph.state.subscriptions
    receiver.mode = "wrong"
    with pytest.raises(ProviderError, match="ValidationError"):
        provider.subscribe(
            calendar, notification_url=receiver.url, lifecycle_url=None, client_state="x", expires=soon
        )
