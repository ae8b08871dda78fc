"""The ``creneau`` command: serve, sync, migrate, demo, and small admin tasks."""

from __future__ import annotations

import getpass
import sys
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from sqlalchemy import select

from creneau.config import Settings, get_settings
from creneau.errors import CreneauError

if TYPE_CHECKING:
    from creneau.runtime import Runtime

console = Console(stderr=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="creneau")
def main() -> None:
    """creneau: calendar sync and appointment scheduling for user-research teams.

    Settings come from CRENEAU_* environment variables or a .env file (docs/configuration.md).
    """


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the web app (pages, JSON API, OpenAPI at /docs) with in-process background sync."""
    import uvicorn

    from creneau.store.migrate import upgrade
    from creneau.web.app import create_app

    settings = _settings()
    upgrade(settings)
    uvicorn.run(
        create_app(_runtime(settings)),
        host=host,
        port=port,
        log_level="info",
        timeout_keep_alive=settings.keep_alive_seconds,
        # uvicorn would believe X-Forwarded-For from loopback; the app decides, from CRENEAU_TRUSTED_PROXIES
        # (web/clientaddr.py).
        proxy_headers=False,
    )


@main.command()
def migrate() -> None:
    """Create or upgrade the database schema (SQLite file under var/, or CRENEAU_DATABASE_URL)."""
    from creneau.store.migrate import upgrade

    settings = _settings()
    upgrade(settings)
    console.print(f"[green]Database is up to date[/green] ({_safe_url(settings)})")


@main.command()
@click.option("--account", "account_ids", type=int, multiple=True, help="Only this account id (repeatable).")
def sync(account_ids: tuple[int, ...]) -> None:
    """Sync every connected account now, with a progress bar per account."""
    from creneau.calendars.sync import sync_account
    from creneau.store.models import CalendarAccount

    runtime = _runtime(_settings())
    with runtime.ctx.sessions() as session:
        query = select(CalendarAccount.id, CalendarAccount.display_name).order_by(CalendarAccount.id)
        if account_ids:
            query = query.where(CalendarAccount.id.in_(account_ids))
        accounts = [(row[0], row[1]) for row in session.execute(query)]
    if not accounts:
        console.print("No calendar account to sync.")
        return
    failed = 0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        for account_id, name in accounts:
            task = bar.add_task(f"#{account_id} {name}", total=None)

            def show(done: int, total: int, task: TaskID = task) -> None:
                bar.update(task, completed=done, total=total or None)

            report = sync_account(runtime.ctx, account_id=account_id, progress=show)
            if report is None:
                continue
            bar.update(task, description=f"#{account_id} {name}: {report.status}")
            if report.status != "ok":
                failed += 1
                console.print(f"[red]#{account_id} {name}: {report.status}[/red] {report.error}")
            else:
                console.print(
                    f"#{account_id} {name}: {report.calendars} calendars, {report.fetched} downloaded, "
                    f"{report.deleted} deleted, {report.malformed} unreadable"
                )
    runtime.close()
    sys.exit(1 if failed else 0)


@main.command("create-researcher")
@click.argument("email")
@click.option("--name", default="")
@click.option("--password", help="Asked for when not given.")
def create_researcher_command(email: str, name: str, password: str | None) -> None:
    """Create a researcher who can sign in."""
    from creneau.identity.service import create_researcher

    password = password or getpass.getpass("Password: ")
    runtime = _runtime(_settings())
    with runtime.ctx.sessions() as session, session.begin():
        create_researcher(session, email=email, password=password, name=name)
    console.print(f"Researcher {email} created.")


@main.command("api-token")
@click.argument("email")
@click.option("--label", default="cli")
def api_token(email: str, label: str) -> None:
    """Create a personal API token (Authorization: Bearer ...) for a researcher; printed once."""
    from creneau.identity.service import create_api_token
    from creneau.store.models import Researcher

    runtime = _runtime(_settings())
    with runtime.ctx.sessions() as session, session.begin():
        researcher = session.scalar(select(Researcher).where(Researcher.email == email.lower()))
        if researcher is None:
            raise click.ClickException(f"no researcher {email}")
        token = create_api_token(session, researcher_id=researcher.id, label=label)
    click.echo(token)


@main.command("generate-key")
def generate_key_command() -> None:
    """Print a new key for CRENEAU_SECRET_KEYS (put it first; keep old keys after it until rotated)."""
    from creneau.calendars.secrets import generate_key

    click.echo(generate_key())


@main.command("rotate-keys")
def rotate_keys() -> None:
    """Re-encrypt every stored credential with the first key of CRENEAU_SECRET_KEYS (then drop old keys)."""
    from creneau.store.models import CalendarAccount

    runtime = _runtime(_settings())
    with runtime.ctx.sessions() as session, session.begin():
        accounts = list(session.scalars(select(CalendarAccount)))
        for account in accounts:
            account.credentials = runtime.ctx.vault.rotate(account.credentials)
    runtime.close()
    console.print(f"{len(accounts)} credentials re-encrypted with the first key.")


@main.command()
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--radicale-port", default=5232, show_default=True, type=int)
@click.option("--google-port", default=5233, show_default=True, type=int)
@click.option("--microsoft-port", default=5234, show_default=True, type=int)
def demo(port: int, radicale_port: int, google_port: int, microsoft_port: int) -> None:
    """Start a demo: a local Radicale with two demo accounts, the Google and Microsoft emulators, and
    creneau on http://127.0.0.1:PORT."""
    from creneau.demo.launch import run_demo

    run_demo(
        port=port,
        radicale_port=radicale_port,
        google_port=google_port,
        microsoft_port=microsoft_port,
        console=console,
    )


def _settings() -> Settings:
    try:
        settings = get_settings()
        settings.check_production()
    except CreneauError as exc:
        raise click.ClickException(str(exc)) from exc
    return settings


def _runtime(settings: Settings) -> Runtime:
    from creneau.runtime import build_runtime

    try:
        return build_runtime(settings)
    except CreneauError as exc:
        raise click.ClickException(str(exc)) from exc


def _safe_url(settings: Settings) -> str:
    url = settings.effective_database_url
    if "@" in url:  # never print a database password
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


if __name__ == "__main__":
    main(sys.argv[1:])
