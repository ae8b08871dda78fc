"""SOAP Autodiscover (``/autodiscover/autodiscover.svc``, GetUserSettings) as Exchange 2016 answers it:
settings for the emulator's mailboxes (``ExternalEwsUrl``/``InternalEwsUrl`` point at this server as the
client reached it), ``InvalidUser`` for an unknown address, ``RedirectAddress`` for an address the control
API redirects, and HTTP 302 for a host the control API redirects (what clients meet on
``http://autodiscover.<domain>/``)."""

from __future__ import annotations

from lxml import etree
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from creneau.emulators.ews.auth import Denied, authenticate
from creneau.emulators.ews.soap import SERVER_VERSION, SOAP, XSI, Element, SoapFault, parse_request, sub

A = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
WSA = "http://www.w3.org/2005/08/addressing"
SCHEMAS = (
    "Exchange2007, Exchange2007_SP1, Exchange2010, Exchange2010_SP1, Exchange2010_SP2, Exchange2013, "
    "Exchange2013_SP1, Exchange2015, Exchange2016"
)
_XML = "text/xml; charset=utf-8"


def _a(name: str) -> str:
    return f"{{{A}}}{name}"


def _settings(request: Request, email: str, display_name: str, server: str) -> dict[str, str]:
    origin = f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"
    ews = f"{origin}/EWS/Exchange.asmx"
    user = email.split("@")[0]
    return {
        "UserDisplayName": display_name,
        "UserDN": f"/o=First Organization/ou=Exchange Administrative Group/cn=Recipients/cn={user}",
        "UserDeploymentId": "649a7c9a-3a6c-4b61-9c43-5a0fbcbf4f12",
        "InternalMailboxServer": f"{server.lower()}.{email.split('@')[1]}",
        "MailboxDN": f"/o=First Organization/ou=Exchange Administrative Group/cn=Configuration/cn={server}",
        "ActiveDirectoryServer": f"dc01.{email.split('@')[1]}",
        "CasVersion": "15.01.2507.006",
        "EwsSupportedSchemas": SCHEMAS,
        "InternalEwsUrl": ews,
        "ExternalEwsUrl": ews,
        "ExternalEwsVersion": "15.01.2507.006",
        "AutoDiscoverSMTPAddress": email,
        "InternalOABUrl": f"{origin}/OAB/",
        "ExternalMailboxServer": request.headers.get("host", request.url.netloc).split(":")[0],
    }


def _envelope(body: Element) -> bytes:
    root = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"s": SOAP, "a": WSA})
    header = sub(root, f"{{{SOAP}}}Header")
    action = sub(header, f"{{{WSA}}}Action", f"{A}/Autodiscover/GetUserSettingsResponse")
    action.set(f"{{{SOAP}}}mustUnderstand", "1")
    info = etree.SubElement(header, _a("ServerVersionInfo"), nsmap={"h": A, "i": XSI})
    for name in ("MajorVersion", "MinorVersion", "MajorBuildNumber", "MinorBuildNumber"):
        sub(info, _a(name), SERVER_VERSION[name])
    sub(info, _a("Version"), "Exchange2015")
    sub(root, f"{{{SOAP}}}Body").append(body)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def _user_response(request: Request, users: Element, address: str, wanted: list[str]) -> None:
    state = request.app.state.ews
    answer = sub(users, _a("UserResponse"))
    redirect = state.autodiscover_redirects.get(address.casefold())
    with state.lock:
        mailbox = state.mailboxes.get(address.casefold())
    if redirect:
        sub(answer, _a("ErrorCode"), "RedirectAddress")
        sub(answer, _a("ErrorMessage"), "Redirection address.")
        sub(answer, _a("RedirectTarget"), redirect)
        sub(answer, _a("UserSettingErrors"))
        sub(answer, _a("UserSettings"))
        return
    if mailbox is None:
        sub(answer, _a("ErrorCode"), "InvalidUser")
        sub(answer, _a("ErrorMessage"), f"Invalid user: '{address}'")
        sub(answer, _a("RedirectTarget")).set(f"{{{XSI}}}nil", "true")
        sub(answer, _a("UserSettingErrors"))
        sub(answer, _a("UserSettings"))
        return
    values = _settings(request, mailbox.email, mailbox.display_name, state.server_name)
    sub(answer, _a("ErrorCode"), "NoError")
    sub(answer, _a("ErrorMessage"), "No error.")
    sub(answer, _a("RedirectTarget")).set(f"{{{XSI}}}nil", "true")
    errors = sub(answer, _a("UserSettingErrors"))
    settings = sub(answer, _a("UserSettings"))
    for name in wanted:
        if name in values:
            setting = sub(settings, _a("UserSetting"))
            setting.set(f"{{{XSI}}}type", "StringSetting")
            sub(setting, _a("Name"), name)
            sub(setting, _a("Value"), values[name])
        else:
            failed = sub(errors, _a("UserSettingError"))
            sub(failed, _a("ErrorCode"), "SettingIsNotAvailable")
            sub(failed, _a("ErrorMessage"), f"User setting '{name}' is not available. ")
            sub(failed, _a("SettingName"), name)


async def autodiscover_svc(request: Request) -> Response:
    state = request.app.state.ews
    host = request.headers.get("host", "").split(":")[0].casefold()
    if host in state.autodiscover_host_redirects:
        return RedirectResponse(state.autodiscover_host_redirects[host], status_code=302)
    if request.method != "POST":
        return Response(b"", status_code=405)
    body = await request.body()
    client = request.scope.get("client") or ("", 0)
    who = authenticate(state, (str(client[0]), int(client[1])), request.headers.get("authorization", ""))
    if isinstance(who, Denied):
        response = Response(b"", status_code=401)
        for challenge in who.challenges:
            response.headers.append("WWW-Authenticate", challenge)
        return response
    state.record("GetUserSettings")
    try:
        _, operation = parse_request(body)
    except SoapFault:
        return Response(b"", status_code=400)
    wrapper = etree.Element(_a("GetUserSettingsResponseMessage"), nsmap={None: A, "i": XSI})  # type: ignore[dict-item]
    answer = sub(wrapper, _a("Response"))
    sub(answer, _a("ErrorCode"), "NoError")
    sub(answer, _a("ErrorMessage"), "")
    users = sub(answer, _a("UserResponses"))
    wanted = [s.text.strip() for s in operation.iter(_a("Setting")) if s.text]
    for mailbox in operation.iter(_a("Mailbox")):
        _user_response(request, users, (mailbox.text or "").strip(), wanted)
    return Response(_envelope(wrapper), media_type=_XML)


ROUTES = [
    Route("/autodiscover/autodiscover.svc", autodiscover_svc, methods=["GET", "POST", "HEAD"]),
    Route("/Autodiscover/Autodiscover.svc", autodiscover_svc, methods=["GET", "POST", "HEAD"]),
]
