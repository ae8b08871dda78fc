"""Fidelity on refusals: msgraph-sdk pointed at the emulator meets Graph's documented errors and limits —
JSON error objects for every failure (even a route the emulator lacks), the getSchedule interval and window
limits, ``$top`` bounds, the ``clientState`` length — and occurrences of a series addressed by their ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
pytest.importorskip("msgraph")

from kiota_abstractions.base_request_configuration import RequestConfiguration  # noqa: E402
from msgraph.generated.models.event import Event  # noqa: E402
from msgraph.generated.models.event_type import EventType  # noqa: E402
from msgraph.generated.models.o_data_errors.o_data_error import ODataError  # noqa: E402
from msgraph.generated.models.subscription import Subscription  # noqa: E402
from msgraph.generated.users.item.calendar.get_schedule.get_schedule_post_request_body import (  # noqa: E402
    GetSchedulePostRequestBody,
)
from msgraph.generated.users.item.calendars.item.calendar_view.calendar_view_request_builder import (  # noqa: E402
    CalendarViewRequestBuilder,
)
from msgraph.generated.users.item.events.item.instances.instances_request_builder import (  # noqa: E402
    InstancesRequestBuilder,
)

from creneau.emulators.msgraph import RunningEmulator  # noqa: E402
from tests.emulators.msgraph.conftest import Account  # noqa: E402
from tests.emulators.msgraph.test_sdk_fidelity import DAY, _time, run  # noqa: E402
from tests.emulators.msgraph.webhook import Receiver  # noqa: E402

WELL_FORMED = "AAMkAGI2TG93AAA" + "x" * 40  # shaped like an Exchange id, naming nothing


def _refused(make: Any, account: Account) -> ODataError:
    with pytest.raises(ODataError) as caught:
        run(make, account)
    return caught.value


def test_a_route_the_emulator_lacks_answers_a_graph_error_object(account: Account) -> None:
    error = _refused(lambda c: c.me.calendar_groups.get(), account)
    assert error.response_status_code == 400
    assert error.error is not None and error.error.code == "BadRequest"
    assert error.error.message == "Resource not found for the segment 'calendarGroups'."
    inner = error.error.inner_error
    assert inner is not None and inner.request_id and inner.date is not None
    assert inner.client_request_id  # the SDK's client-request-id, echoed


def test_unknown_segments_and_methods_answer_json(emulator: RunningEmulator, account: Account) -> None:
    deep = account.client.get(f"{account.base}/me/calendars/{WELL_FORMED}/bogus/more")
    assert deep.status_code == 400 and deep.headers["content-type"].startswith("application/json")
    assert deep.json()["error"]["message"] == "Resource not found for the segment 'bogus'."
    wrong = account.client.put(f"{account.base}/me/events/{WELL_FORMED}", json={})
    assert wrong.status_code == 405 and wrong.headers["content-type"].startswith("application/json")
    assert wrong.json()["error"]["code"] == "ErrorInvalidRequest"
    assert wrong.json()["error"]["innerError"]["request-id"]
    sent = account.client.get(f"{account.base}/me/nowhere", headers={"client-request-id": "mine-42"})
    assert sent.json()["error"]["innerError"]["client-request-id"] == "mine-42"
    version = account.client.get(account.base.replace("/v1.0", "/v2.5") + "/me")
    assert version.status_code == 400 and version.json()["error"]["message"] == "Invalid version: v2.5"
    unauthenticated = httpx.get(f"{account.base}/me")
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"]["code"] == "InvalidAuthenticationToken"


def _schedule(account: Account, start: datetime, end: datetime, interval: int) -> Any:
    body = GetSchedulePostRequestBody(
        schedules=[account.email],
        start_time=_time(start),
        end_time=_time(end),
        availability_view_interval=interval,
    )
    return run(lambda c: c.me.calendar.get_schedule.post(body), account)


@pytest.mark.parametrize(
    ("days", "interval", "code"),
    [
        (1, 4, "ErrorInvalidMergedFreeBusyInterval"),
        (2, 1441, "ErrorInvalidMergedFreeBusyInterval"),
        (63, 60, "ErrorInvalidTimeInterval"),
        (-1, 30, "ErrorInvalidTimeInterval"),
    ],
)
def test_get_schedule_limits(account: Account, days: int, interval: int, code: str) -> None:
    with pytest.raises(ODataError) as caught:
        _schedule(account, DAY, DAY + timedelta(days=days), interval)
    assert caught.value.response_status_code == 400
    assert caught.value.error is not None and caught.value.error.code == code


def test_get_schedule_accepts_its_documented_bounds(account: Account) -> None:
    assert _schedule(account, DAY, DAY + timedelta(days=62), 1440).value
    assert _schedule(account, DAY, DAY + timedelta(minutes=5), 5).value
    with pytest.raises(ODataError) as longer:  # an interval longer than the window is refused
        _schedule(account, DAY, DAY + timedelta(minutes=10), 15)
    assert longer.value.error is not None
    assert longer.value.error.code == "ErrorInvalidMergedFreeBusyInterval"


def test_top_is_bounded(emulator: RunningEmulator, account: Account) -> None:
    user = emulator.state.user_by_email(account.email)
    assert user is not None
    calendar = emulator.state.calendar_of(user, None).id

    def view(top: int) -> Any:
        query = CalendarViewRequestBuilder.CalendarViewRequestBuilderGetQueryParameters(
            start_date_time="2030-03-01T00:00:00Z", end_date_time="2030-03-31T00:00:00Z", top=top
        )
        config = RequestConfiguration(query_parameters=query)
        return lambda c: c.me.calendars.by_calendar_id(calendar).calendar_view.get(
            request_configuration=config
        )

    assert run(view(1000), account) is not None
    error = _refused(view(1001), account)
    assert error.response_status_code == 400 and error.error is not None
    assert "1000" in str(error.error.message)
    minus = account.client.get(
        f"{account.base}/me/calendarView",
        params={"startDateTime": "2030-03-01T00:00:00Z", "endDateTime": "2030-03-02T00:00:00Z", "$top": "-1"},
    )
    assert minus.status_code == 400 and minus.json()["error"]["code"] == "BadRequest"


def _subscription(receiver: Receiver, calendar: str, **extra: Any) -> Subscription:
    values: dict[str, Any] = {
        "change_type": "created,updated,deleted",
        "notification_url": receiver.url,
        "resource": f"me/calendars/{calendar}/events",
        "expiration_date_time": datetime.now(UTC) + timedelta(days=2),
        **extra,
    }
    return Subscription(**values)


def test_subscription_client_state_and_expiration_limits(
    emulator: RunningEmulator, account: Account, receiver: Receiver
) -> None:
    calendar = emulator.state.add_calendar(account.email, "Limits").id
    longest = run(
        lambda c: c.subscriptions.post(_subscription(receiver, calendar, client_state="s" * 128)), account
    )
    assert longest is not None and longest.client_state == "s" * 128
    error = _refused(
        lambda c: c.subscriptions.post(_subscription(receiver, calendar, client_state="s" * 129)), account
    )
    assert error.response_status_code == 400 and error.error is not None and "128" in str(error.error.message)
    too_far = datetime.now(UTC) + timedelta(minutes=10080 + 5)
    late = _refused(
        lambda c: c.subscriptions.post(_subscription(receiver, calendar, expiration_date_time=too_far)),
        account,
    )
    assert late.response_status_code == 400 and late.error is not None and "10080" in str(late.error.message)


def _series(emulator: RunningEmulator, account: Account) -> tuple[str, str]:
    calendar = emulator.state.add_calendar(account.email, "Series").id
    master = emulator.state.put_event(
        calendar,
        {
            "subject": "Standup",
            "start": {"dateTime": "2030-03-04T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2030-03-04T09:30:00", "timeZone": "UTC"},
            "recurrence": {
                "pattern": {"type": "daily", "interval": 1},
                "range": {"type": "numbered", "numberOfOccurrences": 3, "startDate": "2030-03-04"},
            },
        },
    )
    return calendar, master


def _view(calendar: str, account: Account) -> list[Event]:
    query = CalendarViewRequestBuilder.CalendarViewRequestBuilderGetQueryParameters(
        start_date_time="2030-03-01T00:00:00Z", end_date_time="2030-03-31T00:00:00Z"
    )
    config = RequestConfiguration(query_parameters=query)
    page = run(
        lambda c: c.me.calendars.by_calendar_id(calendar).calendar_view.get(request_configuration=config),
        account,
    )
    assert page is not None
    return list(page.value or [])


def test_occurrences_are_addressable_by_id(emulator: RunningEmulator, account: Account) -> None:
    calendar, master = _series(emulator, account)
    first, second, third = _view(calendar, account)
    assert first.id and second.id and third.id

    got = run(lambda c: c.me.events.by_event_id(str(second.id)).get(), account)
    assert got is not None and got.type == EventType.Occurrence
    assert got.series_master_id == master and got.subject == "Standup"
    assert got.start is not None and got.start.date_time == "2030-03-05T09:00:00.0000000"

    moved = Event(subject="Standup (moved)", start=_time(DAY + timedelta(days=1, hours=14)))
    moved.end = _time(DAY + timedelta(days=1, hours=14, minutes=30))
    patched = run(lambda c: c.me.events.by_event_id(str(second.id)).patch(moved), account)
    assert patched is not None and patched.type == EventType.Exception and patched.id == second.id
    assert patched.subject == "Standup (moved)"

    run(lambda c: c.me.calendars.by_calendar_id(calendar).events.by_event_id(str(third.id)).delete(), account)
    after = {e.id: e for e in _view(calendar, account)}
    assert set(after) == {first.id, second.id}
    assert after[first.id].subject == "Standup" and after[first.id].type == EventType.Occurrence
    assert after[second.id].subject == "Standup (moved)" and after[second.id].type == EventType.Exception
    start = after[second.id].start
    assert start is not None and start.date_time == "2030-03-05T14:00:00.0000000"

    gone = _refused(lambda c: c.me.events.by_event_id(str(third.id)).get(), account)
    assert gone.response_status_code == 404 and gone.error is not None
    assert gone.error.code == "ErrorItemNotFound"
    never = _refused(lambda c: c.me.events.by_event_id(f"{master}_20290101T090000").get(), account)
    assert never.response_status_code == 404


def test_a_malformed_id_is_a_400_and_an_unknown_one_a_404(account: Account) -> None:
    malformed = _refused(lambda c: c.me.events.by_event_id("nope").get(), account)
    assert malformed.response_status_code == 400 and malformed.error is not None
    assert (malformed.error.code, malformed.error.message) == ("ErrorInvalidIdMalformed", "Id is malformed.")
    bad_calendar = _refused(lambda c: c.me.calendars.by_calendar_id("my calendar").get(), account)
    assert bad_calendar.response_status_code == 400
    unknown = _refused(lambda c: c.me.events.by_event_id(WELL_FORMED).get(), account)
    assert unknown.response_status_code == 404 and unknown.error is not None
    assert unknown.error.code == "ErrorItemNotFound"
    unknown_calendar = _refused(lambda c: c.me.calendars.by_calendar_id(WELL_FORMED).get(), account)
    assert unknown_calendar.response_status_code == 404


def test_an_occurrence_refuses_a_stale_change_key(emulator: RunningEmulator, account: Account) -> None:
    calendar, _ = _series(emulator, account)
    first = _view(calendar, account)[0]
    url = f"{account.base}/me/events/{first.id}"
    stale = account.client.delete(url, headers={"If-Match": 'W/"not-the-key"'})
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "ErrorIrresolvableConflict"
    fresh = account.client.delete(url, headers={"If-Match": f'W/"{first.change_key}"'})
    assert fresh.status_code == 204
    assert first.id not in {e.id for e in _view(calendar, account)}


def test_events_list_series_masters_and_instances_list_occurrences(
    emulator: RunningEmulator, account: Account
) -> None:
    calendar, master = _series(emulator, account)
    single = emulator.state.put_event(
        calendar,
        {
            "subject": "Once",
            "start": {"dateTime": "2030-03-06T12:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2030-03-06T13:00:00", "timeZone": "UTC"},
        },
    )
    listed = run(lambda c: c.me.calendars.by_calendar_id(calendar).events.get(), account)
    assert listed is not None
    kinds = {e.id: e.type for e in listed.value or []}
    assert kinds == {master: EventType.SeriesMaster, single: EventType.SingleInstance}

    query = InstancesRequestBuilder.InstancesRequestBuilderGetQueryParameters(
        start_date_time="2030-03-05T00:00:00Z", end_date_time="2030-03-31T00:00:00Z"
    )
    config = RequestConfiguration(query_parameters=query)
    found = run(
        lambda c: c.me.events.by_event_id(master).instances.get(request_configuration=config), account
    )
    assert found is not None
    assert [(e.type, e.start.date_time if e.start else None) for e in found.value or []] == [
        (EventType.Occurrence, "2030-03-05T09:00:00.0000000"),
        (EventType.Occurrence, "2030-03-06T09:00:00.0000000"),
    ]
    no_window = _refused(lambda c: c.me.events.by_event_id(master).instances.get(), account)
    assert no_window.response_status_code == 400 and no_window.error is not None
    assert no_window.error.code == "ErrorInvalidParameter"
    missing = _refused(
        lambda c: c.me.events.by_event_id(WELL_FORMED).instances.get(request_configuration=config),
        account,
    )
    assert missing.response_status_code == 404
