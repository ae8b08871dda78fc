"""What the pre-parse filter keeps: everything busy times read, nothing else."""

from __future__ import annotations

from creneau.calendars.ical._strip import strip_irrelevant

OBJECT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:x\r\n"
    "DTSTART;TZID=Europe/Paris:20260105T090000\r\nDTEND;TZID=Europe/Paris:20260105T100000\r\n"
    "DESCRIPTION:a long\r\n  folded description\r\nSUMMARY:Stand\r\n -up\r\nX-APPLE-TRAVEL:1\r\n"
    "ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:mailto:bob@example.org\r\n"
    "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nTRANSP:OPAQUE\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


def test_keeps_time_and_status_properties_and_unfolds() -> None:
    lines = strip_irrelevant(OBJECT).splitlines()
    assert "SUMMARY:Stand-up" in lines
    assert "DTSTART;TZID=Europe/Paris:20260105T090000" in lines
    assert "TRANSP:OPAQUE" in lines
    assert lines[-1] == "END:VCALENDAR"


def test_drops_descriptions_alarms_vendor_properties_and_unneeded_attendees() -> None:
    text = strip_irrelevant(OBJECT)
    for gone in ("DESCRIPTION", "VALARM", "TRIGGER", "X-APPLE", "ATTENDEE"):
        assert gone not in text


def test_keeps_every_attendee_when_one_declined() -> None:
    declined = OBJECT.replace(
        "ATTENDEE;CN=Bob", "ATTENDEE;PARTSTAT=DECLINED:mailto:me@example.org\r\nATTENDEE;CN=Bob"
    )
    text = strip_irrelevant(declined)
    assert "mailto:me@example.org" in text and "mailto:bob@example.org" in text
