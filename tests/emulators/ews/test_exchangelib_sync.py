"""Fidelity with exchangelib (public API, no patching): incremental SyncFolderItems (paging, invalid
states, changes by another client) and free/busy (GetUserAvailability)."""

from __future__ import annotations

import pytest

exchangelib = pytest.importorskip("exchangelib")

from exchangelib.errors import (  # type: ignore[import-untyped]  # noqa: E402
    ErrorInvalidSyncStateData,
)

from creneau.emulators.ews import RunningEmulator  # noqa: E402
from tests.emulators.ews.client import at, connect, control  # noqa: E402
from tests.emulators.ews.conftest import HTTP, Box  # noqa: E402


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
