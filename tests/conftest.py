"""Fixtures shared by the whole suite.

The database is SQLite unless ``CRENEAU_TEST_DATABASE_URL`` names another one (CI runs the suite twice: on
SQLite and on PostgreSQL). For PostgreSQL a fresh database is created for the run and dropped afterwards.
The schema comes from the Alembic migrations, so the migrations are tested by every run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from creneau.config import Settings
from creneau.emulators import google as google_emulator
from creneau.emulators import msgraph as graph_emulator
from creneau.runtime import Runtime, build_runtime
from creneau.store.migrate import upgrade
from creneau.store.models import Base, Researcher
from tests import cloud

RESEARCHER_PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("CRENEAU_TEST_DATABASE_URL", "")
    if not configured.startswith("postgresql"):
        path = tmp_path_factory.mktemp("db") / "creneau-test.sqlite3"
        url = f"sqlite:///{path}"
        upgrade(Settings(environment="development", var_dir=path.parent, database_url=url))
        yield url
        return
    admin = make_url(configured)
    name = f"creneau_test_{uuid.uuid4().hex[:10]}"
    admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.set(database=name).render_as_string(hide_password=False)
    upgrade(Settings(environment="development", database_url=url))
    yield url
    with admin_engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin_engine.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        environment="test",
        var_dir=tmp_path / "var",
        database_url=database_url,
        session_secret="test-session-secret-" + "x" * 32,
        secret_keys=Fernet.generate_key().decode(),
        allowed_private_networks=["127.0.0.0/8", "::1/128"],
        base_url="http://127.0.0.1:8000",
        sync_interval_seconds=3600,
    )


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = build_runtime(settings)
    try:
        yield rt
    finally:
        rt.close()
        _empty_tables(rt)


def _empty_tables(rt: Runtime) -> None:
    with rt.db.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    rt.db.dispose()


@pytest.fixture
def db_session(runtime: Runtime) -> Iterator[Session]:
    with runtime.ctx.sessions() as session:
        yield session


def make_researcher(runtime: Runtime, email: str, password: str = RESEARCHER_PASSWORD) -> Researcher:
    from creneau.identity.service import create_researcher

    with runtime.ctx.sessions() as session, session.begin():
        researcher = create_researcher(session, email=email, password=password, name=email.split("@")[0])
    return researcher


@pytest.fixture
def researcher(runtime: Runtime) -> Researcher:
    return make_researcher(runtime, "researcher@example.org")


@pytest.fixture
def other_researcher(runtime: Runtime) -> Researcher:
    return make_researcher(runtime, "other@example.org")


@pytest.fixture(scope="module")
def google() -> Iterator[google_emulator.RunningEmulator]:
    """The Google emulator with creneau's test OAuth client registered (tests/cloud.py)."""
    running = cloud.start_google()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def graph() -> Iterator[graph_emulator.RunningEmulator]:
    """The Microsoft Graph emulator with creneau's test OAuth client registered (tests/cloud.py)."""
    running = cloud.start_graph()
    yield running
    running.stop()
