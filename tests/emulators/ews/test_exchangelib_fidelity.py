"""Fidelity: exchangelib (the Python EWS client, test-only dependency), used through its public API with no
patching, against the emulator: what it sends, the emulator understands; what the emulator answers,
exchangelib parses into the values a user of it would expect."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

exchangelib = pytest.importorskip("exchangelib")

from exchangelib import (  # type: ignore[import-untyped]  # noqa: E402
    BASIC,
    DELEGATE,
    NTLM,
    Account,
    CalendarItem,
    Configuration,
    Credentials,
    EWSDateTime,
    EWSTimeZone,
    ExtendedProperty,
    FailFast,
    Folder,
)
from exchangelib.errors import (  # type: ignore[import-untyped]  # noqa: E402
    ErrorInvalidSyncStateData,
    ErrorIrresolvableConflict,
    ErrorServerBusy,
    UnauthorizedError,
)
from exchangelib.items import SEND_TO_NONE  # type: ignore[import-untyped]  # noqa: E402
from exchangelib.recurrence import DailyPattern, NumberedPattern, Recurrence, WeeklyPattern  # type: ignore[import-untyped]  # noqa: E402

from creneau.emulators.ews import RunningEmulator  # noqa: E402
from tests.emulators.ews.conftest import HTTP, Box  # noqa: E402

PARIS = EWSTimeZone("Europe/Paris")


def connect(
    emulator: RunningEmulator, box: Box, *, auth_type: str | None = NTLM, password: str | None = None
) -> Any:
    config = Configuration(
        service_endpoint=emulator.ews_url,
        credentials=Credentials(box.logon, password or box.password),
        auth_type=auth_type,
        retry_policy=FailFast(),
    )
    return Account(box.email, config=config, autodiscover=False, access_type=DELEGATE, default_timezone=PARIS)


def control(emulator: RunningEmulator, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = HTTP.post(f"{emulator.url}/_emulator/{path}", json=body, timeout=10)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def at(day: int, hour: int, minute: int = 0) -> Any:
    return EWSDateTime(2026, 12, day, hour, minute, tzinfo=PARIS)


class BookingUid(ExtendedProperty):  # type: ignore[misc]
    property_set_id = "c11ff724-aa03-4555-9952-8fa248a11c3e"
    property_name = "creneauBookingUid"
    property_type = "String"


@pytest.fixture
def booking_uid() -> Iterator[None]:
    CalendarItem.register("booking_uid", BookingUid)
    yield
    CalendarItem.deregister("booking_uid")


# -- connecting ----------------------------------------------------------------------------------------------
def test_ntlm_account_reads_the_server_version_and_the_calendar(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box, auth_type=NTLM)
    assert account.version.build.major_version == 15 and account.version.build.minor_version == 1
    assert account.version.api_version == "Exchange2016"
    assert account.calendar.name == "Calendar"
    assert account.calendar.effective_rights.modify is True
    assert list(account.calendar.all()) == []


def test_auth_type_is_guessed_from_www_authenticate(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box, auth_type=None)
    assert account.protocol.auth_type == NTLM
    emulator.state.auth_schemes = ("Basic",)
    other = Box(box.email, box.email, box.password, box.mailbox)  # logon with the email address, Basic only
    account = connect(emulator, other, auth_type=None)
    assert account.protocol.auth_type == BASIC
    assert account.calendar.name == "Calendar"


def test_basic_auth_with_the_upn(emulator: RunningEmulator, box: Box) -> None:
    upn = Box(box.email, box.email, box.password, box.mailbox)
    assert connect(emulator, upn, auth_type=BASIC).calendar.name == "Calendar"


@pytest.mark.parametrize("auth_type", [NTLM, BASIC])
def test_wrong_password_is_unauthorized(emulator: RunningEmulator, box: Box, auth_type: str) -> None:
    with pytest.raises(UnauthorizedError):
        connect(emulator, box, auth_type=auth_type, password="not-it").calendar.name  # noqa: B018


def test_password_change_makes_the_old_password_unauthorized(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box)
    assert list(account.calendar.all()) == []
    control(emulator, "password", {"email": box.email, "password": "Changed2!"})
    with pytest.raises(UnauthorizedError):
        list(account.calendar.all())  # the kept-alive NTLM connection is no longer authenticated
    with pytest.raises(UnauthorizedError):
        connect(emulator, box).calendar.name  # noqa: B018
    assert connect(emulator, box, password="Changed2!").calendar.name == "Calendar"


# -- folders -------------------------------------------------------------------------------------------------
def test_calendar_sub_folders_and_read_only_flags(emulator: RunningEmulator, box: Box) -> None:
    control(emulator, "folders", {"email": box.email, "name": "Team"})
    control(emulator, "folders", {"email": box.email, "name": "Holidays", "read_only": True})
    account = connect(emulator, box)
    children = {f.name: f for f in account.calendar.children}
    assert set(children) == {"Team", "Holidays"}
    assert children["Holidays"].effective_rights.modify is False
    assert children["Team"].effective_rights.create_contents is True
    assert all(f.folder_class == "IPF.Appointment" for f in children.values())
    every = {f.name for f in account.root.walk()}
    assert {"Calendar", "Inbox", "Team", "Holidays"} <= every


def test_sync_hierarchy_reports_folders_added_and_removed(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box)
    calendar = account.calendar
    first = list(calendar.sync_hierarchy())
    assert first == []
    added = control(emulator, "folders", {"email": box.email, "name": "Lab"})
    changes = list(calendar.sync_hierarchy())
    assert [(kind, f.name) for kind, f in changes] == [("create", "Lab")]
    assert list(calendar.sync_hierarchy()) == []
    HTTP.delete(f"{emulator.url}/_emulator/folders/{added['id']}", timeout=10).raise_for_status()
    changes = list(calendar.sync_hierarchy())
    assert [kind for kind, _ in changes] == ["delete"]
    assert changes[0][1].id == added["id"]


# -- items ---------------------------------------------------------------------------------------------------
def test_create_read_update_delete_without_invitations(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box)
    item = CalendarItem(
        account=account,
        folder=account.calendar,
        subject="Interview P12",
        start=at(7, 10),
        end=at(7, 11),
        legacy_free_busy_status="Busy",
        location="Room 3",
    )
    item.save(send_meeting_invitations=SEND_TO_NONE)
    assert item.id and item.changekey
    held = HTTP.get(f"{emulator.url}/_emulator/state", timeout=10).json()["items"]
    mine = [i for i in held if i["id"] == item.id]
    assert mine and mine[0]["invitations"] == "SendToNone" and mine[0]["start"] == "2026-12-07T09:00:00Z"

    read = account.calendar.get(id=item.id)
    assert read.subject == "Interview P12" and read.location == "Room 3"
    assert read.start == at(7, 10) and read.end == at(7, 11)
    assert read.type == "Single" and read.is_all_day is False and read.is_cancelled is False
    assert read.legacy_free_busy_status == "Busy" and read.my_response_type == "Organizer"
    assert read.uid

    stale = read.changekey
    item.subject = "Interview P12 (moved)"
    item.start, item.end = at(7, 14), at(7, 15)
    item.save(update_fields=["subject", "start", "end"], send_meeting_invitations=SEND_TO_NONE)
    assert item.changekey != stale
    again = account.calendar.get(id=item.id)
    assert again.subject == "Interview P12 (moved)" and again.start == at(7, 14)

    read.subject = "A stale edit"
    with pytest.raises(ErrorIrresolvableConflict):
        read.save(update_fields=["subject"], send_meeting_invitations=SEND_TO_NONE)

    item.delete(send_meeting_cancellations=SEND_TO_NONE)
    assert list(account.calendar.all()) == []


def test_all_day_item_round_trips(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box)
    item = CalendarItem(
        account=account,
        folder=account.calendar,
        subject="Conference",
        start=dt.date(2026, 12, 10),
        end=dt.date(2026, 12, 11),
        is_all_day=True,
        legacy_free_busy_status="OOF",
    )
    item.save(send_meeting_invitations=SEND_TO_NONE)
    read = account.calendar.get(id=item.id)
    assert read.is_all_day is True and read.legacy_free_busy_status == "OOF"
    assert read.start == dt.date(2026, 12, 10) and read.end == dt.date(2026, 12, 11)


def test_writes_to_a_read_only_calendar_are_refused(emulator: RunningEmulator, box: Box) -> None:
    control(emulator, "folders", {"email": box.email, "name": "Shared", "read_only": True})
    account = connect(emulator, box)
    shared = next(f for f in account.calendar.children if f.name == "Shared")
    item = CalendarItem(account=account, folder=shared, subject="x", start=at(8, 9), end=at(8, 10))
    with pytest.raises(exchangelib.errors.ErrorAccessDenied):
        item.save(send_meeting_invitations=SEND_TO_NONE)


def test_extended_property_is_kept_and_findable(
    emulator: RunningEmulator, box: Box, booking_uid: None
) -> None:
    account = connect(emulator, box)
    for n in range(3):
        CalendarItem(
            account=account,
            folder=account.calendar,
            subject=f"Session {n}",
            start=at(9, 9 + n),
            end=at(9, 10 + n),
            booking_uid=f"booking-{n}@creneau",
        ).save(send_meeting_invitations=SEND_TO_NONE)
    found = list(account.calendar.filter(booking_uid="booking-1@creneau"))
    assert [i.subject for i in found] == ["Session 1"]
    assert found[0].booking_uid == "booking-1@creneau"
    assert list(account.calendar.filter(booking_uid="booking-9@creneau")) == []
    held = HTTP.get(f"{emulator.url}/_emulator/state", timeout=10).json()["items"]
    assert sorted(
        e["value"] for i in held for e in i["extended"] if i["folder_id"] == box.mailbox.calendar_id
    ) == [
        "booking-0@creneau",
        "booking-1@creneau",
        "booking-2@creneau",
    ]


def test_get_item_in_batches(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box)
    for n in range(12):
        control(
            emulator,
            "events",
            {
                "folder_id": box.mailbox.calendar_id,
                "event": {
                    "subject": f"E{n:02d}",
                    "start": f"2026-12-14T{8 + n % 9:02d}:00:00+01:00",
                    "end": f"2026-12-14T{8 + n % 9:02d}:30:00+01:00",
                    "time_zone": "Romance Standard Time",
                },
            },
        )
    ids = [(i.id, i.changekey) for i in account.calendar.all().only("id", "changekey")]
    emulator.state.requests.clear()
    items = list(account.fetch(ids=ids, only_fields=["subject", "start", "end"]))
    assert sorted(i.subject for i in items) == [f"E{n:02d}" for n in range(12)]
    assert sorted(i.start.astimezone(PARIS).hour for i in items)[:2] == [8, 8]
    assert emulator.state.requests == ["GetItem"]  # one batch, not one request per item


# -- sync ----------------------------------------------------------------------------------------------------
def test_sync_items_is_incremental(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box)
    calendar = account.calendar
    seeded = [
        control(
            emulator,
            "events",
            {
                "folder_id": box.mailbox.calendar_id,
                "event": {
                    "subject": f"S{n}",
                    "start": f"2026-12-15T0{n}:00:00Z",
                    "end": f"2026-12-15T0{n}:30:00Z",
                },
            },
        )["id"]
        for n in range(5)
    ]
    first = list(calendar.sync_items())
    assert sorted((kind, i.subject) for kind, i in first) == [("create", f"S{n}") for n in range(5)]
    assert list(calendar.sync_items()) == []  # nothing changed: nothing new

    control(
        emulator,
        f"events/{seeded[0]}",
        {"event": {"subject": "S0 renamed", "start": "2026-12-15T00:00:00Z", "end": "2026-12-15T01:00:00Z"}},
    )
    HTTP.delete(f"{emulator.url}/_emulator/events/{seeded[1]}", timeout=10).raise_for_status()
    changes = list(calendar.sync_items())
    kinds = {kind: item for kind, item in changes}
    assert sorted(kinds) == ["delete", "update"]
    assert kinds["update"].subject == "S0 renamed" and kinds["delete"].id == seeded[1]
    assert list(calendar.sync_items()) == []


def test_sync_items_pages_with_max_changes_returned(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box)
    for n in range(7):
        control(
            emulator,
            "events",
            {
                "folder_id": box.mailbox.calendar_id,
                "event": {"subject": f"P{n}", "start": "2026-12-16T08:00:00Z", "end": "2026-12-16T09:00:00Z"},
            },
        )
    emulator.state.requests.clear()
    changes = list(account.calendar.sync_items(max_changes_returned=3))
    assert sorted(i.subject for _, i in changes) == [f"P{n}" for n in range(7)]
    assert emulator.state.requests.count("SyncFolderItems") == 3  # 3 + 3 + 1, the last saying "last in range"
    assert list(account.calendar.sync_items(max_changes_returned=3)) == []


def test_invalid_sync_state_is_reported(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box)
    calendar = account.calendar
    list(calendar.sync_items())
    control(emulator, "invalidate-sync", {})
    with pytest.raises(ErrorInvalidSyncStateData):
        list(calendar.sync_items())
    calendar.item_sync_state = None  # a full resync works again
    assert list(calendar.sync_items()) == []
    control(emulator, "faults", {"invalid_sync_next": 1})
    with pytest.raises(ErrorInvalidSyncStateData):
        list(calendar.sync_items())


# -- recurrence ----------------------------------------------------------------------------------------------
def test_recurring_master_with_modified_and_deleted_occurrences(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box)
    master = CalendarItem(
        account=account,
        folder=account.calendar,
        subject="Weekly lab meeting",
        start=at(1, 9),
        end=at(1, 10),
        recurrence=Recurrence(
            pattern=WeeklyPattern(interval=1, weekdays=[2]), start=dt.date(2026, 12, 1), number=4
        ),
    )
    master.save(send_meeting_invitations=SEND_TO_NONE)

    second = master.occurrence(index=2)
    second.refresh()
    assert second.type == "Occurrence" and second.start == at(8, 9)
    second.start, second.end, second.subject = at(8, 11), at(8, 12), "Lab meeting (late)"
    second.save(update_fields=["start", "end", "subject"], send_meeting_invitations=SEND_TO_NONE)
    master.occurrence(index=3).delete(send_meeting_cancellations=SEND_TO_NONE)

    read = account.calendar.get(id=master.id)
    assert read.type == "RecurringMaster"
    assert read.recurrence.pattern.weekdays == [2] and read.recurrence.boundary.number == 4
    assert [(o.original_start, o.start) for o in read.modified_occurrences] == [(at(8, 9), at(8, 11))]
    assert [d.start for d in read.deleted_occurrences] == [at(15, 9)]
    assert read.first_occurrence.start == at(1, 9) and read.last_occurrence.start == at(22, 9)

    view = list(account.calendar.view(start=at(1, 0), end=at(31, 0)))
    assert [(o.start, o.type, o.subject) for o in view] == [
        (at(1, 9), "Occurrence", "Weekly lab meeting"),
        (at(8, 11), "Exception", "Lab meeting (late)"),
        (at(22, 9), "Occurrence", "Weekly lab meeting"),
    ]
    exception = account.calendar.get(id=read.modified_occurrences[0].id)
    assert exception.type == "Exception" and exception.subject == "Lab meeting (late)"


def test_daily_series_expands_in_its_own_zone_across_dst(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box)
    start = EWSDateTime(2027, 3, 26, 9, 0, tzinfo=PARIS)
    CalendarItem(
        account=account,
        folder=account.calendar,
        subject="Daily stand-up",
        start=start,
        end=start + dt.timedelta(minutes=15),
        recurrence=Recurrence(
            pattern=DailyPattern(interval=1), boundary=NumberedPattern(start=start.date(), number=4)
        ),
    ).save(send_meeting_invitations=SEND_TO_NONE)
    view = list(account.calendar.view(start=start - dt.timedelta(days=1), end=start + dt.timedelta(days=7)))
    assert [o.start.astimezone(PARIS).hour for o in view] == [9, 9, 9, 9]  # the clocks change on the 28th
    assert [o.start.astimezone(EWSTimeZone("UTC")).hour for o in view] == [8, 8, 7, 7]


# -- availability --------------------------------------------------------------------------------------------
def test_get_free_busy_info(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box)
    calendar = box.mailbox.calendar_id
    for subject, start, end, status in (
        ("Busy one", "2026-12-21T09:00:00+01:00", "2026-12-21T10:00:00+01:00", "Busy"),
        ("Maybe", "2026-12-21T11:00:00+01:00", "2026-12-21T11:30:00+01:00", "Tentative"),
        ("Lunch", "2026-12-21T12:00:00+01:00", "2026-12-21T13:00:00+01:00", "Free"),
    ):
        control(
            emulator,
            "events",
            {
                "folder_id": calendar,
                "event": {"subject": subject, "start": start, "end": end, "free_busy": status},
            },
        )
    control(
        emulator,
        "events",
        {
            "folder_id": calendar,
            "event": {
                "subject": "Cancelled",
                "start": "2026-12-21T14:00:00+01:00",
                "end": "2026-12-21T15:00:00+01:00",
                "is_cancelled": True,
            },
        },
    )
    start, end = at(21, 8), at(21, 16)
    views = list(
        account.protocol.get_free_busy_info(
            accounts=[(account, "Organizer", False)],
            start=start,
            end=end,
            merged_free_busy_interval=30,
            requested_view="DetailedMerged",
        )
    )
    assert len(views) == 1
    view = views[0]
    assert view.view_type == "DetailedMerged"
    # 08:00-16:00 Paris in 30-minute slots: busy 09-10, tentative 11-11:30, the rest free
    assert view.merged == "0022" + "0010" + "0000" + "0000"
    events = [(e.start, e.end, e.busy_type, e.details.subject) for e in view.calendar_events]
    assert events == [
        (at(21, 9), at(21, 10), "Busy", "Busy one"),
        (at(21, 11), at(21, 11, 30), "Tentative", "Maybe"),
    ]


# -- faults --------------------------------------------------------------------------------------------------
def test_throttling_surfaces_as_error_server_busy_with_its_back_off(
    emulator: RunningEmulator, box: Box
) -> None:
    account = connect(emulator, box)
    calendar = account.calendar
    control(emulator, "faults", {"busy_next": 1, "back_off_ms": 2500})
    with pytest.raises(ErrorServerBusy) as caught:
        list(calendar.all())
    assert caught.value.back_off == 2.5
    assert list(calendar.all()) == []  # the next call is answered


def test_http_503_surfaces_as_server_busy_with_fail_fast(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box)
    calendar = account.calendar
    control(emulator, "faults", {"fail_next": 1, "status": 503})
    with pytest.raises(ErrorServerBusy):
        list(calendar.all())
    assert list(calendar.all()) == []


def test_folder_class_is_a_calendar_folder(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box)
    assert (
        isinstance(account.calendar, Folder.__mro__[1]) or account.calendar.folder_class == "IPF.Appointment"
    )


def test_series_changed_by_another_client_syncs_as_an_update_of_its_master(
    emulator: RunningEmulator, box: Box
) -> None:
    account = connect(emulator, box)
    series = control(
        emulator,
        "events",
        {
            "folder_id": box.mailbox.calendar_id,
            "event": {
                "subject": "Reading group",
                "start": "2026-12-01T16:00:00+01:00",
                "end": "2026-12-01T17:00:00+01:00",
                "time_zone": "Romance Standard Time",
                "recurrence": {"pattern": "daily", "interval": 2, "count": 5},
            },
        },
    )
    calendar = account.calendar
    assert [(kind, i.type) for kind, i in calendar.sync_items()] == [("create", "RecurringMaster")]
    control(
        emulator,
        f"events/{series['id']}/occurrences",
        {"original_start": "2026-12-03T15:00:00Z", "delete": True},
    )
    control(
        emulator,
        f"events/{series['id']}/occurrences",
        {
            "original_start": "2026-12-05T15:00:00Z",
            "event": {
                "start": "2026-12-05T18:00:00+01:00",
                "end": "2026-12-05T19:00:00+01:00",
                "free_busy": "OOF",
            },
        },
    )
    changes = list(calendar.sync_items())
    assert [(kind, i.id) for kind, i in changes] == [("update", series["id"])]
    master = calendar.get(id=series["id"])
    assert [d.start for d in master.deleted_occurrences] == [at(3, 16)]
    assert [(o.original_start, o.start) for o in master.modified_occurrences] == [(at(5, 16), at(5, 18))]
    views = list(
        account.protocol.get_free_busy_info(
            accounts=[(account, "Organizer", False)], start=at(1, 0), end=at(10, 0), requested_view="FreeBusy"
        )
    )
    assert [(e.start, e.busy_type) for e in views[0].calendar_events] == [
        (at(1, 16), "Busy"),
        (at(5, 18), "OOF"),
        (at(7, 16), "Busy"),
        (at(9, 16), "Busy"),
    ]


def test_mime_content_is_icalendar_with_the_series_exceptions_and_deletions(
    emulator: RunningEmulator, box: Box
) -> None:
    icalendar = pytest.importorskip("icalendar")
    recurring_ical_events = pytest.importorskip("recurring_ical_events")
    account = connect(emulator, box)
    master = CalendarItem(
        account=account,
        folder=account.calendar,
        subject="Seminar",
        start=at(2, 14),
        end=at(2, 15),
        legacy_free_busy_status="Tentative",
        recurrence=Recurrence(
            pattern=WeeklyPattern(interval=1, weekdays=[3]), start=dt.date(2026, 12, 2), number=3
        ),
    )
    master.save(send_meeting_invitations=SEND_TO_NONE)
    moved = master.occurrence(index=2)
    moved.refresh()
    moved.start, moved.end = at(10, 16), at(10, 17)
    moved.save(update_fields=["start", "end"], send_meeting_invitations=SEND_TO_NONE)
    master.occurrence(index=3).delete(send_meeting_cancellations=SEND_TO_NONE)

    read = account.calendar.get(id=master.id)
    calendar = icalendar.Calendar.from_ical(read.mime_content)
    assert [c.get("tzid") for c in calendar.walk("VTIMEZONE")] == ["Romance Standard Time"]
    events = calendar.walk("VEVENT")
    assert {str(e.get("uid")) for e in events} == {read.uid}
    assert str(events[0].get("X-MICROSOFT-CDO-BUSYSTATUS")) == "TENTATIVE"
    expanded = recurring_ical_events.of(calendar).between(dt.datetime(2026, 12, 1), dt.datetime(2026, 12, 31))
    starts = sorted(e.get("dtstart").dt.astimezone(dt.UTC) for e in expanded)
    view = [
        o.start.astimezone(EWSTimeZone("UTC")) for o in account.calendar.view(start=at(1, 0), end=at(31, 0))
    ]
    assert (
        starts
        == [v.replace(tzinfo=dt.UTC) for v in view]
        == [
            dt.datetime(2026, 12, 2, 13, tzinfo=dt.UTC),
            dt.datetime(2026, 12, 10, 15, tzinfo=dt.UTC),
        ]
    )


def test_all_pages_through_a_large_calendar(emulator: RunningEmulator, box: Box) -> None:
    events = [
        {
            "subject": f"B{n:03d}",
            "start": f"2026-12-{1 + n % 28:02d}T10:00:00Z",
            "end": f"2026-12-{1 + n % 28:02d}T11:00:00Z",
        }
        for n in range(250)
    ]
    made = control(emulator, "events", {"folder_id": box.mailbox.calendar_id, "events": events})
    assert len(made["events"]) == 250
    account = connect(emulator, box)
    calendar = account.calendar
    emulator.state.requests.clear()
    subjects = [i.subject for i in calendar.all().only("subject")]
    assert sorted(subjects) == [f"B{n:03d}" for n in range(250)]
    assert emulator.state.requests.count("FindItem") == 3  # exchangelib pages by 100


def test_changing_a_series_pattern_drops_its_exceptions(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box)
    master = CalendarItem(
        account=account,
        folder=account.calendar,
        subject="Standup",
        start=at(1, 9),
        end=at(1, 9, 15),
        recurrence=Recurrence(pattern=DailyPattern(interval=1), start=dt.date(2026, 12, 1), number=5),
    )
    master.save(send_meeting_invitations=SEND_TO_NONE)
    master.occurrence(index=2).delete(send_meeting_cancellations=SEND_TO_NONE)
    master.refresh()
    assert len(master.deleted_occurrences) == 1
    master.recurrence = Recurrence(pattern=DailyPattern(interval=2), start=dt.date(2026, 12, 1), number=3)
    master.save(update_fields=["recurrence"], send_meeting_invitations=SEND_TO_NONE)
    read = account.calendar.get(id=master.id)
    assert read.deleted_occurrences is None and read.modified_occurrences is None
    assert [o.start for o in account.calendar.view(start=at(1, 0), end=at(10, 0))] == [
        at(1, 9),
        at(3, 9),
        at(5, 9),
    ]


def test_impersonating_another_mailbox_is_denied(emulator: RunningEmulator, box: Box) -> None:
    other = emulator.state.add_mailbox(f"other-{box.email}", "Other1!")
    config = Configuration(
        service_endpoint=emulator.ews_url,
        credentials=Credentials(box.logon, box.password),
        auth_type=NTLM,
        retry_policy=FailFast(),
        version=exchangelib.Version(exchangelib.Build(15, 1, 2507, 6)),
    )
    account = Account(other.email, config=config, autodiscover=False, access_type=exchangelib.IMPERSONATION)
    with pytest.raises(exchangelib.errors.ErrorImpersonateUserDenied):
        list(account.calendar.all())


def test_calendar_view_bounds_and_limit(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box)
    for hour in (8, 9, 10, 11):
        control(
            emulator,
            "events",
            {
                "folder_id": box.mailbox.calendar_id,
                "event": {
                    "subject": f"At {hour}",
                    "start": f"2026-12-17T{hour:02d}:00:00+01:00",
                    "end": f"2026-12-17T{hour + 1:02d}:00:00+01:00",
                },
            },
        )
    # documented: an item ending before StartDate is out, one starting at or after EndDate is out
    seen = [i.subject for i in account.calendar.view(start=at(17, 9), end=at(17, 11))]
    assert seen == ["At 8", "At 9", "At 10"]
    assert [i.subject for i in account.calendar.view(start=at(17, 0), end=at(18, 0), max_items=2)] == [
        "At 8",
        "At 9",
    ]


def test_free_busy_of_an_unknown_mailbox_is_an_error_for_that_mailbox(
    emulator: RunningEmulator, box: Box
) -> None:
    account = connect(emulator, box)
    answers = list(
        account.protocol.get_free_busy_info(
            accounts=[(account, "Organizer", False), ("ghost@contoso.example", "Required", False)],
            start=at(21, 8),
            end=at(21, 9),
            requested_view="FreeBusy",
        )
    )
    assert answers[0].view_type == "FreeBusy"
    assert isinstance(answers[1], exchangelib.errors.ErrorMailRecipientNotFound)


def test_a_throttling_storm_fails_every_call_until_it_ends(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box)
    calendar = account.calendar
    control(emulator, "faults", {"error_rate": 1.0, "busy": True})
    for _ in range(3):
        with pytest.raises(ErrorServerBusy):
            list(calendar.sync_items())
    control(emulator, "faults", {"clear": True})
    assert list(calendar.sync_items()) == []


def test_auto_resolve_merges_changes_to_other_properties_never_overwrite_refuses(
    emulator: RunningEmulator, box: Box
) -> None:
    account = connect(emulator, box)
    item = CalendarItem(
        account=account, folder=account.calendar, subject="Pilot", start=at(18, 9), end=at(18, 10)
    )
    item.save(send_meeting_invitations=SEND_TO_NONE)
    stale = account.calendar.get(id=item.id)
    item.subject = "Pilot study"
    item.save(update_fields=["subject"], send_meeting_invitations=SEND_TO_NONE)

    stale.location = "Lab B"  # another property than the one changed since: merged
    stale.save(update_fields=["location"], send_meeting_invitations=SEND_TO_NONE)
    read = account.calendar.get(id=item.id)
    assert (read.subject, read.location) == ("Pilot study", "Lab B")

    stale.changekey = item.changekey  # a version before the location change
    stale.location = "Lab C"
    with pytest.raises(ErrorIrresolvableConflict):  # the same property changed since: a real conflict
        stale.save(update_fields=["location"], send_meeting_invitations=SEND_TO_NONE)
    read.start, read.end = at(18, 11), at(18, 12)
    read.save(update_fields=["start", "end"], send_meeting_invitations=SEND_TO_NONE)
    stale.changekey = item.changekey
    with pytest.raises(ErrorIrresolvableConflict):
        stale.save(
            update_fields=["location"],
            conflict_resolution="NeverOverwrite",
            send_meeting_invitations=SEND_TO_NONE,
        )
