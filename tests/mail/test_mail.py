"""Booking emails end to end: composed, sent through a real SMTP server (aiosmtpd), read back as received.

Also: the .ics invitation on its own (fields, UTC, UID kept by CANCEL, any text survives a round trip), the
failures ``send()`` reports (transient or not), AUTH, STARTTLS and implicit TLS with a private CA.
"""

from __future__ import annotations

import email
import email.policy
import logging
import socket
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from icalendar import Calendar, Event

from creneau.mail import MailNotSent, MailSettings, booking_email, invitation, send
from creneau.mail.ics import common_name
from tests.mail.conftest import PASSWORD, USERNAME, SmtpServer, TlsFiles

# aiosmtpd warns about the plain-text AUTH server some tests start on purpose
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2025, 6, 3, 14, 0, tzinfo=PARIS)  # 12:00 UTC, a Tuesday
END = START + timedelta(hours=1)
STAMP = datetime(2025, 5, 20, 9, 30, tzinfo=UTC)
UID = "booking-42@creneau.test"
JOIN = "https://meet.example.org/entretien-usager-abcdefghijklmnopqrstuvwx"
CANCEL = "https://creneau.example.org/b/tok123/cancel?lang=fr&x=1"
RESCHEDULE = "https://creneau.example.org/b/tok123/reschedule"
PARTICIPANT = "zoe.martin@example.org"

Kind = Literal["confirmed", "rescheduled", "cancelled"]
Locale = Literal["fr", "en"]

# what a participant must read, per email
EXPECTED: dict[tuple[str, str], dict[str, str]] = {
    ("confirmed", "fr"): {"subject": "Session confirmée : Entretien usager", "body": "est confirmée"},
    ("rescheduled", "fr"): {"subject": "Session déplacée : Entretien usager", "body": "a changé d'horaire"},
    ("cancelled", "fr"): {"subject": "Session annulée : Entretien usager", "body": "est annulée"},
    ("confirmed", "en"): {"subject": "Session confirmed: Entretien usager", "body": "is confirmed"},
    ("rescheduled", "en"): {"subject": "Session rescheduled: Entretien usager", "body": "has moved"},
    ("cancelled", "en"): {"subject": "Session cancelled: Entretien usager", "body": "is cancelled"},
}
DATES = {"fr": ("mardi 3 juin 2025", "de 14:00 à 15:00"), "en": ("Tuesday, June 3, 2025", "2:00")}


def make_ics(method: Literal["REQUEST", "CANCEL"] = "REQUEST", sequence: int = 0, **overrides: Any) -> bytes:
    values: dict[str, Any] = {
        "uid": UID,
        "sequence": sequence,
        "method": method,
        "start": START,
        "end": END,
        "summary": "Entretien usager — Appli mobile",
        "description": "Étude « Appli mobile »\nLien : " + JOIN,
        "location": JOIN,
        "url": JOIN,
        "organizer_email": "claire@lab.example.org",
        "organizer_name": "Claire Dupont",
        "attendee_email": PARTICIPANT,
        "attendee_name": "Zoé Martin",
        "stamp": STAMP,
    }
    values.update(overrides)
    return invitation(**values)


def make_email(kind: Kind, locale: Locale, *, sequence: int = 0, **overrides: Any) -> EmailMessage:
    values: dict[str, Any] = {
        "kind": kind,
        "locale": locale,
        "to": f"Zoé Martin <{PARTICIPANT}>",
        "sender": "Créneau <noreply@creneau.test>",
        "participant_name": "Zoé",
        "study_name": "Appli mobile",
        "session_name": "Entretien usager",
        "start_local": START,
        "end_local": END,
        "timezone_label": "heure de Paris" if locale == "fr" else "Paris time",
        "location": "",
        "join_url": JOIN,
        "cancel_url": CANCEL,
        "reschedule_url": RESCHEDULE,
        "ics": make_ics("CANCEL" if kind == "cancelled" else "REQUEST", sequence),
    }
    values.update(overrides)
    return booking_email(**values)


