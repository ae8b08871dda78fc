"""The guarded HTTP client: the SSRF guard, redirects we follow ourselves, and error mapping."""

from __future__ import annotations

import ipaddress
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from creneau.calendars.oauth.apps import OAuthApp
from creneau.calendars.oauth.tokens import TokenSet, refresh, revoke
from creneau.calendars.providers import open_provider
from creneau.calendars.providers.base import Connection
from creneau.calendars.providers.http import (
    NetworkPolicy,
    check_address,
    make_client,
    parse_retry_after,
    redact,
    request,
)
from creneau.errors import (
    AddressForbidden,
    AuthFailed,
    ProviderError,
    RateLimited,
    ServerUnreachable,
    TransientProviderError,
)
from tests.providers.conftest import LOOPBACK, Answer, Handler, LocalHTTP
from tests.servers import free_port

ALLOWED = NetworkPolicy(allowed_private_networks=LOOPBACK, timeout=5.0)
DEFAULT = NetworkPolicy(timeout=5.0)


def ok(method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
    return 200, {"Content-Type": "text/plain"}, b"hello"


def get(url: str, policy: NetworkPolicy, method: str = "GET", **kwargs: object) -> httpx.Response:
    with make_client(policy, auth=("alice", "s3cret-pw")) as client:
        return request(client, method, url, policy=policy, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def mock_get() -> Iterator[Callable[[Callable[[httpx.Request], httpx.Response], str], httpx.Response]]:
    def run(handler: Callable[[httpx.Request], httpx.Response], url: str) -> httpx.Response:
        with make_client(
            ALLOWED, auth=("alice", "s3cret-pw"), transport=httpx.MockTransport(handler)
        ) as client:
            return request(client, "GET", url, policy=ALLOWED)

    yield run


# -- the address guard -------------------------------------------------------------------------------------


def test_loopback_is_refused_unless_allowed(local_http: Callable[[Handler], LocalHTTP]) -> None:
    server = local_http(ok)
    with pytest.raises(AddressForbidden, match=r"127\.0\.0\.1"):
        get(server.url, DEFAULT)
    with pytest.raises(AddressForbidden):
        get(server.url.replace("127.0.0.1", "localhost"), DEFAULT)
    assert server.seen == []  # refused before any byte was sent
    assert get(server.url, ALLOWED).text == "hello"


@pytest.mark.parametrize(
    "target",
    [
        "http://10.1.2.3/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:80/",
        "file:///etc/passwd",
    ],
)
def test_redirect_to_a_private_address_is_refused(
    local_http: Callable[[Handler], LocalHTTP], target: str
) -> None:
    server = local_http(lambda *_: (302, {"Location": target}, b""))
    with pytest.raises(AddressForbidden):
        get(server.url, ALLOWED)
    assert len(server.seen) == 1


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("169.254.169.254", False),
        ("224.0.0.1", False),
        ("0.0.0.0", False),  # noqa: S104 - an address we check, not one we bind
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:10.0.0.1", False),  # IPv4-mapped
        ("2002:a00:1::", False),  # 6to4 around 10.0.0.1
    ],
)
def test_check_address(address: str, allowed: bool) -> None:
    ip = ipaddress.ip_address(address)
    if allowed:
        check_address(ip, ())
    else:
        with pytest.raises(AddressForbidden):
            check_address(ip, ())


def test_allowed_network_lets_a_private_address_through() -> None:
    check_address(ipaddress.ip_address("10.20.30.40"), [ipaddress.ip_network("10.20.0.0/16")])
    check_address(ipaddress.ip_address("::ffff:10.20.30.40"), [ipaddress.ip_network("10.20.0.0/16")])
    with pytest.raises(AddressForbidden):
        check_address(ipaddress.ip_address("10.21.0.1"), [ipaddress.ip_network("10.20.0.0/16")])


