"""Jitsi links: shape, unguessability, titles in any script, and base URL checks."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creneau.calendars.conferencing import (
    Conference,
    ConferencingProvider,
    JitsiConferencing,
    default_conferencing,
)
from creneau.calendars.conferencing.jitsi import PREFIX_MAX, RANDOM_BITS, room_prefix

ROOM = re.compile(r"^(?P<prefix>[a-z0-9]+(?:-[a-z0-9]+)*)-(?P<random>[a-z2-7]{24})$")


def room_of(conference: Conference, base: str = "https://meet.example.org") -> re.Match[str]:
    assert conference.join_url.startswith(base + "/")
    room = conference.join_url[len(base) + 1 :]
    match = ROOM.match(room)
    assert match, room
    return match


def test_link_shape() -> None:
    provider = default_conferencing(jitsi_base_url="https://meet.example.org")
    assert isinstance(provider, ConferencingProvider)
    assert provider.name == "jitsi"
    conference = provider.create(booking_key="b-1", title="Entretien utilisateur — appli mobile")
    assert conference.provider == "jitsi"
    match = room_of(conference)
    assert match["prefix"] == "entretien-utilisateur-appli"
    parts = urlsplit(conference.join_url)
    assert (parts.scheme, parts.netloc, parts.query, parts.fragment) == ("https", "meet.example.org", "", "")
    assert RANDOM_BITS >= 96


def test_ten_thousand_links_are_all_different() -> None:
    provider = JitsiConferencing("https://meet.example.org")
    links = {provider.create(booking_key="same", title="Same study").join_url for _ in range(10_000)}
    assert len(links) == 10_000
    # and the random parts differ too, not only something else in the URL
    assert len({link.rsplit("-", 1)[1] for link in links}) == 10_000


@pytest.mark.parametrize(
    ("title", "prefix"),
    [
        ("Étude « café » n°2", "etude-cafe-n2"),
        ("Ça va? Ünïcödé ﬁnal", "ca-va-unicode-final"),
        ("用户研究", "session"),
        ("", "session"),
        ("   --- !!! ", "session"),
        ("Sesión de prueba 🎉 con emoji", "sesion-de-prueba-con-emoji"),
        ("a" * 50, "a" * PREFIX_MAX),
        ("Usability test of the new onboarding flow", "usability-test-of-the-new"),
    ],
)
def test_unicode_titles_give_readable_ascii_prefixes(title: str, prefix: str) -> None:
    assert room_prefix(title) == prefix
    conference = JitsiConferencing("https://meet.example.org").create(booking_key="k", title=title)
    assert room_of(conference)["prefix"] == prefix


@given(st.text())
def test_any_title_gives_a_valid_room(title: str) -> None:
    prefix = room_prefix(title)
    assert 1 <= len(prefix) <= PREFIX_MAX
    assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", prefix)


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://meet.example.org", "https://meet.example.org"),
        ("https://meet.example.org/", "https://meet.example.org"),
        ("https://meet.example.org//", "https://meet.example.org"),
        ("http://127.0.0.1:8443/jitsi/", "http://127.0.0.1:8443/jitsi"),
        ("  https://meet.example.org/rooms  ", "https://meet.example.org/rooms"),
    ],
)
def test_base_url_with_or_without_trailing_slash(base: str, expected: str) -> None:
    url = JitsiConferencing(base).create(booking_key="k", title="Study").join_url
    assert url.startswith(expected + "/study-")
    assert "//" not in url.removeprefix(urlsplit(url).scheme + "://")


@pytest.mark.parametrize(
    ("base", "message"),
    [
        ("", "absolute http"),
        ("meet.example.org", "absolute http"),
        ("ftp://meet.example.org", "absolute http"),
        ("https://", "absolute http"),
        ("https://meet.example.org/?room=1", "query"),
        ("https://meet.example.org/?", "query"),
        ("https://meet.example.org/#x", "fragment"),
        ("https://meet.example.org:port/", "not a valid URL"),
        ("https://[::1/", "not a valid URL"),
        ("https://user:hunter2@meet.example.org/", "user name or password"),
    ],
)
def test_bad_base_url_is_refused_clearly(base: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        default_conferencing(jitsi_base_url=base)
    assert "hunter2" not in str(caught.value)


def test_empty_booking_key_is_refused() -> None:
    with pytest.raises(ValueError, match="booking_key"):
        JitsiConferencing("https://meet.example.org").create(booking_key="", title="Study")
