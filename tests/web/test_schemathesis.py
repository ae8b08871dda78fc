"""The API against its own OpenAPI, by schemathesis (examples, boundary values and fuzzed requests of every
operation, valid and invalid), with every check schemathesis has: no 5xx, every status, header, content
type and body as documented, invalid data refused, valid data accepted, 405 with ``Allow``...

Runs on the real app (ASGI transport) and the real database of the suite (SQLite, or PostgreSQL with
``CRENEAU_TEST_DATABASE_URL``), as a researcher with an API token and one seeded account. Hypothesis is
derandomized and the examples per operation bounded, so CI is reproducible and stays within its time.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.generation.modes import GenerationMode

from creneau.runtime import Runtime
from creneau.store.models import Researcher
from tests.servers import free_port
from tests.web.conftest import seed_account
from tests.web.test_api import token_for

MAX_EXAMPLES = 40
# Every check runs. One is told what "accepted" means where the answer depends on a server outside the
# schema: connecting an account checks the credentials against the calendar server first, so a well-formed
# body that no server accepts is refused 422 naming the field (address_forbidden, auth_failed...), as
# documented in the operation's 422; free/busy's range must end after it starts and span at most 400 days
# within years 1000-9000, which no JSON schema of two separate query parameters says.
ACCEPTED_OR_REFUSED = {
    "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422"]}
}
CONFIG = {
    "operations": [
        {"include-name": "POST /api/v1/accounts", "checks": ACCEPTED_OR_REFUSED},
        {"include-name": "POST /api/v1/feeds", "checks": ACCEPTED_OR_REFUSED},  # the feed is fetched first
        {"include-name": "GET /api/v1/free_busy", "checks": ACCEPTED_OR_REFUSED},
    ]
}


def _every_check() -> list[Any]:
    load_all_checks()
    return CHECKS.get_all()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_answers_as_its_openapi_says(
    app: FastAPI, runtime: Runtime, researcher: Researcher, mode: GenerationMode
) -> None:
    runtime.settings.run_background_jobs = False
    runtime.settings.icloud_caldav_url = f"http://127.0.0.1:{free_port()}/"  # never the real iCloud
    seed_account(runtime, researcher, calendars=("Work", "Home"))
    auth = token_for(runtime, researcher)
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", app, config=schemathesis.config.SchemathesisConfig.from_dict(CONFIG)
    )
    checks = _every_check()
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 6
    for operation in operations:

        @settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],  # no shrinking: the first failure is reported as is
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def answers_as_documented(case: Any) -> None:
            case.call_and_validate(headers=auth, checks=checks)

        answers_as_documented()