def test_a_name_that_resolves_to_a_private_address_the_second_time_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: the transport connects only to an address it checked itself."""
    answers = iter(["93.184.216.34", "127.0.0.1", "127.0.0.1"])
    real = socket.getaddrinfo

    def rebinding(host: str, port: object, *args: object, **kwargs: object) -> list[Any]:
        if host != "rebind.example":
            return list(real(host, port, *args, **kwargs))  # type: ignore[arg-type]
        ip = next(answers)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with pytest.raises(AddressForbidden, match=r"127\.0\.0\.1"):
        get("http://rebind.example:1/", DEFAULT)


# -- connection failures and statuses ----------------------------------------------------------------------


def test_unreachable_port_is_server_unreachable() -> None:
    with pytest.raises(ServerUnreachable) as caught:
        get(f"http://127.0.0.1:{free_port()}/", ALLOWED)
    assert "s3cret-pw" not in str(caught.value)


def test_dns_failure_is_server_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: object, **kwargs: object) -> list[object]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(ServerUnreachable, match="cannot resolve"):
        get("https://caldav.nowhere.example/", DEFAULT)


def test_a_silent_server_times_out_as_server_unreachable() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts the connection in the kernel, never answers
        policy = NetworkPolicy(allowed_private_networks=LOOPBACK, timeout=0.3)
        with pytest.raises(ServerUnreachable, match="did not answer in time"):
            get(f"http://127.0.0.1:{listener.getsockname()[1]}/", policy)


def test_429_with_retry_after_is_rate_limited(mock_get: Callable[..., httpx.Response]) -> None:
    with pytest.raises(RateLimited) as caught:
        mock_get(lambda r: httpx.Response(429, headers={"Retry-After": "120"}), "http://127.0.0.1/")
    assert caught.value.retry_after == 120.0


def test_503_with_retry_after_is_rate_limited_and_without_it_transient(
    mock_get: Callable[..., httpx.Response],
) -> None:
    with pytest.raises(RateLimited) as caught:
        mock_get(lambda r: httpx.Response(503, headers={"Retry-After": "7"}), "http://127.0.0.1/")
    assert caught.value.retry_after == 7.0
    with pytest.raises(TransientProviderError):
        mock_get(lambda r: httpx.Response(503), "http://127.0.0.1/")
    with pytest.raises(TransientProviderError):
        mock_get(lambda r: httpx.Response(500), "http://127.0.0.1/")


def test_client_errors_are_returned_for_the_caller_to_judge(mock_get: Callable[..., httpx.Response]) -> None:
    assert mock_get(lambda r: httpx.Response(404), "http://127.0.0.1/").status_code == 404


def test_parse_retry_after() -> None:
    now = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("30", now=now) == 30.0
    assert parse_retry_after("Tue, 01 Jan 2030 12:01:00 GMT", now=now) == 60.0
    assert parse_retry_after("Tue, 01 Jan 2030 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None


# -- redirects ---------------------------------------------------------------------------------------------


def test_propfind_keeps_its_method_and_body_through_a_301(local_http: Callable[[Handler], LocalHTTP]) -> None:
    bodies: list[bytes] = []

    def handler(method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        if path == "/.well-known/caldav":
            return 301, {"Location": "/dav/"}, b""
        bodies.append(body)
        return 207, {"Content-Type": "application/xml"}, b"<multistatus xmlns='DAV:'/>"

    server = local_http(handler)
    response = get(server.url + ".well-known/caldav", ALLOWED, method="PROPFIND", content=b"<propfind/>")
    assert response.status_code == 207
    assert str(response.url) == server.url + "dav/"
    assert [(m, p) for m, p, _ in server.seen] == [("PROPFIND", "/.well-known/caldav"), ("PROPFIND", "/dav/")]
    assert bodies == [b"<propfind/>"]


def test_303_turns_into_a_get(local_http: Callable[[Handler], LocalHTTP]) -> None:
    server = local_http(lambda m, p, h, b: (303, {"Location": "/done"}, b"") if p == "/" else ok(m, p, h, b))
    get(server.url, ALLOWED, method="POST", content=b"x")
    assert [m for m, _, _ in server.seen] == ["POST", "GET"]


def test_a_redirect_loop_stops(local_http: Callable[[Handler], LocalHTTP]) -> None:
    server = local_http(lambda *_: (302, {"Location": "/again"}, b""))
    with pytest.raises(TransientProviderError, match="redirects"):
        get(server.url, ALLOWED)
    assert len(server.seen) == 6  # the first request and five redirects


def test_credentials_do_not_follow_a_plain_http_redirect_to_another_origin(
    local_http: Callable[[Handler], LocalHTTP],
) -> None:
    other = local_http(ok)
    first = local_http(lambda *_: (302, {"Location": other.url}, b""))
    get(first.url, ALLOWED)
    assert "authorization" in first.seen[0][2]
    assert "authorization" not in other.seen[0][2]


def test_redact_drops_user_info_and_query() -> None:
    assert redact("https://alice:pw@example.org/dav/?token=x") == "https://example.org/dav/"


def test_credentials_go_in_clear_only_to_the_trusted_origin() -> None:
    seen: list[bool] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append("authorization" in request.headers)
        return httpx.Response(200)

    with make_client(ALLOWED, auth=("alice", "pw"), transport=httpx.MockTransport(server)) as client:
        for url in ("http://127.0.0.1:8080/a", "http://127.0.0.2:8080/b", "https://127.0.0.2/c"):
            request(client, "GET", url, policy=ALLOWED, trusted_origin="http://127.0.0.1:8080/")
    assert seen == [True, False, True]


# -- a kept-alive connection the server drops --------------------------------------------------------------


class DroppingServer:
    """Answers the first request of each connection (keeping it alive) and drops the connection when its
    second request arrives — what a server whose idle limit ends just as we reuse the connection does.
    ``reset``: an RST (ECONNRESET on our side) rather than an orderly close.
    ``seen``: (connection number, method) of each request received."""

    def __init__(self, *, reset: bool) -> None:
        self.reset = reset
        self.seen: list[tuple[int, str]] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        number = 0
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            number += 1
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        with conn, conn.makefile("rb") as stream:
            for answered in (True, False):
                method = self._read_request(stream)
                if method is None:
                    return
                self.seen.append((number, method))
                if answered:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
            if self.reset:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    @staticmethod
    def _read_request(stream: Any) -> str | None:
        request_line = stream.readline()
        if not request_line:
            return None
        length = 0
        while (line := stream.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        stream.read(length)
        return str(request_line.split()[0].decode())

    def close(self) -> None:
        self.listener.close()


@pytest.fixture(params=[False, True], ids=["closed", "reset"])
def dropping(request: pytest.FixtureRequest) -> Iterator[DroppingServer]:
    server = DroppingServer(reset=request.param)
    yield server
    server.close()


@pytest.mark.parametrize(
    ("method", "idempotent"), [("GET", None), ("REPORT", None), ("PROPFIND", None), ("POST", True)]
)
def test_a_read_is_sent_again_when_a_reused_connection_breaks(
    dropping: DroppingServer, method: str, idempotent: bool | None
) -> None:
    with make_client(ALLOWED, auth=None) as client:
        first = request(client, method, dropping.url, policy=ALLOWED, content=b"<q/>", idempotent=idempotent)
        second = request(client, method, dropping.url, policy=ALLOWED, content=b"<q/>", idempotent=idempotent)
    assert (first.text, second.text) == ("hello", "hello")
    # the second went out on the kept-alive connection, was dropped, and was answered on a new one
    assert dropping.seen == [(1, method), (1, method), (2, method)]


@pytest.mark.parametrize("method", ["PUT", "DELETE", "POST", "PATCH"])
def test_a_write_is_never_sent_twice(dropping: DroppingServer, method: str) -> None:
    with make_client(ALLOWED, auth=None) as client:
        request(client, method, dropping.url, policy=ALLOWED, content=b"x")
        with pytest.raises(TransientProviderError, match=r"the connection to .* failed"):
            request(client, method, dropping.url, policy=ALLOWED, content=b"x")
    assert dropping.seen == [(1, method), (1, method)]  # the caller decides (the outbox finds a create again)


# -- an OAuth account's stored token blob -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["google", "msgraph"])
@pytest.mark.parametrize("secret", ["", "not json", "[]", '{"refresh_token": "r"}', '{"access_token": 42}'])
def test_an_unreadable_token_blob_asks_for_a_reconnect_before_any_request(
    local_http: Callable[[Handler], LocalHTTP], kind: str, secret: str
) -> None:
    server = local_http(ok)
    with pytest.raises(AuthFailed, match="reconnect the account"):
        open_provider(kind, Connection(server.url, "a@example.org", secret), policy=ALLOWED)
    assert server.seen == []
    good = Connection(server.url, "a@example.org", '{"access_token": "t", "refresh_token": "r"}')
    assert good.access_token() == "t"


# -- token endpoints go through the same guarded client ------------------------------------------------------


def _app(token_url: str, network: NetworkPolicy) -> OAuthApp:
    return OAuthApp(
        connector="google",
        provider="google",
        client_id="client",
        client_secret="client-s3cr3t",
        authorize_url=token_url,
        token_url=token_url,
        revoke_url=token_url,
        api_url=token_url,
        scope="email",
        network=network,
    )


def test_a_token_endpoint_in_a_forbidden_network_is_never_called(
    local_http: Callable[[Handler], LocalHTTP],
) -> None:
    server = local_http(
        lambda m, p, h, b: (200, {"Content-Type": "application/json"}, b'{"access_token": "a"}')
    )
    stored = TokenSet("a", "r", None)
    with pytest.raises(AddressForbidden, match=r"127\.0\.0\.1"):
        refresh(_app(server.url + "token", DEFAULT), stored)
    assert revoke(_app(server.url + "revoke", DEFAULT), stored) is False
    assert server.seen == []
    renewed = refresh(_app(server.url + "token", ALLOWED), stored)  # the operator allowed loopback
    assert renewed.access_token == "a" and renewed.refresh_token == "r"
    assert [(m, p) for m, p, _ in server.seen] == [("POST", "/token")]


def test_a_token_endpoint_redirect_is_not_followed_with_the_secrets(
    local_http: Callable[[Handler], LocalHTTP],
) -> None:
    elsewhere = local_http(lambda m, p, h, b: (200, {}, b'{"access_token": "stolen"}'))
    server = local_http(lambda m, p, h, b: (307, {"Location": elsewhere.url + "steal"}, b""))
    with pytest.raises(ProviderError, match="HTTP 307"):
        refresh(_app(server.url + "token", ALLOWED), TokenSet("a", "r", None))
    assert elsewhere.seen == []
