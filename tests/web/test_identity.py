"""The identity service: passwords, sign-in with its rate limit, API tokens — on the real database."""

from __future__ import annotations

import hashlib

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from creneau.config import Settings
from creneau.errors import NotFound, TooManyAttempts, ValidationFailed
from creneau.identity import (
    authenticate,
    create_api_token,
    create_researcher,
    delete_api_token,
    hash_password,
    list_api_tokens,
    needs_rehash,
    researcher_for_token,
    verify_password,
)
from creneau.runtime import Runtime
from creneau.store.models import ApiToken, LoginAttempt, Researcher
from tests.conftest import RESEARCHER_PASSWORD


def test_password_hash_round_trip() -> None:
    stored = hash_password("s3cret-enough")
    assert stored.startswith("$argon2id$") and "s3cret" not in stored
    assert verify_password("s3cret-enough", stored)
    assert not verify_password("wrong", stored)
    assert not verify_password("anything", None)
    assert not verify_password("anything", "not a hash")
    assert not needs_rehash(stored)


def test_weak_hash_is_upgraded_on_sign_in(db_session: Session, settings: Settings) -> None:
    researcher = create_researcher(db_session, email="weak@example.org", password="a long password")
    researcher.password_hash = PasswordHasher(time_cost=1, memory_cost=8192).hash("a long password")
    db_session.commit()
    assert needs_rehash(researcher.password_hash)
    authenticate(
        db_session,
        email="weak@example.org",
        password="a long password",
        client_ip="1.2.3.4",
        settings=settings,
    )
    assert not needs_rehash(researcher.password_hash)
    assert verify_password("a long password", researcher.password_hash)


@pytest.mark.parametrize(
    ("email", "password", "locale", "field"),
    [
        ("not-an-address", "long enough!", None, "email"),
        ("ok@example.org", "short", None, "password"),
        ("ok@example.org", "long enough!", "de", "locale"),
    ],
)
def test_create_researcher_names_the_bad_field(
    db_session: Session, email: str, password: str, locale: str | None, field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        create_researcher(db_session, email=email, password=password, locale=locale)
    assert caught.value.field == field


def test_email_is_unique_whatever_its_case(db_session: Session, researcher: Researcher) -> None:
    with pytest.raises(ValidationFailed) as caught:
        create_researcher(db_session, email="  Researcher@Example.ORG ", password="another password")
    assert caught.value.field == "email"


def test_authenticate(db_session: Session, settings: Settings, researcher: Researcher) -> None:
    found = authenticate(
        db_session,
        email="RESEARCHER@example.org",
        password=RESEARCHER_PASSWORD,
        client_ip="1.2.3.4",
        settings=settings,
    )
    assert found.id == researcher.id
    for email, password in [("researcher@example.org", "nope"), ("nobody@example.org", RESEARCHER_PASSWORD)]:
        with pytest.raises(ValidationFailed) as caught:
            authenticate(db_session, email=email, password=password, client_ip="1.2.3.4", settings=settings)
        assert str(caught.value) == "Wrong email or password."  # the same words: no account enumeration


def _fail(runtime: Runtime, settings: Settings, *, email: str, ip: str) -> None:
    # Each attempt in its own session, as separate requests (or processes) would do.
    with runtime.ctx.sessions() as session, pytest.raises(ValidationFailed):
        authenticate(session, email=email, password="wrong", client_ip=ip, settings=settings)


def test_rate_limit_per_email_holds_across_sessions(
    runtime: Runtime, settings: Settings, researcher: Researcher
) -> None:
    # Guesses from many places: each place stays under its own limit, the address's ceiling stops them.
    settings = settings.model_copy(update={"login_max_attempts_per_email": 8})
    for n in range(settings.login_max_attempts_per_email):
        _fail(runtime, settings, email=researcher.email, ip=f"10.0.0.{n}")
    with runtime.ctx.sessions() as session, pytest.raises(TooManyAttempts) as caught:
        # Even the right password is not checked any more, from yet another address.
        authenticate(
            session,
            email=researcher.email,
            password=RESEARCHER_PASSWORD,
            client_ip="10.9.9.9",
            settings=settings,
        )
    assert 0 < caught.value.retry_after <= settings.login_window_seconds
    with runtime.ctx.sessions() as session:  # another researcher is not affected
        count = len(
            session.scalars(select(LoginAttempt).where(LoginAttempt.key == f"email:{researcher.email}")).all()
        )
    assert count == settings.login_max_attempts_per_email


def test_rate_limit_per_ip(runtime: Runtime, settings: Settings, researcher: Researcher) -> None:
    settings = settings.model_copy(update={"login_max_attempts_per_ip": 7})
    for n in range(settings.login_max_attempts_per_ip):
        _fail(runtime, settings, email=f"guess{n}@example.org", ip="192.0.2.7")
    with runtime.ctx.sessions() as session, pytest.raises(TooManyAttempts):
        authenticate(
            session,
            email=researcher.email,
            password=RESEARCHER_PASSWORD,
            client_ip="192.0.2.7",
            settings=settings,
        )
    with runtime.ctx.sessions() as session:  # the same researcher from elsewhere still gets in
        authenticate(
            session,
            email=researcher.email,
            password=RESEARCHER_PASSWORD,
            client_ip="192.0.2.8",
            settings=settings,
        )


def test_success_forgets_the_failures_of_that_place(
    runtime: Runtime, settings: Settings, researcher: Researcher
) -> None:
    for _ in range(settings.login_max_attempts - 1):
        _fail(runtime, settings, email=researcher.email, ip="198.51.100.1")
    with runtime.ctx.sessions() as session, session.begin():
        authenticate(
            session,
            email=researcher.email,
            password=RESEARCHER_PASSWORD,
            client_ip="198.51.100.1",
            settings=settings,
        )
    # Not locked out by the next typos from there: that place's counting restarted.
    for _ in range(settings.login_max_attempts - 1):
        _fail(runtime, settings, email=researcher.email, ip="198.51.100.1")


def test_api_tokens(db_session: Session, researcher: Researcher, other_researcher: Researcher) -> None:
    token = create_api_token(db_session, researcher_id=researcher.id, label="script")
    other = create_api_token(db_session, researcher_id=other_researcher.id, label="")
    db_session.commit()
    stored = db_session.scalars(select(ApiToken.token_sha256)).all()
    assert token not in stored and hashlib.sha256(token.encode()).hexdigest() in stored
    found = researcher_for_token(db_session, token)
    assert found is not None and found.id == researcher.id
    assert researcher_for_token(db_session, other).id == other_researcher.id  # type: ignore[union-attr]
    assert researcher_for_token(db_session, token + "x") is None
    assert researcher_for_token(db_session, "") is None
    (listed,) = list_api_tokens(db_session, researcher_id=researcher.id)
    assert listed.label == "script"
    with pytest.raises(NotFound):
        delete_api_token(db_session, researcher_id=other_researcher.id, token_id=listed.id)
    delete_api_token(db_session, researcher_id=researcher.id, token_id=listed.id)
    assert researcher_for_token(db_session, token) is None
    with pytest.raises(NotFound):
        create_api_token(db_session, researcher_id=999_999, label="")
