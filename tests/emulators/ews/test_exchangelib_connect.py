"""Fidelity with exchangelib (public API, no patching): connecting (NTLM, Basic, guessed auth, wrong or
changed passwords, impersonation), folders and their rights, hierarchy sync, throttling and 5xx."""

from __future__ import annotations

import pytest

exchangelib = pytest.importorskip("exchangelib")

from exchangelib import (  # type: ignore[import-untyped]  # noqa: E402
    BASIC,
    DELEGATE,
    NTLM,
    Account,
    Configuration,
    Credentials,
    FailFast,
)
from exchangelib.errors import (  # type: ignore[import-untyped]  # noqa: E402
    ErrorServerBusy,
    UnauthorizedError,
)

from creneau.emulators.ews import RunningEmulator  # noqa: E402
from tests.emulators.ews.client import connect, control  # noqa: E402
from tests.emulators.ews.conftest import HTTP, Box  # noqa: E402


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


def test_a_throttling_storm_fails_every_call_until_it_ends(emulator: RunningEmulator, box: Box) -> None:
    account = connect(emulator, box)
    calendar = account.calendar
    control(emulator, "faults", {"error_rate": 1.0, "busy": True})
    for _ in range(3):
        with pytest.raises(ErrorServerBusy):
            list(calendar.sync_items())
    control(emulator, "faults", {"clear": True})
    assert list(calendar.sync_items()) == []


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


def test_a_mailbox_that_does_not_exist(emulator: RunningEmulator, box: Box) -> None:
    config = Configuration(
        service_endpoint=emulator.ews_url,
        credentials=Credentials(box.logon, box.password),
        auth_type=NTLM,
        retry_policy=FailFast(),
    )
    account = Account("nobody@contoso.example", config=config, autodiscover=False, access_type=DELEGATE)
    with pytest.raises(exchangelib.errors.ErrorNonExistentMailbox):
        account.calendar.name  # noqa: B018
