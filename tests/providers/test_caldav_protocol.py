"""CalDAV answers the two real servers never give: truncated sync reports, servers without sync-collection,
PUT answers without ETag, UID conflicts, hostile XML, odd discovery answers.

Each test is a tiny handler (``httpx.MockTransport``) playing the server; the behaviour under test is the
provider's answer, not the requests it made (except where the number of requests is the point).
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest
from lxml import etree

from creneau.calendars.providers.base import Connection, EventDraft
from creneau.calendars.providers.caldav import CalDAVProvider, writes
from creneau.calendars.providers.caldav.cursor import Cursor, decode
from creneau.calendars.providers.http import NetworkPolicy
from creneau.errors import (
    AddressForbidden,
    AuthExpired,
    AuthFailed,
    NotCalDAV,
    PreconditionFailed,
    ServerUnreachable,
    SyncCursorInvalid,
)
from tests.providers.conftest import LOOPBACK, Answer, Handler, LocalHTTP
from tests.providers.contract import DAY, ics
from tests.servers import free_port

BASE = "http://127.0.0.1:8080"
CAL = BASE + "/dav/cal/"
POLICY = NetworkPolicy(allowed_private_networks=LOOPBACK, timeout=5.0)
NS = 'xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/"'


def xml_response(body: str, status: int = 207) -> httpx.Response:
    return httpx.Response(status, content=body.encode(), headers={"Content-Type": "application/xml"})


def multistatus(*responses: str, token: str | None = None) -> httpx.Response:
    sync = f"<d:sync-token>{token}</d:sync-token>" if token else ""
    return xml_response(
        f'<?xml version="1.0"?><d:multistatus {NS}>{"".join(responses)}{sync}</d:multistatus>'
    )


def member(href: str, props: str = "", status: int = 200) -> str:
    return (
        f"<d:response><d:href>{href}</d:href><d:propstat><d:prop>{props}</d:prop>"
        f"<d:status>HTTP/1.1 {status} OK</d:status></d:propstat></d:response>"
    )


def with_status(href: str, status: int) -> str:
    return f"<d:response><d:href>{href}</d:href><d:status>HTTP/1.1 {status} X</d:status></d:response>"


def error(condition: str, status: int) -> httpx.Response:
    return xml_response(f"<d:error {NS}><{condition}/></d:error>", status)


def body_hrefs(request: httpx.Request) -> list[str]:
    root = etree.fromstring(request.content)
    return [h.text or "" for h in root.iter("{DAV:}href")]


@dataclass
class FakeCalendar:
    """A calendar collection: objects by href, a ctag, and whether sync-collection is known."""

    objects: dict[str, tuple[str, str]] = field(default_factory=dict)  # href → (etag, ics)
    ctag: str = "ctag-1"
    sync_answer: Callable[[httpx.Request], httpx.Response] | None = None
    log: list[str] = field(default_factory=list)

    def add(self, name: str, etag: str) -> str:
        href = f"/dav/cal/{name}.ics"
        self.objects[href] = (etag, ics(name, DAY))
        return href

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = request.content.decode()
        kind = request.method + (" sync" if "sync-collection" in body else "")
        kind += " multiget" if "calendar-multiget" in body else ""
        kind += f" depth={request.headers.get('Depth')}" if request.method == "PROPFIND" else ""
        self.log.append(kind)
        if "sync-collection" in body:
            assert self.sync_answer is not None
            return self.sync_answer(request)
        if "calendar-multiget" in body:
            return multistatus(*(self._data(h) for h in body_hrefs(request)))
        if request.method == "PROPFIND" and request.headers.get("Depth") == "0":
            return multistatus(member("/dav/cal/", f"<cs:getctag>{self.ctag}</cs:getctag>"))
        if request.method == "PROPFIND":
            listing = [member(h, f"<d:getetag>{e}</d:getetag>") for h, (e, _) in self.objects.items()]
            return multistatus(
                member("/dav/cal/", "<d:resourcetype><d:collection/></d:resourcetype>"), *listing
            )
        raise AssertionError(f"unexpected {request.method} {request.url}")

    def _data(self, href: str) -> str:
        if href not in self.objects:
            return with_status(href, 404)
        etag, text = self.objects[href]
        return member(href, f"<d:getetag>{etag}</d:getetag><c:calendar-data>{text}</c:calendar-data>")


def provider_for(handler: Callable[[httpx.Request], httpx.Response], **options: object) -> CalDAVProvider:
    connection = Connection(server_url=BASE + "/", username="alice", secret="pw")
    return CalDAVProvider(connection, policy=POLICY, transport=httpx.MockTransport(handler), **options)  # type: ignore[arg-type]


# -- sync-collection ---------------------------------------------------------------------------------------


def test_a_truncated_sync_report_is_followed_with_the_token_it_returned() -> None:
    calendar = FakeCalendar()
    hrefs = [calendar.add(f"ev{i}", f'"e{i}"') for i in range(5)]
    pages = {"": (hrefs[:2], "t1", True), "t1": (hrefs[2:4], "t2", True), "t2": (hrefs[4:], "t3", False)}

    def sync(request: httpx.Request) -> httpx.Response:
        token = etree.fromstring(request.content).findtext("{DAV:}sync-token") or ""
        page, next_token, truncated = pages[token]
        items = [member(h, f"<d:getetag>{calendar.objects[h][0]}</d:getetag>") for h in page]
        if truncated:
            items.append(with_status("/dav/cal/", 507))
        return multistatus(*items, token=next_token)

    calendar.sync_answer = sync
    changes = provider_for(calendar).pull_changes(CAL, cursor=None, known_etags={})
    assert changes.full
    assert sorted(e.remote_id for e in changes.upserted) == hrefs
    assert dataclasses.replace(decode(changes.cursor or ""), checked=None) == Cursor(mode="sync", token="t3")
    assert calendar.log.count("REPORT sync") == 3
    assert calendar.log.count("REPORT multiget") == 1


def test_a_member_deleted_between_listing_and_download_is_reported_deleted() -> None:
    calendar = FakeCalendar()
    kept = calendar.add("kept", '"1"')
    vanished = "/dav/cal/vanished.ics"
    calendar.sync_answer = lambda r: multistatus(
        member(kept, '<d:getetag>"1"</d:getetag>'),
        member(vanished, '<d:getetag>"2"</d:getetag>'),
        with_status("/dav/cal/old.ics", 404),
        token="t9",
    )
    cursor = Cursor(mode="sync", token="t8").encode()
    known = {vanished: '"0"', "/dav/cal/old.ics": '"0"'}
    changes = provider_for(calendar).pull_changes(CAL, cursor=cursor, known_etags=known)
    assert not changes.full
    assert [e.remote_id for e in changes.upserted] == [kept]
    assert sorted(changes.deleted) == ["/dav/cal/old.ics", vanished]


def test_an_object_the_server_does_not_return_is_bad_not_lost() -> None:
    calendar = FakeCalendar()
    good = calendar.add("good", '"1"')
    ghost = calendar.add("ghost", '"2"')
    calendar.sync_answer = lambda r: multistatus(
        member(good, '<d:getetag>"1"</d:getetag>'), member(ghost, '<d:getetag>"2"</d:getetag>'), token="t1"
    )

    def server(request: httpx.Request) -> httpx.Response:
        if b"calendar-multiget" in request.content:  # the answer leaves the ghost out
            etag, text = calendar.objects[good]
            return multistatus(
                member(good, f"<d:getetag>{etag}</d:getetag><c:calendar-data>{text}</c:calendar-data>")
            )
        return calendar(request)

    changes = provider_for(server).pull_changes(CAL, cursor=None, known_etags={})
    assert [e.remote_id for e in changes.upserted] == [good]
    assert [b.remote_id for b in changes.bad] == [ghost]


@pytest.fixture(autouse=True)
def _no_recorded_servers() -> Iterator[None]:
    """Servers recorded as ignoring preconditions (writes.py) are per process: none leaks between tests."""
    writes.forget_untrusted()
    yield
    writes.forget_untrusted()


def test_an_event_made_again_with_the_etag_it_had_is_downloaded_again() -> None:
    """SOGo's etags count versions: an event deleted and made again at the same href is "gcs00000000" again,
    and the incremental report lists it. Holding that etag must not keep the old content."""
    calendar = FakeCalendar()
    again = calendar.add("again", '"gcs00000000"')
    same = calendar.add("same", '"e-1"')
    calendar.sync_answer = lambda r: multistatus(
        member(again, '<d:getetag>"gcs00000000"</d:getetag>'),
        member(same, '<d:getetag>"e-1"</d:getetag>'),  # a content etag we hold: not downloaded
        token="t2",
    )
    known = {again: '"gcs00000000"', same: '"e-1"'}
    provider = provider_for(calendar, check_preconditions=False)
    changes = provider.pull_changes(CAL, cursor=Cursor(mode="sync", token="t1").encode(), known_etags=known)
    assert [e.remote_id for e in changes.upserted] == [again]
    assert changes.unchanged == [same]


@dataclass
class CarelessServer:
    """One event answered as SOGo 5 does: ``If-None-Match: *`` and ``If-Match`` are ignored."""

    text: str | None = None
    version: int = 0
    log: list[str] = field(default_factory=list)

    def etag(self) -> str:
        return f'"gcs{self.version:08d}"'

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.log.append(request.method)
        if request.method == "PUT":
            existed = self.text is not None
            self.text, self.version = request.content.decode(), self.version + existed
            return httpx.Response(204 if existed else 201, headers={"ETag": self.etag()})
        if request.method == "DELETE":
            existed, self.text = self.text is not None, None
            return httpx.Response(204 if existed else 404)
        if request.method == "PROPFIND" and self.text is not None:
            return multistatus(member(str(request.url.path), f"<d:getetag>{self.etag()}</d:getetag>"))
        if request.method == "PROPFIND":
            return httpx.Response(404)
        raise AssertionError(f"unexpected {request.method}")


def test_a_server_that_ignores_preconditions_is_checked_before_a_retry_and_a_stale_delete() -> None:
    server = CarelessServer()
    host = BASE
    provider = provider_for(server)
    draft = EventDraft(uid="booking-7", summary="Booked", start=DAY, end=DAY + timedelta(hours=1))
    written = provider.create_event(host + "/dav/cal/", draft)
    server.text, server.version = "changed by the user", 1  # the user edits the event
    again = provider.create_event(host + "/dav/cal/", draft)  # the outbox retries
    assert again.remote_id == written.remote_id
    assert server.text == "changed by the user"
    with pytest.raises(PreconditionFailed):
        provider.delete_event(host + "/dav/cal/", written.remote_id, etag=written.etag)
    assert server.text == "changed by the user"
    assert server.log == ["PUT", "PROPFIND", "PROPFIND"]


@pytest.mark.parametrize(
    "refusal",
    [
        lambda: error("d:valid-sync-token", 403),
        lambda: error("d:valid-sync-token", 412),
        lambda: httpx.Response(412),
    ],
)
def test_a_refused_token_is_sync_cursor_invalid(refusal: Callable[[], httpx.Response]) -> None:
    calendar = FakeCalendar(sync_answer=lambda r: refusal())
    with pytest.raises(SyncCursorInvalid):
        provider_for(calendar).pull_changes(
            CAL, cursor=Cursor(mode="sync", token="old").encode(), known_etags={}
        )


# -- the ctag / etag fallback ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "refusal",
    [lambda: error("d:supported-report", 403), lambda: httpx.Response(501), lambda: httpx.Response(400)],
)
def test_without_sync_collection_the_ctag_scheme_is_used(refusal: Callable[[], httpx.Response]) -> None:
    calendar = FakeCalendar(sync_answer=lambda r: refusal())
    a, b = calendar.add("a", '"a1"'), calendar.add("b", '"b1"')
    provider = provider_for(calendar)

    first = provider.pull_changes(CAL, cursor=None, known_etags={})
    assert first.full and sorted(e.remote_id for e in first.upserted) == [a, b]
    assert decode(first.cursor or "").mode == "ctag"

    calendar.log.clear()
    same = provider.pull_changes(CAL, cursor=first.cursor, known_etags={a: '"a1"', b: '"b1"'})
    assert not same.full and not same.upserted and not same.deleted
    assert calendar.log == ["PROPFIND depth=0"]  # one request, and no sync-collection asked again

    calendar.ctag = "ctag-2"
    calendar.objects[b] = ('"b2"', ics("b", DAY, summary="changed"))
    del calendar.objects[a]
    c = calendar.add("c", '"c1"')
    calendar.log.clear()
    moved = provider.pull_changes(CAL, cursor=same.cursor, known_etags={a: '"a1"', b: '"b1"'})
    assert moved.full
    assert sorted(e.remote_id for e in moved.upserted) == [b, c]
    assert moved.unchanged == []
    assert calendar.log == ["PROPFIND depth=0", "PROPFIND depth=1", "REPORT multiget"]


def test_supported_report_set_spares_the_failed_attempt() -> None:
    calendar = FakeCalendar(sync_answer=lambda r: pytest.fail("sync-collection must not be asked"))
    calendar.add("a", '"a1"')

    def server(request: httpx.Request) -> httpx.Response:
        if request.method == "PROPFIND" and request.url.path == "/dav/":
            reports = "<d:supported-report><d:report><c:calendar-multiget/></d:report></d:supported-report>"
            return multistatus(
                member(
                    "/dav/cal/",
                    "<d:resourcetype><d:collection/><c:calendar/></d:resourcetype>"
                    f"<d:supported-report-set>{reports}</d:supported-report-set>",
                )
            )
        return calendar(request)

    connection = Connection(server_url=BASE + "/", username="alice", secret="pw", home_url=BASE + "/dav/")
    provider = CalDAVProvider(connection, policy=POLICY, transport=httpx.MockTransport(server))
    assert [c.remote_id for c in provider.list_calendars()] == [CAL]
    assert len(provider.pull_changes(CAL, cursor=None, known_etags={}).upserted) == 1


# -- calendars ---------------------------------------------------------------------------------------------

VTIMEZONE = "BEGIN:VCALENDAR&#13;\nBEGIN:VTIMEZONE&#13;\nTZID:{tzid}&#13;\nEND:VTIMEZONE&#13;\nEND:VCALENDAR"


def test_list_calendars_reads_names_colours_rights_and_time_zones() -> None:
    def calendar(href: str, extra: str, components: str | None = "VEVENT") -> str:
        comps = (
            ""
            if components is None
            else (
                "<c:supported-calendar-component-set>"
                + "".join(f'<c:comp name="{c}"/>' for c in components.split(","))
                + "</c:supported-calendar-component-set>"
            )
        )
        return member(href, f"<d:resourcetype><d:collection/><c:calendar/></d:resourcetype>{comps}{extra}")

    home = multistatus(
        member("/dav/", "<d:resourcetype><d:collection/></d:resourcetype>"),
        calendar(
            "/dav/work/",
            '<d:displayname>Work</d:displayname><x:calendar-color xmlns:x="http://apple.com/ns/ical/">'
            "#AABBCCDD</x:calendar-color>"
            f"<c:calendar-timezone>{VTIMEZONE.format(tzid='Europe/Paris')}</c:calendar-timezone>",
        ),
        calendar(
            "/dav/My%20Cal/",
            "<d:current-user-privilege-set><d:privilege><d:read/></d:privilege>"
            "</d:current-user-privilege-set>"
            f"<c:calendar-timezone>{VTIMEZONE.format(tzid='W. Europe Standard Time')}</c:calendar-timezone>",
            components=None,
        ),
        calendar("/dav/tasks/", "<d:displayname>Tasks</d:displayname>", components="VTODO"),
        member("/dav/contacts/", "<d:resourcetype><d:collection/></d:resourcetype>"),
    )
    connection = Connection(server_url=BASE + "/", username="alice", secret="pw", home_url=BASE + "/dav/")
    provider = CalDAVProvider(connection, policy=POLICY, transport=httpx.MockTransport(lambda r: home))
    found = {c.remote_id: c for c in provider.list_calendars()}
    assert set(found) == {BASE + "/dav/work/", BASE + "/dav/My%20Cal/"}
    work, mine = found[BASE + "/dav/work/"], found[BASE + "/dav/My%20Cal/"]
    assert (work.name, work.color, work.read_only, work.timezone) == (
        "Work",
        "#aabbcc",
        False,
        "Europe/Paris",
    )
    assert (mine.name, mine.color, mine.read_only, mine.timezone) == ("My Cal", None, True, None)


def test_entities_in_server_xml_are_never_expanded() -> None:
    hostile = (
        '<?xml version="1.0"?><!DOCTYPE d:multistatus [<!ENTITY xxe SYSTEM "file:///etc/passwd">'
        '<!ENTITY lol "lollollollollollollollollol">]>'
        f"<d:multistatus {NS}><d:response><d:href>/dav/cal/</d:href><d:propstat><d:prop>"
        "<d:resourcetype><d:collection/><c:calendar/></d:resourcetype>"
        "<d:displayname>&xxe;&lol;</d:displayname></d:prop><d:status>HTTP/1.1 200 OK</d:status>"
        "</d:propstat></d:response></d:multistatus>"
    )
    connection = Connection(server_url=BASE + "/", username="alice", secret="pw", home_url=BASE + "/dav/")
    provider = CalDAVProvider(
        connection, policy=POLICY, transport=httpx.MockTransport(lambda r: xml_response(hostile))
    )
    names = [c.name for c in provider.list_calendars()]
    assert names and not any("root:" in n or "lollol" in n for n in names)


# -- writes ------------------------------------------------------------------------------------------------

DRAFT = EventDraft(uid="booking-1", summary="Session", start=DAY, end=DAY.replace(hour=1))


def test_a_put_answer_without_etag_is_completed_by_a_propfind() -> None:
    seen: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        if request.method == "PUT":
            assert request.headers["If-None-Match"] == "*"
            return httpx.Response(201)
        return multistatus(member(request.url.path, '<d:getetag>"fresh"</d:getetag>'))

    written = provider_for(server).create_event(CAL, DRAFT)
    assert written.remote_id == "/dav/cal/booking-1.ics"
    assert written.etag == '"fresh"'
    assert seen == ["PUT", "PROPFIND"]


def test_a_uid_held_elsewhere_returns_that_event() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            conflict = "<c:no-uid-conflict><d:href>/dav/cal/imported-7.ics</d:href></c:no-uid-conflict>"
            return xml_response(f"<d:error {NS}>{conflict}</d:error>", 409)
        return multistatus(member(request.url.path, '<d:getetag>"old"</d:getetag>'))

    written = provider_for(server).create_event(CAL, DRAFT)
    assert written.remote_id == "/dav/cal/imported-7.ics"
    assert written.etag == '"old"'


# -- discovery ---------------------------------------------------------------------------------------------


def discover(url: str, policy: NetworkPolicy = POLICY, **connection: str) -> None:
    provider = CalDAVProvider(
        Connection(server_url=url, username="alice", secret="pw", **connection), policy=policy
    )
    try:
        provider.discover()
    finally:
        provider.close()


def test_a_web_page_is_not_caldav(local_http: Callable[[Handler], LocalHTTP]) -> None:
    server = local_http(lambda *_: (200, {"Content-Type": "text/html"}, b"<!doctype html><h1>Welcome</h1>"))
    with pytest.raises(NotCalDAV, match="web page"):
        discover(server.url)


def test_a_host_answering_404_everywhere_is_not_caldav(local_http: Callable[[Handler], LocalHTTP]) -> None:
    server = local_http(lambda *_: (404, {"Content-Type": "text/plain"}, b"no"))
    with pytest.raises(NotCalDAV, match="404"):
        discover(server.url + "dav/")
    assert [p for _, p, _ in server.seen] == ["/.well-known/caldav", "/dav/", "/"]


def test_webdav_without_calendars_is_not_caldav(local_http: Callable[[Handler], LocalHTTP]) -> None:
    principal = (
        f"<d:multistatus {NS}><d:response><d:href>/</d:href><d:propstat><d:prop><d:current-user-principal>"
        "<d:href>/users/alice/</d:href></d:current-user-principal></d:prop>"
        "<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>"
    ).encode()

    def handler(method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        if path == "/users/alice/":
            return (
                207,
                {},
                f"<d:multistatus {NS}>{with_status(path, 200)}</d:multistatus>".encode(),
            )
        return 207, {"DAV": "1, 2"}, principal

    with pytest.raises(NotCalDAV, match="calendar"):
        discover(local_http(handler).url)


def test_a_failing_well_known_does_not_stop_discovery(local_http: Callable[[Handler], LocalHTTP]) -> None:
    home = "<c:calendar-home-set><d:href>/cal/alice/</d:href></c:calendar-home-set>"
    address = (
        "<c:calendar-user-address-set><d:href>mailto:Alice@Example.ORG</d:href></c:calendar-user-address-set>"
    )

    def handler(method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        if path == "/.well-known/caldav":
            return 500, {}, b"oops"
        props = (
            f"<d:current-user-principal><d:href>/p/alice/</d:href></d:current-user-principal>{home}{address}"
        )
        return 207, {}, f"<d:multistatus {NS}>{member(path, props)}</d:multistatus>".encode()

    server = local_http(handler)
    provider = CalDAVProvider(Connection(server_url=server.url, username="alice", secret="pw"), policy=POLICY)
    info = provider.discover()
    assert info.principal_url == server.url + "p/alice/"
    assert info.home_url == server.url + "cal/alice/"
    assert info.email_addresses == ("alice@example.org",)


def test_unreachable_and_private_servers_are_told_apart() -> None:
    with pytest.raises(ServerUnreachable):
        discover(f"http://127.0.0.1:{free_port()}/")
    with pytest.raises(AddressForbidden):
        discover("http://192.168.1.10/", policy=NetworkPolicy())


def test_icloud_refusal_mentions_app_specific_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    def public(host: str, port: object, *args: object, **kwargs: object) -> list[object]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("17.248.128.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", public)
    connection = Connection(
        server_url="https://caldav.icloud.com", username="a@icloud.com", secret="apple-id-pw"
    )
    provider = CalDAVProvider(
        connection, policy=NetworkPolicy(), transport=httpx.MockTransport(lambda r: httpx.Response(401))
    )
    with pytest.raises(AuthFailed, match="app-specific password") as caught:
        provider.discover()
    assert not isinstance(caught.value, AuthExpired)
    assert "apple-id-pw" not in str(caught.value)


def test_a_refusal_after_discovery_asks_to_reconnect() -> None:
    connection = Connection(
        server_url=BASE + "/",
        username="alice",
        secret="changed",
        principal_url=BASE + "/p/",
        home_url=BASE + "/h/",
    )
    provider = CalDAVProvider(
        connection, policy=POLICY, transport=httpx.MockTransport(lambda r: httpx.Response(401))
    )
    with pytest.raises(AuthExpired, match="reconnect"):
        provider.list_calendars()


def test_cursor_round_trip() -> None:
    for cursor in (
        Cursor(mode="sync", token="http://radicale.org/ns/sync/abc"),
        Cursor(mode="ctag", ctag=None),
    ):
        assert decode(cursor.encode()) == cursor
    assert Cursor(mode="sync", token="t").encode() == '{"v":1,"mode":"sync","token":"t"}'
    for broken in ("", "[]", '{"v":1,"mode":"sync"}', '{"v":1,"mode":"other"}'):
        with pytest.raises(SyncCursorInvalid):
            decode(broken)