def parts(message: EmailMessage) -> tuple[str, str, Calendar, EmailMessage]:
    """The plain text, the HTML, the parsed .ics and its MIME part of a received message."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert isinstance(text, EmailMessage) and isinstance(html, EmailMessage)
    attachments = list(message.iter_attachments())
    assert len(attachments) == 1
    ics_part = attachments[0]
    assert isinstance(ics_part, EmailMessage)
    payload = ics_part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return text.get_content(), html.get_content(), Calendar.from_ical(payload), ics_part


def only_event(calendar: Calendar) -> Event:
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, Event)
    return event


# --- booking emails through a real SMTP server ---------------------------------------------------------


@pytest.mark.parametrize("locale", ["fr", "en"])
@pytest.mark.parametrize("kind", ["confirmed", "rescheduled", "cancelled"])
def test_booking_email_arrives_as_the_participant_reads_it(
    smtp_server: Callable[..., SmtpServer], kind: Kind, locale: Locale
) -> None:
    server = smtp_server()
    send(server.settings(), make_email(kind, locale, study_name="Appli <mobile> & co"))

    assert len(server.received) == 1
    received = server.received[0]
    assert received.rcpt_tos == [PARTICIPANT]
    assert received.mail_from == "noreply@creneau.test"
    message = received.message
    expected = EXPECTED[kind, locale]
    assert message["Subject"].startswith(expected["subject"])
    assert message["To"].addresses[0].addr_spec == PARTICIPANT
    assert message["Content-Language"] == locale
    assert message["Message-ID"].endswith("@creneau.test>")
    text, html, calendar, ics_part = parts(message)

    day, hours = DATES[locale]
    for body in (text, html):
        assert expected["body"] in body
        assert day in body and hours in body
        assert ("Zoé" in body) and ("Bonjour" in body if locale == "fr" else "Hello" in body)
    assert day in message["Subject"]
    assert "Appli <mobile> & co" in text
    assert "Appli &lt;mobile&gt; &amp; co" in html and "<mobile>" not in html
    if locale == "fr":
        assert "Lien de visio-conférence" in text or kind == "cancelled"
    else:
        assert "PM" in text

    if kind == "cancelled":
        for body in (text, html):
            assert JOIN not in body and "tok123" not in body
    else:
        assert JOIN in text and f'href="{JOIN}"' in html
        assert CANCEL in text and RESCHEDULE in text
        assert f'href="{CANCEL.replace("&", "&amp;")}"' in html and f'href="{RESCHEDULE}"' in html

    method = "CANCEL" if kind == "cancelled" else "REQUEST"
    assert ics_part.get_content_type() == "text/calendar"
    assert ics_part.get_param("method") == method and ics_part.get_param("charset") == "utf-8"
    assert ics_part.get_filename() == "invitation.ics"
    assert calendar["METHOD"] == method
    event = only_event(calendar)
    assert str(event["UID"]) == UID
    assert event.decoded("DTSTART") == START and event.decoded("DTEND") == END
    assert str(event["URL"]) == JOIN
    assert str(event["STATUS"]) == ("CANCELLED" if kind == "cancelled" else "CONFIRMED")


def test_confirm_reschedule_cancel_is_one_event_for_the_mail_client(
    smtp_server: Callable[..., SmtpServer],
) -> None:
    server = smtp_server()
    send(server.settings(), make_email("confirmed", "fr", sequence=0))
    send(server.settings(), make_email("rescheduled", "fr", sequence=1))
    send(server.settings(), make_email("cancelled", "fr", sequence=2))

    events = [only_event(parts(r.message)[2]) for r in server.received]
    assert [str(e["UID"]) for e in events] == [UID, UID, UID]
    assert [e.decoded("SEQUENCE") for e in events] == [0, 1, 2]
    assert [str(e["STATUS"]) for e in events] == ["CONFIRMED", "CONFIRMED", "CANCELLED"]
    assert len({r.message["Message-ID"] for r in server.received}) == 3


def test_reply_to_and_overnight_session(smtp_server: Callable[..., SmtpServer]) -> None:
    server = smtp_server()
    late = datetime(2025, 6, 3, 23, 0, tzinfo=PARIS)
    message = make_email(
        "confirmed",
        "fr",
        start_local=late,
        end_local=late + timedelta(hours=2),
        location="Salle\n3, bâtiment B",
        reply_to="claire@lab.example.org",
        ics=make_ics(start=late, end=late + timedelta(hours=2)),
    )
    send(server.settings(), message)
    received = server.received[0].message
    assert received["Reply-To"] == "claire@lab.example.org"
    text, html, _, _ = parts(received)
    assert "Du mardi 3 juin 2025 à 23:00 au mercredi 4 juin 2025 à 01:00" in text
    assert "Lieu : Salle 3, bâtiment B" in text
    assert "Répondez simplement à cet e-mail" in text and "Répondez simplement" in html


NAME = st.lists(
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)
    | st.sampled_from(["\n", "\t", " ", "=?utf-8?q?x?="]),
    max_size=8,
).map("".join)


@given(session_name=NAME, locale=st.sampled_from(["fr", "en"]))
def test_subject_survives_transmission_exactly(session_name: str, locale: Locale) -> None:
    message = make_email("confirmed", locale, session_name=session_name)
    subject = str(message["Subject"])
    assert "\n" not in subject and " ".join(session_name.split()) in subject
    raw = message.as_bytes(policy=email.policy.SMTP)
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(parsed["Subject"]) == subject


def test_email_refuses_an_ics_with_the_wrong_method() -> None:
    with pytest.raises(ValueError, match="METHOD"):
        make_email("cancelled", "en", ics=make_ics("REQUEST"))
    with pytest.raises(ValueError, match="METHOD"):
        make_email("confirmed", "en", ics=make_ics("CANCEL"))


# --- failures ---------------------------------------------------------------------------------------------


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but not listening: connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_refused_connection_is_transient(closed_port: int) -> None:
    settings = MailSettings(host="127.0.0.1", port=closed_port, sender="noreply@creneau.test")
    with pytest.raises(MailNotSent) as caught:
        send(settings, make_email("confirmed", "en"))
    assert caught.value.transient is True
    assert f"127.0.0.1:{closed_port}" in str(caught.value)


def test_silent_server_times_out_as_transient() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # the kernel accepts the connection; nobody ever says hello
        port = listener.getsockname()[1]
        settings = MailSettings(host="127.0.0.1", port=port, sender="noreply@creneau.test", timeout=0.3)
        with pytest.raises(MailNotSent) as caught:
            send(settings, make_email("confirmed", "en"))
    assert caught.value.transient is True


def test_recipient_rejected_with_550_is_not_transient(smtp_server: Callable[..., SmtpServer]) -> None:
    server = smtp_server()
    with pytest.raises(MailNotSent) as caught:
        send(server.settings(), make_email("confirmed", "fr", to="nobody@unknown.test"))
    assert caught.value.transient is False
    assert caught.value.code == 550
    assert "nobody@unknown.test" in str(caught.value) and "No such user" in str(caught.value)
    assert server.received == []


def test_recipient_deferred_with_450_is_transient(smtp_server: Callable[..., SmtpServer]) -> None:
    server = smtp_server()
    with pytest.raises(MailNotSent) as caught:
        send(server.settings(), make_email("confirmed", "fr", to="someone@busy.test"))
    assert caught.value.transient is True
    assert caught.value.code == 450


@pytest.mark.parametrize(("reply", "transient"), [("451 4.3.0 Try again", True), ("554 5.6.0 Bad", False)])
def test_data_refused(smtp_server: Callable[..., SmtpServer], reply: str, transient: bool) -> None:
    server = smtp_server(data_reply=reply)
    with pytest.raises(MailNotSent) as caught:
        send(server.settings(), make_email("confirmed", "en"))
    assert caught.value.transient is transient
    assert caught.value.code == int(reply[:3])


def test_partly_refused_is_not_retried(smtp_server: Callable[..., SmtpServer]) -> None:
    server = smtp_server()
    message = make_email("confirmed", "en")
    message["Cc"] = "nobody@unknown.test"
    with pytest.raises(MailNotSent) as caught:
        send(server.settings(), message)
    assert caught.value.transient is False  # a retry would send it to the participant twice
    assert [r.rcpt_tos for r in server.received] == [[PARTICIPANT]]


def test_message_without_recipient_is_a_bug() -> None:
    message = make_email("confirmed", "en")
    del message["To"]
    with pytest.raises(ValueError, match="no recipient"):
        send(MailSettings(host="127.0.0.1", sender="noreply@creneau.test"), message)


# --- AUTH and TLS ---------------------------------------------------------------------------------------


def test_auth_over_plain_smtp(smtp_server: Callable[..., SmtpServer]) -> None:
    server = smtp_server(auth=True)
    send(server.settings(username=USERNAME, password=PASSWORD), make_email("confirmed", "fr"))
    assert server.received[0].authenticated


def test_wrong_password_is_not_transient_and_never_shown(
    smtp_server: Callable[..., SmtpServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = smtp_server(auth=True)
    settings = server.settings(username=USERNAME, password=PASSWORD + "-wrong")
    assert PASSWORD not in repr(settings)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(MailNotSent) as caught:
        send(settings, make_email("confirmed", "fr"))
    assert caught.value.transient is False
    assert caught.value.code == 535
    shown = "".join(traceback.format_exception(caught.value)) + caplog.text
    assert PASSWORD not in shown
    assert server.received == []


def test_auth_required_but_no_credentials(smtp_server: Callable[..., SmtpServer]) -> None:
    server = smtp_server(auth=True)
    with pytest.raises(MailNotSent) as caught:
        send(server.settings(), make_email("confirmed", "fr"))
    assert caught.value.transient is False
    assert caught.value.code == 530


def test_starttls_then_auth(
    smtp_server: Callable[..., SmtpServer], tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.ca))
    server = smtp_server(starttls=True, auth=True)
    settings = server.settings(security="starttls", username=USERNAME, password=PASSWORD)
    send(settings, make_email("rescheduled", "en"))
    assert server.received[0].tls and server.received[0].authenticated


def test_implicit_tls(
    smtp_server: Callable[..., SmtpServer], tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.ca))
    server = smtp_server(implicit_tls=True)
    send(server.settings(security="tls"), make_email("cancelled", "en"))
    assert server.received[0].tls


def test_untrusted_certificate_is_not_transient(
    smtp_server: Callable[..., SmtpServer], tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.cert))  # a leaf, not the CA that signed it
    monkeypatch.setenv("SSL_CERT_DIR", str(tls_files.cert.parent / "empty"))
    server = smtp_server(starttls=True, auth=True)
    settings = server.settings(security="starttls", username=USERNAME, password=PASSWORD)
    with pytest.raises(MailNotSent, match="not trusted") as caught:
        send(settings, make_email("confirmed", "en"))
    assert caught.value.transient is False
    assert server.received == []


def test_starttls_asked_but_not_offered_never_falls_back(smtp_server: Callable[..., SmtpServer]) -> None:
    server = smtp_server()
    with pytest.raises(MailNotSent, match="STARTTLS") as caught:
        send(server.settings(security="starttls"), make_email("confirmed", "en"))
    assert caught.value.transient is False
    assert server.received == []


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="port"):
        MailSettings(host="smtp.example.org", port=0, sender="a@b.test")
    with pytest.raises(ValueError, match="security"):
        MailSettings(host="smtp.example.org", sender="a@b.test", security="ssl")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sender"):
        MailSettings(host="smtp.example.org", sender=" ")
    with pytest.raises(ValueError, match="host"):
        MailSettings(host="", sender="a@b.test")


# --- the .ics on its own ------------------------------------------------------------------------------------


def test_invitation_fields() -> None:
    calendar = Calendar.from_ical(make_ics(sequence=3))
    assert calendar["METHOD"] == "REQUEST" and calendar["VERSION"] == "2.0"
    event = only_event(calendar)
    assert event.decoded("DTSTART") == datetime(2025, 6, 3, 12, 0, tzinfo=UTC)
    assert b"DTSTART:20250603T120000Z" in make_ics()  # written in UTC, not with a TZID
    assert event.decoded("DTSTAMP") == STAMP
    assert event.decoded("SEQUENCE") == 3
    assert str(event["SUMMARY"]) == "Entretien usager — Appli mobile"
    assert str(event["DESCRIPTION"]) == "Étude « Appli mobile »\nLien : " + JOIN
    assert str(event["LOCATION"]) == JOIN
    organizer, attendee = event["ORGANIZER"], event["ATTENDEE"]
    assert str(organizer) == "mailto:claire@lab.example.org" and organizer.params["CN"] == "Claire Dupont"
    assert str(attendee) == f"mailto:{PARTICIPANT}" and attendee.params["CN"] == "Zoé Martin"
    assert attendee.params["PARTSTAT"] == "ACCEPTED"
    assert str(event["STATUS"]) == "CONFIRMED"
    raw = make_ics()
    assert b"\r\n" in raw and all(len(line) <= 75 for line in raw.split(b"\r\n"))


def test_cancel_keeps_the_uid() -> None:
    request = only_event(Calendar.from_ical(make_ics("REQUEST", 0)))
    calendar = Calendar.from_ical(make_ics("CANCEL", 1))
    cancel = only_event(calendar)
    assert calendar["METHOD"] == "CANCEL"
    assert cancel["UID"] == request["UID"] == UID
    assert str(cancel["STATUS"]) == "CANCELLED" and cancel.decoded("SEQUENCE") == 1


def test_empty_optional_fields_are_left_out() -> None:
    event = only_event(Calendar.from_ical(make_ics(description="", location="", url="", organizer_name="")))
    assert "DESCRIPTION" not in event and "LOCATION" not in event and "URL" not in event
    assert "CN" not in event["ORGANIZER"].params


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"start": datetime(2025, 6, 3, 14)}, "timezone-aware"),  # naive on purpose
        ({"end": START}, "after start"),
        ({"sequence": -1}, "sequence"),
        ({"uid": ""}, "uid"),
        ({"attendee_email": ""}, "email"),
        ({"method": "PUBLISH"}, "method"),
    ],
)
def test_invitation_refuses_bad_input(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_ics(**overrides)


TEXT = NAME


@given(summary=TEXT, description=TEXT, location=TEXT, organizer=TEXT, attendee=TEXT)
def test_any_text_survives_the_round_trip(
    summary: str, description: str, location: str, organizer: str, attendee: str
) -> None:
    event = only_event(
        Calendar.from_ical(
            make_ics(
                summary=summary,
                description=description,
                location=location,
                organizer_name=organizer,
                attendee_name=attendee,
            )
        )
    )
    assert str(event["SUMMARY"]) == summary
    assert str(event.get("DESCRIPTION", "")) == description
    assert str(event.get("LOCATION", "")) == location
    assert event["ORGANIZER"].params.get("CN", "") == common_name(organizer)
    assert event["ATTENDEE"].params.get("CN", "") == common_name(attendee)
    assert str(event["UID"]) == UID
