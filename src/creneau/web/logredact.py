"""Request targets as they may be logged: without OAuth authorization codes or participant-link tokens.

``/oauth/callback?code=...&state=...`` carries a one-time authorization code; ``/book/{token}`` and
``/booking/{link}`` carry the capability a participant was mailed (whoever has it can book, cancel or
reschedule). A log is read by more people than those, so neither is ever written there.
:class:`AccessLogRedactor` rewrites uvicorn's access-log records; :func:`redact_target` is for any other place
that logs a request's path.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode

REDACTED = "[redacted]"
# Routes whose whole query string is secret (an OAuth provider's answer).
SECRET_QUERY_PATHS = ("/oauth/callback",)
# A participant link's token: the path segment after /book/ or /booking/.
_LINK_TOKEN = re.compile(r"^(/book|/booking)/[^/?#]+")
ACCESS_LOGGER = "uvicorn.access"


def redact_target(target: str) -> str:
    """``target`` (a path, with or without its query string) with secrets replaced by ``[redacted]``."""
    path, sep, query = target.partition("?")
    path = unquote(path)  # routing decodes the path: so does the check (no way around it by %-encoding)
    if path.rstrip("/") in SECRET_QUERY_PATHS and query:
        query = REDACTED
    elif "next=" in query:  # the sign-in page's "come back to" address is itself a target
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, redact_target(v) if k == "next" else v) for k, v in pairs])
    path = _LINK_TOKEN.sub(lambda m: f"{m.group(1)}/{REDACTED}", path)
    # Encoded again: a decoded quote, newline or control character must not reach a log line.
    path = quote(path, safe="/:@!$&'()*+,;=-._~[]")
    return path + (sep + query if query else "")


class AccessLogRedactor(logging.Filter):
    """Rewrites the request target of uvicorn's access-log records (``'%s - "%s %s HTTP/%s" %d'``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], redact_target(args[2]), args[3], args[4])
        return True


def install_access_log_redaction() -> None:
    """Put the redactor on uvicorn's access logger (once; again is harmless)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, AccessLogRedactor) for f in logger.filters):
        logger.addFilter(AccessLogRedactor())
