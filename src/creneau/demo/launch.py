"""``creneau demo``: seed and start the demo Radicale and the Google and Microsoft emulators, create the demo
researcher and its accounts, serve the app."""

from __future__ import annotations

from rich.console import Console
from sqlalchemy import select

from creneau.config import Settings
from creneau.demo import DEMO_EMAIL, DEMO_PASSWORD, demo_banner, prepare_demo
from creneau.demo.cloud import GOOGLE_PORT, MICROSOFT_PORT, cloud_settings
from creneau.runtime import Runtime, build_runtime
from creneau.store.migrate import upgrade
from creneau.store.models import Researcher


def demo_settings(
    *, port: int, radicale_url: str, google_url: str | None = None, microsoft_url: str | None = None
) -> Settings:
    """Settings from the environment, with what the demo needs on top: the local Radicale is reachable
    (loopback allowed) and stands in for iCloud, which cannot be reached offline; with the emulators' URLs,
    Google, Office 365 and Outlook.com are the emulators (OAuth applications, API URLs) and push comes to
    the app itself."""
    base_url = f"http://127.0.0.1:{port}"
    cloud = (
        cloud_settings(app_url=base_url, google_url=google_url, microsoft_url=microsoft_url)
        if google_url and microsoft_url
        else {}
    )
    return Settings(
        allowed_private_networks=["127.0.0.0/8", "::1/128"],
        icloud_caldav_url=radicale_url,
        base_url=base_url,
        sync_interval_seconds=60,
        **cloud,
    )


def ensure_demo_researcher(runtime: Runtime) -> None:
    from creneau.identity.service import create_researcher

    with runtime.ctx.sessions() as session, session.begin():
        if session.scalar(select(Researcher.id).where(Researcher.email == DEMO_EMAIL)) is None:
            create_researcher(session, email=DEMO_EMAIL, password=DEMO_PASSWORD, name="Demo researcher")


COLLEAGUE_EMAIL = "colleague@creneau.test"
COLLEAGUE_PASSWORD = "colleague-password"
INVITED_EMAIL = "new.member@creneau.test"


def ensure_demo_team(runtime: Runtime) -> None:
    """The demo researcher's workspace: a colleague (member, who can manage sessions), a pending invitation,
    and a study with a remote session ready for its appointment settings."""
    from creneau.identity.service import create_researcher
    from creneau.scheduling.studies import create_session, create_study, list_studies
    from creneau.scheduling.workspaces import accept_invitation, ensure_workspace, invite

    with runtime.ctx.sessions() as session, session.begin():
        demo = session.scalars(select(Researcher).where(Researcher.email == DEMO_EMAIL)).one()
        member = ensure_workspace(session, researcher=demo)
        if list_studies(session, workspace_id=member.workspace_id):
            return  # seeded on an earlier run
        colleague = session.scalars(select(Researcher).where(Researcher.email == COLLEAGUE_EMAIL)).first()
        if colleague is None:
            colleague = create_researcher(
                session, email=COLLEAGUE_EMAIL, password=COLLEAGUE_PASSWORD, name="Camille Colleague"
            )
        # The colleague's consent, as if they had pressed Accept on their invitations page.
        accepted = invite(
            session, workspace_id=member.workspace_id, inviter_id=demo.id, email=COLLEAGUE_EMAIL
        )
        accept_invitation(session, researcher=colleague, invitation_id=accepted.id)
        invite(session, workspace_id=member.workspace_id, inviter_id=demo.id, email=INVITED_EMAIL)
        study = create_study(
            session, workspace_id=member.workspace_id, researcher_id=demo.id, name="Onboarding interviews"
        )
        create_session(session, researcher=demo, study_id=study.id, name="Remote interview")


def run_demo(
    *,
    port: int,
    radicale_port: int,
    console: Console,
    google_port: int = GOOGLE_PORT,
    microsoft_port: int = MICROSOFT_PORT,
) -> None:
    import uvicorn

    from creneau.demo.signins import prepare_cloud_accounts
    from creneau.web.app import create_app
    from creneau.web.pages.oauth import CALLBACK

    radicale_url = f"http://127.0.0.1:{radicale_port}/"
    settings = demo_settings(
        port=port,
        radicale_url=radicale_url,
        google_url=f"http://127.0.0.1:{google_port}",
        microsoft_url=f"http://127.0.0.1:{microsoft_port}",
    )
    console.print("Preparing the database…")
    upgrade(settings)
    console.print(
        f"Seeding and starting the demo CalDAV server on {radicale_url} and the Google and Microsoft "
        f"emulators on ports {google_port} and {microsoft_port}…",
        soft_wrap=True,
    )
    info = prepare_demo(
        settings.var_dir,
        radicale_port=radicale_port,
        google_port=google_port,
        microsoft_port=microsoft_port,
        redirect_uri=settings.base_url + CALLBACK,  # what an operator registers at Google
    )
    try:
        runtime = build_runtime(settings)
        ensure_demo_researcher(runtime)
        ensure_demo_team(runtime)
        if info.cloud is not None:
            # They sync at the jobs' first tick, once the app answers (Graph checks the push address at once).
            prepare_cloud_accounts(runtime, info.cloud)
        console.print(demo_banner(info, settings.base_url), highlight=False, soft_wrap=True)
        console.print(
            f"A colleague in the demo workspace: {COLLEAGUE_EMAIL} / {COLLEAGUE_PASSWORD}", highlight=False
        )
        uvicorn.run(
            create_app(runtime),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            timeout_keep_alive=settings.keep_alive_seconds,
            proxy_headers=False,  # forwarded headers: CRENEAU_TRUSTED_PROXIES decides (web/clientaddr.py)
        )
    finally:
        info.stop()
