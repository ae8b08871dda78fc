"""SOAP 1.1 envelopes as Exchange 2016 writes them: namespaces, the ``ServerVersionInfo`` header, response
messages (``ResponseClass`` / ``ResponseCode``) and SOAP faults (``ErrorServerBusy`` and its
``BackOffMilliseconds``, schema errors)."""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
E = "http://schemas.microsoft.com/exchange/services/2006/errors"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {"s": SOAP, "t": T, "m": M}

Element = etree._Element

# Exchange Server 2016 CU23 reports this build and, like every 2016/2019 build, a "V2017_07_11" schema
# version that is not valid in a request (clients fall back to the version they asked for).
SERVER_VERSION = {
    "MajorVersion": "15",
    "MinorVersion": "1",
    "MajorBuildNumber": "2507",
    "MinorBuildNumber": "6",
    "Version": "V2017_07_11",
}
ACCEPTED_VERSIONS = frozenset(
    {
        "Exchange2007",
        "Exchange2007_SP1",
        "Exchange2010",
        "Exchange2010_SP1",
        "Exchange2010_SP2",
        "Exchange2013",
        "Exchange2013_SP1",
        "Exchange2015",
        "Exchange2016",
    }
)


class SoapFault(Exception):
    """Answered as a SOAP ``Fault`` (HTTP 500): the whole request failed, not one of its messages."""

    def __init__(self, code: str, message: str, *, values: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.values = code, message, values or {}


class OperationError(Exception):
    """One response message answered with ``ResponseClass="Error"`` and ``code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def t(name: str) -> str:
    return f"{{{T}}}{name}"


def m(name: str) -> str:
    return f"{{{M}}}{name}"


def sub(parent: Element, tag: str, text: str | None = None, **attrs: str | None) -> Element:
    """A child element; attributes given as None are left out."""
    child = etree.SubElement(parent, tag, {k: v for k, v in attrs.items() if v is not None})
    if text is not None:
        child.text = text
    return child


def new(tag: str, text: str | None = None, **attrs: str | None) -> Element:
    element = etree.Element(tag, {k: v for k, v in attrs.items() if v is not None}, nsmap=NSMAP)
    if text is not None:
        element.text = text
    return element


def local(element: Element) -> str:
    return etree.QName(element).localname


def text_of(parent: Element | None, path: str, default: str | None = None) -> str | None:
    if parent is None:
        return default
    found = parent.find(path, NSMAP)
    if found is None or found.text is None:
        return default
    return found.text.strip()


def parse_request(body: bytes) -> tuple[Element | None, Element]:
    """The SOAP header (or None) and the operation element of a request.

    :raises SoapFault: ``ErrorSchemaValidation`` when it is not a SOAP envelope with one operation
    """
    try:
        root = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise SoapFault("ErrorSchemaValidation", f"The request failed schema validation: {exc}") from None
    if root.tag != f"{{{SOAP}}}Envelope":
        raise SoapFault("ErrorSchemaValidation", "The request failed schema validation: no SOAP Envelope.")
    header = root.find(f"{{{SOAP}}}Header")
    body_element = root.find(f"{{{SOAP}}}Body")
    operations = [] if body_element is None else [c for c in body_element if isinstance(c.tag, str)]
    if len(operations) != 1:
        raise SoapFault(
            "ErrorSchemaValidation", "The request failed schema validation: one operation expected."
        )
    return header, operations[0]


def requested_version(header: Element | None) -> str:
    """``RequestServerVersion/@Version`` (Exchange2007_SP1 is what Exchange assumes when it is absent).

    :raises SoapFault: ``ErrorInvalidServerVersion`` for a version this server does not speak
    """
    found = None if header is None else header.find(t("RequestServerVersion"))
    version = "Exchange2007_SP1" if found is None else (found.get("Version") or "")
    if version not in ACCEPTED_VERSIONS:
        raise SoapFault("ErrorInvalidServerVersion", "The specified server version is invalid.")
    return version


def envelope(payload: Element | None) -> bytes:
    root = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"s": SOAP})
    header = sub(root, f"{{{SOAP}}}Header")
    etree.SubElement(header, t("ServerVersionInfo"), SERVER_VERSION, nsmap={"h": T, "xsi": XSI})
    body = sub(root, f"{{{SOAP}}}Body")
    if payload is not None:
        body.append(payload)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def fault_envelope(fault: SoapFault) -> bytes:
    """A SOAP fault as Exchange sends it: ``detail`` holds ``e:ResponseCode``, ``e:Message`` and
    ``t:MessageXml`` (``BackOffMilliseconds`` for throttling)."""
    root = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"s": SOAP})
    body = sub(root, f"{{{SOAP}}}Body")
    element = sub(body, f"{{{SOAP}}}Fault")
    etree.SubElement(element, "faultcode", nsmap={"a": T}).text = f"a:{fault.code}"
    sub(element, "faultstring", fault.message).set("{http://www.w3.org/XML/1998/namespace}lang", "en-US")
    detail = sub(element, "detail")
    etree.SubElement(detail, f"{{{E}}}ResponseCode", nsmap={"e": E}).text = fault.code
    sub(detail, f"{{{E}}}Message", fault.message)
    if fault.values:
        xml = etree.SubElement(detail, t("MessageXml"), nsmap={"t": T})
        for name, value in fault.values.items():
            sub(xml, t("Value"), value, Name=name)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def response(operation: str, messages: Iterable[Element]) -> Element:
    """``<m:{operation}Response><m:ResponseMessages>…`` around ready response messages."""
    wrapper = new(m(f"{operation}Response"))
    container = sub(wrapper, m("ResponseMessages"))
    for message in messages:
        container.append(message)
    return wrapper


def success(operation: str) -> Element:
    message = new(m(f"{operation}ResponseMessage"), ResponseClass="Success")
    sub(message, m("ResponseCode"), "NoError")
    return message


def error(operation: str, exc: OperationError) -> Element:
    message = new(m(f"{operation}ResponseMessage"), ResponseClass="Error")
    sub(message, m("MessageText"), exc.message)
    sub(message, m("ResponseCode"), exc.code)
    sub(message, m("DescriptiveLinkKey"), "0")
    if operation in ("SyncFolderItems", "SyncFolderHierarchy"):  # Exchange sends these even in an error
        sub(message, m("SyncState"))
        sub(
            message,
            m("IncludesLastItemInRange" if operation == "SyncFolderItems" else "IncludesLastFolderInRange"),
            "true",
        )
    return message
