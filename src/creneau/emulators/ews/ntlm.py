"""The server side of NTLM (MS-NLMP) as IIS runs it in front of EWS: a CHALLENGE for a client's NEGOTIATE,
then the AUTHENTICATE message's NTLMv2 response verified against the mailbox password.

Only NTLMv2 is accepted (Exchange 2016/2019 default ``LmCompatibilityLevel`` refuses LM and NTLMv1).
Signing, sealing and the MIC are not checked: HTTP authentication uses none of the session keys.
OpenSSL 3 no longer ships MD4, so the NT hash's MD4 is computed here (RFC 1320).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
import time
from dataclasses import dataclass

SIGNATURE = b"NTLMSSP\x00"

UNICODE = 0x00000001
REQUEST_TARGET = 0x00000004
SIGN = 0x00000010
SEAL = 0x00000020
NTLM = 0x00000200
ALWAYS_SIGN = 0x00008000
TARGET_TYPE_DOMAIN = 0x00010000
EXTENDED_SESSIONSECURITY = 0x00080000
TARGET_INFO = 0x00800000
VERSION = 0x02000000
NEGOTIATE_128 = 0x20000000
KEY_EXCH = 0x40000000
NEGOTIATE_56 = 0x80000000
_ECHOED = UNICODE | SIGN | SEAL | ALWAYS_SIGN | EXTENDED_SESSIONSECURITY | VERSION | NEGOTIATE_128 | KEY_EXCH
_ECHOED |= NEGOTIATE_56
# Windows Server 2016, build 14393, NTLM revision 15
_VERSION = struct.pack("<BBHxxxB", 10, 0, 14393, 15)


class NtlmError(ValueError):
    """A message that is not NTLM, or not the one expected at this step."""


def _md4(data: bytes) -> bytes:
    def rotl(x: int, n: int) -> int:
        x &= 0xFFFFFFFF
        return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF

    length = len(data) * 8
    data += b"\x80" + b"\x00" * ((55 - len(data)) % 64) + struct.pack("<Q", length)
    a, b, c, d = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
    for offset in range(0, len(data), 64):
        x = struct.unpack("<16I", data[offset : offset + 64])
        aa, bb, cc, dd = a, b, c, d
        for i in range(16):
            s = (3, 7, 11, 19)[i % 4]
            f = (b & c) | (~b & d)
            a, b, c, d = d, rotl(a + f + x[i], s), b, c
        for i in range(16):
            k = (0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15)[i]
            s = (3, 5, 9, 13)[i % 4]
            g = (b & c) | (b & d) | (c & d)
            a, b, c, d = d, rotl(a + g + x[k] + 0x5A827999, s), b, c
        for i in range(16):
            k = (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)[i]
            s = (3, 9, 11, 15)[i % 4]
            h = b ^ c ^ d
            a, b, c, d = d, rotl(a + h + x[k] + 0x6ED9EBA1, s), b, c
        a, b, c, d = (
            (a + aa) & 0xFFFFFFFF,
            (b + bb) & 0xFFFFFFFF,
            (c + cc) & 0xFFFFFFFF,
            (d + dd) & 0xFFFFFFFF,
        )
    return struct.pack("<4I", a, b, c, d)


def nt_hash(password: str) -> bytes:
    return _md4(password.encode("utf-16-le"))


def ntowfv2(password: str, user: str, domain: str) -> bytes:
    return hmac.new(nt_hash(password), (user.upper() + domain).encode("utf-16-le"), hashlib.md5).digest()


def _field(message: bytes, offset: int) -> bytes:
    try:
        length, _, start = struct.unpack_from("<HHI", message, offset)
    except struct.error:
        raise NtlmError("truncated NTLM message") from None
    if start + length > len(message):
        raise NtlmError("an NTLM field points outside the message")
    return message[start : start + length]


def message_type(message: bytes) -> int:
    if len(message) < 12 or not message.startswith(SIGNATURE):
        raise NtlmError("not an NTLM message")
    kind: int = struct.unpack_from("<I", message, 8)[0]
    return kind


@dataclass(frozen=True)
class Challenge:
    """What the server remembers between its CHALLENGE and the client's AUTHENTICATE (per connection)."""

    server_challenge: bytes
    message: bytes


def challenge(negotiate: bytes, *, domain: str, computer: str, dns_domain: str) -> Challenge:
    """The CHALLENGE answering a NEGOTIATE message.

    :raises NtlmError: when ``negotiate`` is not an NTLM NEGOTIATE message
    """
    if message_type(negotiate) != 1 or len(negotiate) < 16:
        raise NtlmError("an NTLM NEGOTIATE message was expected")
    client_flags: int = struct.unpack_from("<I", negotiate, 12)[0]
    if not client_flags & UNICODE:
        raise NtlmError("only Unicode NTLM clients are supported")
    flags = (client_flags & _ECHOED) | UNICODE | REQUEST_TARGET | NTLM | TARGET_TYPE_DOMAIN | TARGET_INFO
    server_challenge = os.urandom(8)
    target = domain.encode("utf-16-le")
    filetime = int((time.time() + 11644473600) * 10_000_000)
    pairs = b"".join(
        struct.pack("<HH", av, len(value)) + value
        for av, value in (
            (2, domain.encode("utf-16-le")),
            (1, computer.encode("utf-16-le")),
            (4, dns_domain.encode("utf-16-le")),
            (3, f"{computer.lower()}.{dns_domain}".encode("utf-16-le")),
            (5, dns_domain.encode("utf-16-le")),
            (7, struct.pack("<Q", filetime)),
        )
    )
    pairs += struct.pack("<HH", 0, 0)
    header = 56
    message = (
        SIGNATURE
        + struct.pack("<I", 2)
        + struct.pack("<HHI", len(target), len(target), header)
        + struct.pack("<I", flags)
        + server_challenge
        + b"\x00" * 8
        + struct.pack("<HHI", len(pairs), len(pairs), header + len(target))
        + _VERSION
        + target
        + pairs
    )
    return Challenge(server_challenge, message)


@dataclass(frozen=True)
class Authenticate:
    user: str
    domain: str
    workstation: str
    nt_response: bytes

    def verify(self, password: str, pending: Challenge) -> bool:
        """True when the NTLMv2 response proves knowledge of ``password`` for this challenge."""
        if len(self.nt_response) <= 24:  # LM / NTLMv1 responses are refused
            return False
        proof, blob = self.nt_response[:16], self.nt_response[16:]
        key = ntowfv2(password, self.user, self.domain)
        expected = hmac.new(key, pending.server_challenge + blob, hashlib.md5).digest()
        return hmac.compare_digest(proof, expected)


def parse_authenticate(message: bytes) -> Authenticate:
    """:raises NtlmError: when ``message`` is not an NTLM AUTHENTICATE message"""
    if message_type(message) != 3 or len(message) < 64:
        raise NtlmError("an NTLM AUTHENTICATE message was expected")
    flags: int = struct.unpack_from("<I", message, 60)[0]
    encoding = "utf-16-le" if flags & UNICODE else "cp437"
    try:
        return Authenticate(
            user=_field(message, 36).decode(encoding),
            domain=_field(message, 28).decode(encoding),
            workstation=_field(message, 44).decode(encoding),
            nt_response=_field(message, 20),
        )
    except UnicodeDecodeError:
        raise NtlmError("an NTLM name is not valid UTF-16") from None
