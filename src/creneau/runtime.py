"""Builds the running application's parts from settings: database, vault, network policy, job queue.

The web app, the CLI and the tests all start here, so each part is built the same way everywhere.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine

from creneau.calendars.conferencing import default_conferencing
from creneau.calendars.context import EngineContext, network_policy
from creneau.calendars.secrets import vault_from_settings
from creneau.config import Settings
from creneau.jobs.inprocess import InProcessQueue
from creneau.scheduling.context import Scheduling, mail_settings
from creneau.scheduling.links import LinkSigner
from creneau.store.db import make_engine, make_session_factory

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    db: Engine
    ctx: EngineContext
    sched: Scheduling
    jobs: InProcessQueue

    def close(self) -> None:
        self.jobs.stop()
        self.db.dispose()


def build_runtime(settings: Settings) -> Runtime:
    settings.check_production()
    db = make_engine(settings)
    ctx = EngineContext(
        settings=settings,
        sessions=make_session_factory(db),
        vault=vault_from_settings(settings),
        policy=network_policy(settings),
    )
    sched = Scheduling(
        engine=ctx,
        links=LinkSigner(session_secret(settings)),
        conferencing=default_conferencing(jitsi_base_url=settings.jitsi_base_url),
        mail=mail_settings(settings),
    )
    jobs = InProcessQueue(ctx, sched)
    sched.outbox_ready = jobs.enqueue_outbox
    sched.sync_wanted = jobs.enqueue_syncs
    return Runtime(settings=settings, db=db, ctx=ctx, sched=sched, jobs=jobs)


def session_secret(settings: Settings) -> str:
    """``settings.session_secret``; in development without one, a key generated once into ``var/``.

    :raises ConfigurationError: outside development when the secret is missing or short.
    """
    settings.check_production()
    if configured := settings.session_secret.get_secret_value():
        return configured
    path = settings.var_dir / "dev-session.key"
    if path.exists():
        return path.read_text().strip()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process wrote it first: use theirs
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    log.warning("no CRENEAU_SESSION_SECRET: using a development key stored in %s", path)
    return key
