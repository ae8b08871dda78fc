"""The CalDAV provider (iCloud and any CalDAV server).

Modules, bottom-up: ``xml`` (bodies and multistatus parsing), ``dav`` (one account's HTTP session and
status → error translation), ``objects`` (is this object a usable event?), ``cursor`` (the stored sync
cursor), ``fetch`` (listings and calendar-multiget), ``sync`` (pull_changes), ``discovery``, ``calendars``,
``writes``, and ``provider`` which ties them into :class:`CalDAVProvider`. See docs/providers/caldav.md.
"""

from __future__ import annotations

from creneau.calendars.providers.caldav.provider import CalDAVProvider

__all__ = ["CalDAVProvider"]
