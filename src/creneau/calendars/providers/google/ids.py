"""Google ids derived from our own keys, so that a retried write finds what the first attempt made.

Google event ids may use only base32hex characters (``0-9a-v``) and be 5 to 1024 long. We use the
base32hex encoding of SHA-256(uid), lower-cased without padding (52 characters): the same ``EventDraft.uid``
always gives the same id, whatever characters the uid has. The Meet ``requestId`` is derived the same way
(one per booking; retrying the same booking reuses it, so Google does not make a second conference).
"""

from __future__ import annotations

import base64
import hashlib


def event_id(uid: str) -> str:
    digest = hashlib.sha256(uid.encode("utf-8")).digest()
    return base64.b32hexencode(digest).decode("ascii").lower().rstrip("=")


def conference_request_id(uid: str) -> str:
    return "creneau-" + hashlib.sha256(b"meet:" + uid.encode("utf-8")).hexdigest()[:32]
