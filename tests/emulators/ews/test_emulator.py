"""The emulator on the wire, without a client library: SOAP envelopes and faults as Exchange writes them,
NTLM verified against the password, the control API's answers, what sync and availability return."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from lxml import etree

from creneau.emulators.ews import RunningEmulator, ntlm
from creneau.emulators.ews.soap import E, M, T
from tests.emulators.ews.conftest import HTTP, Box

NS = {"s": "http://schemas.xmlsoap.org/soap/envelope/", "t": T, "m": M, "e": E}


def soap(body: str, version: str = "Exchange2016") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:t="{T}" xmlns:m="{M}">'
        f'<s:Header><t:RequestServerVersion Version="{version}"/></s:Header>'
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def call(emulator: RunningEmulator, box: Box, body: str, **kwargs: Any) -> httpx.Response:
    return HTTP.post(
        emulator.ews_url,
        content=soap(body, **kwargs),
        headers={"Content-Type": "text/xml; charset=utf-8"},
        auth=(box.logon, box.password),
        timeout=10,
    )


def xml(response: httpx.Response) -> Any:
    return etree.fromstring(response.content)


def seed(emulator: RunningEmulator, folder_id: str, **event: Any) -> dict[str, Any]:
    answer = HTTP.post(
        f"{emulator.url}/_emulator/events", json={"folder_id": folder_id, "event": event}, timeout=10
    )
    answer.raise_for_status()
    result: dict[str, Any] = answer.json()
    return result


SYNC = (
    "<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>"
    '<m:SyncFolderId><t:DistinguishedFolderId Id="calendar"/></m:SyncFolderId>{state}'
    "<m:MaxChangesReturned>{limit}</m:MaxChangesReturned></m:SyncFolderItems>"
)


# -- NTLM ----------------------------------------------------------------------------------------------------
def test_md4_matches_rfc_1320() -> None:
    assert ntlm.nt_hash("").hex() == "31d6cfe0d16ae931b73c59d7e0c089c0"  # MD4 of nothing
    assert ntlm.nt_hash("Password").hex() == "a4f49c406510bdcab6824ee7c30fd852"  # a well-known NT hash


def test_ntlmv2_answer_of_a_real_client_is_verified_against_the_password() -> None:
    spnego = pytest.importorskip("spnego")
    client = spnego.client("CONTOSO\\ada", "Secret1!", protocol="ntlm")
    pending = ntlm.challenge(client.step(), domain="CONTOSO", computer="EXCH01", dns_domain="contoso.example")
    answer = ntlm.parse_authenticate(client.step(pending.message))
    assert (answer.user, answer.domain) == ("ada", "CONTOSO")
    assert answer.verify("Secret1!", pending) is True
    assert answer.verify("Secret1?", pending) is False
    other = ntlm.challenge(
        spnego.client("CONTOSO\\ada", "x", protocol="ntlm").step(),
        domain="C",
        computer="E",
        dns_domain="c.example",
    )
    assert answer.verify("Secret1!", other) is False  # bound to the challenge it answered


def test_401_advertises_the_schemes(emulator: RunningEmulator, box: Box) -> None:
    response = HTTP.post(emulator.ews_url, content=soap("<m:GetFolder/>"), timeout=10)
    assert response.status_code == 401
    assert response.headers.get_list("www-authenticate") == [
        "Negotiate",
        "NTLM",
        'Basic realm="mail.contoso.example"',
    ]


def test_basic_with_a_wrong_password_is_401(emulator: RunningEmulator, box: Box) -> None:
    response = HTTP.post(
        emulator.ews_url, content=soap("<m:GetFolder/>"), auth=(box.logon, "nope"), timeout=10
    )
    assert response.status_code == 401


# -- SOAP ----------------------------------------------------------------------------------------------------
def test_answers_carry_server_version_info(emulator: RunningEmulator, box: Box) -> None:
    response = call(
        emulator,
        box,
        "<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>"
        '<m:FolderIds><t:DistinguishedFolderId Id="calendar"/></m:FolderIds></m:GetFolder>',
    )
    assert response.status_code == 200
    root = xml(response)
    info = root.find("s:Header/t:ServerVersionInfo", NS)
    assert info.get("MajorVersion") == "15" and info.get("MinorVersion") == "1"
    folder = root.find(".//m:Folders/t:CalendarFolder", NS)
    assert folder.findtext("t:DisplayName", namespaces=NS) == "Calendar"
    assert root.find(".//m:GetFolderResponseMessage", NS).get("ResponseClass") == "Success"


def test_unknown_server_version_is_a_fault(emulator: RunningEmulator, box: Box) -> None:
    response = call(emulator, box, "<m:GetFolder/>", version="Exchange2099")
    assert response.status_code == 500
    assert xml(response).findtext(".//e:ResponseCode", namespaces=NS) == "ErrorInvalidServerVersion"


def test_throttling_fault_carries_back_off_milliseconds(emulator: RunningEmulator, box: Box) -> None:
    HTTP.post(f"{emulator.url}/_emulator/faults", json={"busy_next": 1, "back_off_ms": 750}, timeout=10)
    response = call(emulator, box, "<m:GetFolder/>")
    assert response.status_code == 500
    fault = xml(response).find("s:Body/s:Fault", NS)
    assert fault.findtext("detail/e:ResponseCode", namespaces=NS) == "ErrorServerBusy"
    value = fault.find("detail/t:MessageXml/t:Value", NS)
    assert (value.get("Name"), value.text) == ("BackOffMilliseconds", "750")


def test_5xx_and_slow_answers(emulator: RunningEmulator, box: Box) -> None:
    HTTP.post(f"{emulator.url}/_emulator/faults", json={"fail_next": 2, "status": 502}, timeout=10)
    assert [call(emulator, box, "<m:GetFolder/>").status_code for _ in range(3)] == [502, 502, 200]
    HTTP.post(f"{emulator.url}/_emulator/faults", json={"delay": 2.0}, timeout=10)
    with pytest.raises(httpx.ReadTimeout):
        HTTP.post(
            emulator.ews_url, content=soap("<m:GetFolder/>"), auth=(box.logon, box.password), timeout=0.3
        )


def test_random_errors_at_a_rate(emulator: RunningEmulator, box: Box) -> None:
    HTTP.post(f"{emulator.url}/_emulator/faults", json={"error_rate": 0.5, "status": 503}, timeout=10)
    statuses = [call(emulator, box, "<m:GetFolder/>").status_code for _ in range(40)]
    assert 5 < statuses.count(503) < 35 and statuses.count(200) == 40 - statuses.count(503)


# -- items and sync ------------------------------------------------------------------------------------------
def test_times_are_utc_and_zones_are_windows_names(emulator: RunningEmulator, box: Box) -> None:
    made = seed(
        emulator,
        box.mailbox.calendar_id,
        subject="Paris",
        start="2026-12-03T10:00:00+01:00",
        end="2026-12-03T11:00:00+01:00",
        time_zone="Europe/Paris",
    )
    response = call(
        emulator,
        box,
        "<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape>"
        f'<m:ItemIds><t:ItemId Id="{made["id"]}"/></m:ItemIds></m:GetItem>',
    )
    item = xml(response).find(".//t:CalendarItem", NS)
    assert item.findtext("t:Start", namespaces=NS) == "2026-12-03T09:00:00Z"
    assert item.find("t:StartTimeZone", NS).get("Id") == "Romance Standard Time"
    assert item.findtext("t:CalendarItemType", namespaces=NS) == "Single"
    assert item.findtext("t:UID", namespaces=NS) == made["uid"]


def test_no_change_resync_returns_nothing_and_stays_small(emulator: RunningEmulator, box: Box) -> None:
    for n in range(30):
        seed(
            emulator,
            box.mailbox.calendar_id,
            subject=f"S{n}",
            start="2026-12-03T10:00:00Z",
            end="2026-12-03T11:00:00Z",
        )
    first = xml(call(emulator, box, SYNC.format(state="", limit=512)))
    assert len(first.findall(".//m:Changes/t:Create", NS)) == 30
    state = first.findtext(".//m:SyncState", namespaces=NS)
    again = call(emulator, box, SYNC.format(state=f"<m:SyncState>{state}</m:SyncState>", limit=512))
    root = xml(again)
    assert list(root.find(".//m:Changes", NS)) == []
    assert root.findtext(".//m:IncludesLastItemInRange", namespaces=NS) == "true"
    assert len(again.content) < 2000  # a quiet resync does not grow with the calendar


def test_sync_state_of_another_folder_or_garbage_is_invalid(emulator: RunningEmulator, box: Box) -> None:
    for state in ("bm90IGEgc3RhdGU=", "%%%"):
        root = xml(call(emulator, box, SYNC.format(state=f"<m:SyncState>{state}</m:SyncState>", limit=10)))
        message = root.find(".//m:SyncFolderItemsResponseMessage", NS)
        assert message.get("ResponseClass") == "Error"
        assert message.findtext("m:ResponseCode", namespaces=NS) == "ErrorInvalidSyncStateData"


def test_max_changes_returned_out_of_range_is_a_schema_error(emulator: RunningEmulator, box: Box) -> None:
    response = call(emulator, box, SYNC.format(state="", limit=513))
    assert response.status_code == 500
    assert xml(response).findtext(".//e:ResponseCode", namespaces=NS) == "ErrorSchemaValidation"


def test_get_server_time_zones_describes_dst_rules(emulator: RunningEmulator, box: Box) -> None:
    root = xml(
        call(
            emulator,
            box,
            '<m:GetServerTimeZones ReturnFullTimeZoneData="true"><m:Ids>'
            "<t:Id>Romance Standard Time</t:Id></m:Ids></m:GetServerTimeZones>",
        )
    )
    definition = root.find(".//t:TimeZoneDefinition", NS)
    assert definition.get("Id") == "Romance Standard Time"
    biases = {p.get("Name"): p.get("Bias") for p in definition.findall("t:Periods/t:Period", NS)}
    assert biases == {"Standard": "-PT1H", "Daylight": "-PT2H"}
    rules = [
        (
            r.findtext("t:Month", namespaces=NS),
            r.findtext("t:DayOfWeek", namespaces=NS),
            r.findtext("t:Occurrence", namespaces=NS),
            r.findtext("t:TimeOffset", namespaces=NS),
        )
        for r in definition.findall(".//t:RecurringDayTransition", NS)
    ]
    assert rules == [("3", "Sunday", "-1", "PT2H"), ("10", "Sunday", "-1", "PT3H")]


# -- control API ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("mailboxes", {"email": "x@contoso.example"}),
        (
            "events",
            {
                "folder_id": "nope",
                "event": {"subject": "x", "start": "2026-12-01T00:00:00Z", "end": "2026-12-01T01:00:00Z"},
            },
        ),
        ("password", {"email": "ghost@contoso.example", "password": "x"}),
        ("auth", {"schemes": ["Kerberos"]}),
    ],
)
def test_control_api_answers_400_to_bad_input(
    emulator: RunningEmulator, path: str, body: dict[str, Any]
) -> None:
    response = HTTP.post(f"{emulator.url}/_emulator/{path}", json=body, timeout=10)
    assert response.status_code == 400 and response.json()["error"]


def test_control_event_needs_times(emulator: RunningEmulator, box: Box) -> None:
    response = HTTP.post(
        f"{emulator.url}/_emulator/events",
        json={"folder_id": box.mailbox.calendar_id, "event": {"subject": "x"}},
        timeout=10,
    )
    assert response.status_code == 400 and "start" in response.json()["error"]


def test_basic_credentials_are_not_echoed(emulator: RunningEmulator, box: Box) -> None:
    token = base64.b64encode(f"{box.logon}:{box.password}".encode()).decode()
    response = HTTP.post(
        emulator.ews_url,
        content=soap("<m:GetFolder/>"),
        headers={"Authorization": f"Basic {token}"},
        timeout=10,
    )
    assert box.password not in response.text


MALFORMED = [
    "<m:FindItem Traversal='Shallow'><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>"
    "<m:IndexedPageItemView MaxEntriesReturned='many' Offset='0' BasePoint='Beginning'/>"
    "<m:ParentFolderIds><t:DistinguishedFolderId Id='calendar'/></m:ParentFolderIds></m:FindItem>",
    "<m:FindItem Traversal='Shallow'><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>"
    "<m:CalendarView StartDate='soon' EndDate='later'/>"
    "<m:ParentFolderIds><t:DistinguishedFolderId Id='calendar'/></m:ParentFolderIds></m:FindItem>",
    "<m:FindFolder Traversal='Deep'><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>"
    "<m:IndexedPageFolderView MaxEntriesReturned='x'/>"
    "<m:ParentFolderIds><t:DistinguishedFolderId Id='msgfolderroot'/></m:ParentFolderIds></m:FindFolder>",
    "<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId/></m:ItemIds></m:GetItem>",
    "<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>"
    "<m:ItemIds><t:OccurrenceItemId RecurringMasterId='x' InstanceIndex='first'/></m:ItemIds></m:GetItem>",
    "<m:CreateItem SendMeetingInvitations='SendToNone'><m:Items><t:CalendarItem><t:Subject>x</t:Subject>"
    "<t:Start>nope</t:Start><t:End>nope</t:End></t:CalendarItem></m:Items></m:CreateItem>",
    "<m:CreateItem SendMeetingInvitations='SendToNone'><m:Items><t:CalendarItem>"
    "<t:Start>2026-12-01T10:00:00Z</t:Start><t:End>2026-12-01T09:00:00Z</t:End></t:CalendarItem></m:Items></m:CreateItem>",
    "<m:CreateItem SendMeetingInvitations='SendToNone'><m:Items><t:CalendarItem>"
    "<t:Start>2026-12-01T10:00:00Z</t:Start><t:End>2026-12-01T11:00:00Z</t:End><t:Recurrence><t:WeeklyRecurrence><t:Interval>0</t:Interval>"
    "<t:DaysOfWeek>Funday</t:DaysOfWeek></t:WeeklyRecurrence><t:NoEndRecurrence><t:StartDate>2026-12-01</t:StartDate>"
    "</t:NoEndRecurrence></t:Recurrence></t:CalendarItem></m:Items></m:CreateItem>",
    "<m:UpdateItem ConflictResolution='AlwaysOverwrite'><m:ItemChanges><t:ItemChange><t:ItemId Id='nope'/>"
    "</t:ItemChange></m:ItemChanges></m:UpdateItem>",
    "<m:DeleteItem DeleteType='HardDelete'><m:ItemIds><t:ItemId Id='AAMk'/></m:ItemIds></m:DeleteItem>",
    "<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>"
    "<m:MaxChangesReturned>10</m:MaxChangesReturned></m:SyncFolderItems>",
    "<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:SyncFolderId>"
    "<t:DistinguishedFolderId Id='calendar'/></m:SyncFolderId>"
    "<m:MaxChangesReturned>ten</m:MaxChangesReturned></m:SyncFolderItems>",
    "<m:GetUserAvailabilityRequest><t:TimeZone><t:Bias>x</t:Bias></t:TimeZone><m:MailboxDataArray/>"
    "<t:FreeBusyViewOptions><t:TimeWindow><t:StartTime>then</t:StartTime><t:EndTime>now</t:EndTime></t:TimeWindow>"
    "</t:FreeBusyViewOptions></m:GetUserAvailabilityRequest>",
    "<m:GetServerTimeZones><m:Ids><t:Id>Mars Standard Time</t:Id></m:Ids></m:GetServerTimeZones>",
    "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>"
    "<m:FolderIds><t:DistinguishedFolderId Id='nowhere'/></m:FolderIds></m:GetFolder>",
    "<m:Frobnicate/>",
]


@pytest.mark.parametrize("body", MALFORMED)
def test_a_request_it_cannot_serve_gets_an_ews_error_never_a_crash(
    emulator: RunningEmulator, box: Box, body: str
) -> None:
    response = call(emulator, box, body)
    root = xml(response)  # always SOAP, never a bare "Internal Server Error"
    if response.status_code == 500:
        assert root.findtext(".//e:ResponseCode", namespaces=NS)
    else:
        assert response.status_code == 200
        classes = {e.get("ResponseClass") for e in root.iter() if e.get("ResponseClass")}
        assert classes == {"Error"}


def test_not_xml_is_a_schema_fault(emulator: RunningEmulator, box: Box) -> None:
    response = HTTP.post(emulator.ews_url, content=b"<<<", auth=(box.logon, box.password))
    assert response.status_code == 500
    assert xml(response).findtext(".//e:ResponseCode", namespaces=NS) == "ErrorSchemaValidation"


def test_control_api_refuses_a_body_that_is_not_json(emulator: RunningEmulator) -> None:
    response = HTTP.post(f"{emulator.url}/_emulator/mailboxes", content=b"{not json")
    assert response.status_code == 400
