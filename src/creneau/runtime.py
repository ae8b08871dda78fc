"""Builds the running application's parts from settings: database, vault, network policy, job queue.

The web app, the CLI and the tests all start here, so each part is built the same way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from creneau.calendars.context import EngineContext, network_policy
from creneau.calendars.secrets import vault_from_settings
from creneau.config import Settings
from creneau.jobs.inprocess import InProcessQueue
from creneau.store.db import make_engine, make_session_factory


@dataclass
class Runtime:
    settings: Settings
    db: Engine
    ctx: EngineContext
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
    return Runtime(settings=settings, db=db, ctx=ctx, jobs=InProcessQueue(ctx))
