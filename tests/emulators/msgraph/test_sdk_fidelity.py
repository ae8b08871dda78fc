"""Fidelity: Microsoft's own Python SDK (msgraph-sdk, test-only dependency) pointed at the emulator performs
the calls creneau makes and parses every field creneau relies on."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
pytest.importorskip("msgraph")

from kiota_abstractions.authentication import (  # noqa: E402
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration  # noqa: E402
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone  # noqa: E402
from msgraph.generated.models.event import Event  # noqa: E402
from msgraph.generated.models.event_type import EventType  # noqa: E402
from msgraph.generated.models.free_busy_status import FreeBusyStatus  # noqa: E402
from msgraph.generated.models.online_meeting_provider_type import OnlineMeetingProviderType  # noqa: E402
from msgraph.generated.models.subscription import Subscription  # noqa: E402
from msgraph.generated.users.item.calendar.get_schedule.get_schedule_post_request_body import (  # noqa: E402
    GetSchedulePostRequestBody,
)
from msgraph.generated.users.item.calendars.item.calendar_view.delta.delta_request_builder import (  # noqa: E402
    DeltaRequestBuilder,
)
from msgraph.graph_request_adapter import GraphRequestAdapter  # noqa: E402
from msgraph.graph_service_client import GraphServiceClient  # noqa: E402

from creneau.emulators.msgraph import RunningEmulator  # noqa: E402
from tests.emulators.msgraph.conftest import Account  # noqa: E402
from tests.emulators.msgraph.webhook import Receiver  # noqa: E402

T = TypeVar("T")


class _Token(AccessTokenProvider):
    def __init__(self, token: str) -> None:
        self._token = token

    async def get_authorization_token(self, uri: str, additional_authentication_context: Any = None) -> str:
        return self._token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return AllowedHostsValidator(["127.0.0.1"])


def run(make: Callable[[GraphServiceClient], Awaitable[T]], account: Account) -> T:
    async def go() -> T:
        adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(_Token(account.token)))
        adapter.base_url = account.base
        return await make(GraphServiceClient(request_adapter=adapter))

    return asyncio.run(go())


def _time(value: datetime) -> DateTimeTimeZone:
    return DateTimeTimeZone(date_time=value.strftime("%Y-%m-%dT%H:%M:%S"), time_zone="UTC")


DAY = datetime(2030, 3, 4, tzinfo=UTC)


def test_me_and_calendars(emulator: RunningEmulator, account: Account) -> None:
    work = emulator.state.add_calendar(account.email, "Work", color="#12AB34")
    me = run(lambda c: c.me.get(), account)
    assert me is not None and me.mail == account.email and me.user_principal_name == account.email
    listed = run(lambda c: c.me.calendars.get(), account)
    assert listed is not None and listed.value
    found = {cal.id: cal for cal in listed.value}
    assert found[work.id].name == "Work" and found[work.id].hex_color == "#12ab34"
    assert found[work.id].can_edit is True
    assert [getattr(p, "value", p) for p in found[work.id].allowed_online_meeting_providers or []] == [
        "teamsForBusiness"
    ]
    assert any(c.is_default_calendar for c in listed.value)


def test_calendar_view_delta_round_trip(emulator: RunningEmulator, account: Account) -> None:
    state = emulator.state
    calendar = state.add_calendar(account.email, "Delta").id
    single = state.put_event(
        calendar,
        {
            "subject": "One",
            "showAs": "tentative",
            "start": {"dateTime": "2030-03-04T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2030-03-04T10:00:00", "timeZone": "UTC"},
        },
    )
    state.put_event(
        calendar,
        {
            "subject": "Daily",
            "start": {"dateTime": "2030-03-03T12:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2030-03-03T13:00:00", "timeZone": "UTC"},
            "recurrence": {
                "pattern": {"type": "daily", "interval": 1},
                "range": {"type": "numbered", "numberOfOccurrences": 2, "startDate": "2030-03-03"},
            },
        },
    )
    state.put_event(
        calendar,
        {
            "subject": "Off",
            "isAllDay": True,
            "isCancelled": True,
            "showAs": "free",
            "start": {"dateTime": "2030-03-05T00:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2030-03-06T00:00:00", "timeZone": "UTC"},
        },
    )
    query = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
        start_date_time="2030-03-01T00:00:00Z", end_date_time="2030-03-31T00:00:00Z"
    )
    config = RequestConfiguration(query_parameters=query)
    config.headers.add("Prefer", 'odata.maxpagesize=2, outlook.timezone="UTC"')

    async def first_round(client: GraphServiceClient) -> tuple[list[Event], str]:
        builder = client.me.calendars.by_calendar_id(calendar).calendar_view.delta
        page = await builder.get(request_configuration=config)
        items: list[Event] = []
        while page is not None:
            items += page.value or []
            if page.odata_next_link:
                page = await builder.with_url(page.odata_next_link).get()
                continue
            assert page.odata_delta_link
            return items, page.odata_delta_link
        raise AssertionError("no page")

    items, delta_link = run(first_round, account)
    by_subject = {e.subject: e for e in items if e.type != EventType.Occurrence}
    occurrences = [e for e in items if e.type == EventType.Occurrence]
    assert len(items) == 4 and len(occurrences) == 2
    assert all(o.series_master_id and o.original_start for o in occurrences)
    one = by_subject["One"]
    assert one.id == single and one.show_as == FreeBusyStatus.Tentative
    assert one.start is not None and one.start.date_time == "2030-03-04T09:00:00.0000000"
    assert one.start.time_zone == "UTC" and one.is_all_day is False and one.is_cancelled is False
    off = by_subject["Off"]
    assert off.is_all_day is True and off.is_cancelled is True and off.show_as == FreeBusyStatus.Free
    assert one.i_cal_u_id and one.additional_data.get("@odata.etag", "").startswith('W/"')

    state.delete_event(single)

    async def second_round(client: GraphServiceClient) -> Any:
        return (
            await client.me.calendars.by_calendar_id(calendar).calendar_view.delta.with_url(delta_link).get()
        )

    changes = run(second_round, account)
    [removed] = changes.value
    assert removed.id == single and removed.additional_data["@removed"] == {"reason": "deleted"}
    assert changes.odata_delta_link


def test_create_event_with_transaction_id_and_teams(emulator: RunningEmulator, account: Account) -> None:
    calendar = emulator.state.add_calendar(account.email, "Bookings").id
    event = Event(
        subject="Study session",
        start=_time(DAY + timedelta(hours=9)),
        end=_time(DAY + timedelta(hours=10)),
        transaction_id="7d2c9a52-5b0e-4a51-9b0b-3f1f0e6f0a11",
        is_online_meeting=True,
        online_meeting_provider=OnlineMeetingProviderType.TeamsForBusiness,
    )
    first = run(lambda c: c.me.calendars.by_calendar_id(calendar).events.post(event), account)
    again = run(lambda c: c.me.calendars.by_calendar_id(calendar).events.post(event), account)
    assert first is not None and again is not None and first.id == again.id
    assert first.online_meeting is not None and first.online_meeting.join_url
    assert first.online_meeting_provider == OnlineMeetingProviderType.TeamsForBusiness
    assert first.transaction_id == event.transaction_id and first.change_key


def test_subscription(emulator: RunningEmulator, account: Account, receiver: Receiver) -> None:
    calendar = emulator.state.add_calendar(account.email, "Watched").id
    expires = datetime.now(UTC) + timedelta(days=3)
    sub = Subscription(
        change_type="created,updated,deleted",
        notification_url=receiver.url,
        lifecycle_notification_url=receiver.url,
        resource=f"me/calendars/{calendar}/events",
        expiration_date_time=expires,
        client_state="state-42",
    )
    created = run(lambda c: c.subscriptions.post(sub), account)
    assert created is not None and created.id and created.client_state == "state-42"
    assert created.expiration_date_time is not None
    assert abs(created.expiration_date_time - expires) < timedelta(seconds=1)
    assert receiver.validations


def test_get_schedule(emulator: RunningEmulator, account: Account) -> None:
    state = emulator.state
    user = state.user_by_email(account.email)
    assert user is not None
    default = state.calendar_of(user, None).id
    state.put_event(
        default,
        {
            "subject": "Busy",
            "start": {"dateTime": "2030-03-04T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2030-03-04T10:00:00", "timeZone": "UTC"},
            "showAs": "oof",
        },
    )
    body = GetSchedulePostRequestBody(
        schedules=[account.email],
        start_time=_time(DAY),
        end_time=_time(DAY + timedelta(days=1)),
        availability_view_interval=60,
    )
    answer = run(lambda c: c.me.calendar.get_schedule.post(body), account)
    assert answer is not None and answer.value
    [info] = answer.value
    assert info.schedule_id == account.email and info.availability_view is not None
    assert info.availability_view[9] == "3"
    [item] = info.schedule_items or []
    assert item.status == FreeBusyStatus.Oof
    assert item.start is not None and item.start.date_time == "2030-03-04T09:00:00.0000000"
