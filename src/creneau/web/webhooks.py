"""The push webhooks calendar servers call (no session, no CSRF token: the channel's secret is the
credential, checked in ``calendars/push.py``). They answer at once and leave the sync to the job runner.

``POST /webhooks/<path>`` reaches the provider that declared ``<path>`` (Google: ``google``; Microsoft
Graph: ``microsoft`` and ``microsoft/lifecycle``) through the engine, never a provider module directly:

- a validation handshake (Graph's ``?validationToken=``) → the token as text/plain;
- notifications → the provider's 2xx (Google 200, Graph 202) with a sync queued for each account they
  announce, or 403 when none of them matched a channel and its secret (logged, nothing queued);
- a body that is not that server's notification → 400; a path no provider listens at → 404.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from creneau.calendars import push
from creneau.web.deps import RuntimeDep

router = APIRouter(include_in_schema=False)


@router.post(push.WEBHOOKS + "/{path:path}")
async def webhook(path: str, request: Request, runtime: RuntimeDep) -> Response:
    body = await request.body()
    try:
        outcome = await run_in_threadpool(
            push.receive,
            runtime.ctx,
            path=path,
            headers=dict(request.headers),
            query=dict(request.query_params),
            body=body,
        )
    except push.UnknownWebhook:
        return PlainTextResponse("no calendar server sends notifications here", status_code=404)
    except ValueError:
        return PlainTextResponse("not a notification of this calendar server", status_code=400)
    if outcome.handshake is not None:
        return PlainTextResponse(outcome.handshake, status_code=200)
    runtime.jobs.enqueue_syncs(sorted(outcome.sync))
    for account_id in sorted(outcome.renew):
        runtime.jobs.enqueue_push_renewal(account_id)
    return Response(status_code=outcome.status)
