"""WebDAV/CalDAV XML: request bodies we send and the multistatus answers we read.

Answers are parsed with a parser that resolves no entity and fetches nothing from the network, so a hostile
server cannot make us read local files or expand an entity bomb. Elements are named in Clark notation
(``{DAV:}getetag``); the constants below spell the ones we use.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml import etree

DAV = "DAV:"
CALDAV = "urn:ietf:params:xml:ns:caldav"
CS = "http://calendarserver.org/ns/"
APPLE = "http://apple.com/ns/ical/"
NSMAP = {"D": DAV, "C": CALDAV, "CS": CS, "A": APPLE}


def dav(name: str) -> str:
    return f"{{{DAV}}}{name}"


def cal(name: str) -> str:
    return f"{{{CALDAV}}}{name}"


GETETAG = dav("getetag")
RESOURCETYPE = dav("resourcetype")
DISPLAYNAME = dav("displayname")
CURRENT_USER_PRINCIPAL = dav("current-user-principal")
CURRENT_USER_PRIVILEGE_SET = dav("current-user-privilege-set")
SUPPORTED_REPORT_SET = dav("supported-report-set")
SYNC_TOKEN = dav("sync-token")
CALENDAR_HOME_SET = cal("calendar-home-set")
CALENDAR_USER_ADDRESS_SET = cal("calendar-user-address-set")
SCHEDULE_INBOX_URL = cal("schedule-inbox-URL")  # RFC 6638 §2.2
SCHEDULE_OUTBOX_URL = cal("schedule-outbox-URL")  # RFC 6638 §2.1
CALENDAR_DATA = cal("calendar-data")
CALENDAR_TIMEZONE = cal("calendar-timezone")
SUPPORTED_COMPONENTS = cal("supported-calendar-component-set")
CALENDAR_COLOR = f"{{{APPLE}}}calendar-color"
GETCTAG = f"{{{CS}}}getctag"


class MalformedXML(ValueError):
    """The body is not the XML we expected."""


@dataclass
class DavResponse:
    """One ``<response>`` of a multistatus.

    ``status`` is the response-level status (sync-collection reports a deleted member as 404 there); ``props``
    holds the properties found with a 2xx propstat status, ``missing`` the names the server said it lacks.
    """

    href: str
    status: int | None = None
    props: dict[str, etree._Element] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)

    def text(self, name: str) -> str | None:
        element = self.props.get(name)
        if element is None:
            return None
        value = "".join(str(part) for part in element.itertext()).strip()
        return value or None

    def hrefs(self, name: str) -> list[str]:
        """The ``<href>`` texts inside property ``name`` (current-user-principal, calendar-home-set...)."""
        element = self.props.get(name)
        if element is None:
            return []
        return [(h.text or "").strip() for h in element.iter(dav("href")) if (h.text or "").strip()]

    def children(self, name: str) -> list[str]:
        """Clark names of the child elements of property ``name`` (resourcetype)."""
        element = self.props.get(name)
        return [] if element is None else [str(child.tag) for child in element if isinstance(child.tag, str)]


@dataclass
class MultiStatus:
    responses: list[DavResponse]
    sync_token: str | None = None


def _parser() -> etree.XMLParser:
    # A parser per call: lxml parser objects must not be shared between threads.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def parse(body: bytes) -> etree._Element:
    """:raises MalformedXML: when ``body`` is not well-formed XML."""
    if not body.strip():
        raise MalformedXML("empty body")
    try:
        return etree.fromstring(body, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise MalformedXML(f"not XML: {exc}") from exc


def status_code(text: str | None) -> int | None:
    """``"HTTP/1.1 404 Not Found"`` → 404."""
    parts = (text or "").split()
    if len(parts) >= 2 and parts[1].isdigit():
        return int(parts[1])
    return None


def parse_multistatus(body: bytes) -> MultiStatus:
    """:raises MalformedXML: when ``body`` is not a DAV multistatus."""
    root = parse(body)
    if root.tag != dav("multistatus"):
        raise MalformedXML(f"expected a DAV multistatus, got {root.tag!r}")
    token = (root.findtext(dav("sync-token")) or "").strip()
    responses = [_response(el) for el in root.iterchildren(dav("response"))]
    return MultiStatus(responses=[r for r in responses if r.href], sync_token=token or None)


def _response(element: etree._Element) -> DavResponse:
    href = element.find(dav("href"))
    result = DavResponse(href=(href.text or "").strip() if href is not None else "")
    result.status = status_code(element.findtext(dav("status")))
    for propstat in element.iterchildren(dav("propstat")):
        code = status_code(propstat.findtext(dav("status"))) or 200
        prop = propstat.find(dav("prop"))
        if prop is None:
            continue
        for child in prop:
            if not isinstance(child.tag, str):
                continue
            if 200 <= code < 300:
                result.props[child.tag] = child
            else:
                result.missing.add(child.tag)
    return result


def error_conditions(body: bytes) -> set[str]:
    """Clark names of the preconditions in a ``<DAV:error>`` body (empty when there is none)."""
    try:
        root = parse(body)
    except MalformedXML:
        return set()
    if root.tag != dav("error"):
        return set()
    return {str(child.tag) for child in root if isinstance(child.tag, str)}


# -- request bodies ----------------------------------------------------------------------------------------


def _tostring(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _prop(parent: etree._Element, names: Iterable[str]) -> etree._Element:
    prop = etree.SubElement(parent, dav("prop"))
    for name in names:
        etree.SubElement(prop, name)
    return prop


def propfind(names: Sequence[str]) -> bytes:
    root = etree.Element(dav("propfind"), nsmap=NSMAP)
    _prop(root, names)
    return _tostring(root)


def sync_collection(token: str | None, names: Sequence[str]) -> bytes:
    """RFC 6578 sync-collection, sync-level 1 (direct members); an empty token asks for everything."""
    root = etree.Element(dav("sync-collection"), nsmap=NSMAP)
    etree.SubElement(root, dav("sync-token")).text = token or ""
    etree.SubElement(root, dav("sync-level")).text = "1"
    _prop(root, names)
    return _tostring(root)


def calendar_multiget(hrefs: Iterable[str]) -> bytes:
    """RFC 4791 §7.9 calendar-multiget for etag + calendar-data of ``hrefs``."""
    root = etree.Element(cal("calendar-multiget"), nsmap=NSMAP)
    _prop(root, [GETETAG, CALENDAR_DATA])
    for href in hrefs:
        etree.SubElement(root, dav("href")).text = href
    return _tostring(root)


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar_query(start: datetime, end: datetime) -> bytes:
    """RFC 4791 §7.8 calendar-query: VEVENTs overlapping [start, end), with their (unexpanded) data."""
    root = etree.Element(cal("calendar-query"), nsmap=NSMAP)
    _prop(root, [GETETAG, CALENDAR_DATA])
    vcalendar = etree.SubElement(etree.SubElement(root, cal("filter")), cal("comp-filter"), name="VCALENDAR")
    vevent = etree.SubElement(vcalendar, cal("comp-filter"), name="VEVENT")
    etree.SubElement(vevent, cal("time-range"), start=_utc(start), end=_utc(end))
    return _tostring(root)
