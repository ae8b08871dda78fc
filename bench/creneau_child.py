"""The creneau side of ``sync_bench.py``, run as its own process so its peak memory can be measured alone.

    python bench/creneau_child.py setup --var-dir DIR --url URL --username USER   (password: $BENCH_PASSWORD)
    python bench/creneau_child.py sync --var-dir DIR --account-id N

Each command prints one JSON line on stdout as its last line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

from creneau.calendars.accounts import connect_account
from creneau.calendars.sync import sync_account
from creneau.config import Settings
from creneau.runtime import build_runtime
from creneau.store.migrate import upgrade
from creneau.store.models import Researcher


def bench_settings(var_dir: Path) -> Settings:
    # Every value explicit, so neither CRENEAU_* variables nor a .env file can change what is measured.
    return Settings(
        environment="development",
        var_dir=var_dir,
        database_url=f"sqlite:///{(var_dir / 'creneau.sqlite3').resolve()}",
        secret_keys="",
        allowed_private_networks=["127.0.0.0/8"],
    )


def setup(var_dir: Path, url: str, username: str, password: str) -> dict[str, object]:
    """Migrate a fresh database, create a researcher and connect the CalDAV account (not synced yet)."""
    settings = bench_settings(var_dir)
    upgrade(settings)
    runtime = build_runtime(settings)
    try:
        with runtime.ctx.sessions() as session, session.begin():
            researcher = Researcher(email="bench@creneau.test", name="Bench", password_hash="-")
            session.add(researcher)
            session.flush()
            account = connect_account(
                session,
                ctx=runtime.ctx,
                researcher_id=researcher.id,
                provider="caldav",
                server_url=url,
                username=username,
                password=password,
            )
            return {"account_id": account.id, "calendars": len(account.calendars)}
    finally:
        runtime.close()


def sync(var_dir: Path, account_id: int) -> dict[str, object]:
    runtime = build_runtime(bench_settings(var_dir))
    try:
        started = time.perf_counter()
        report = sync_account(runtime.ctx, account_id=account_id)
        seconds = time.perf_counter() - started
    finally:
        runtime.close()
    if report is None:
        raise SystemExit(f"account {account_id} does not exist")
    return {"sync_seconds": seconds, "report": dataclasses.asdict(report)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["setup", "sync"])
    parser.add_argument("--var-dir", type=Path, required=True)
    parser.add_argument("--url", default="")
    parser.add_argument("--username", default="")
    parser.add_argument("--account-id", type=int, default=0)
    args = parser.parse_args()
    if args.command == "setup":
        result = setup(args.var_dir, args.url, args.username, os.environ["BENCH_PASSWORD"])
    else:
        result = sync(args.var_dir, args.account_id)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
