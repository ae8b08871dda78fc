"""Signed links a participant receives to see, cancel or move their booking.

A link carries the booking id and the booking's ``link_nonce``, signed with the application's secret
(itsdangerous, HMAC-SHA256). Moving a booking renews the nonce, so links of older emails stop working and
say why; a link to a session that has taken place or a cancelled booking says so too.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

from creneau.errors import LinkInvalid

_SALT = "creneau.booking-link.v1"


@dataclass(frozen=True)
class LinkTarget:
    booking_id: int
    nonce: str


class LinkSigner:
    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeSerializer(secret, salt=_SALT)

    def sign(self, *, booking_id: int, nonce: str) -> str:
        return str(self._serializer.dumps([booking_id, nonce]))

    def read(self, token: str) -> LinkTarget:
        """:raises LinkInvalid: ``reason="tampered"`` when the signature or shape is wrong."""
        try:
            value = self._serializer.loads(token)
        except BadSignature:
            raise LinkInvalid("this link is not valid", reason="tampered") from None
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not isinstance(value[0], int)
            or not isinstance(value[1], str)
        ):
            raise LinkInvalid("this link is not valid", reason="tampered")
        return LinkTarget(booking_id=value[0], nonce=value[1])
