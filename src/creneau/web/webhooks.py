"""The push webhooks Google and Microsoft Graph call (no session, no CSRF token: the channel's secret is the
credential, checked in ``calendars/push.py``). They answer at once and leave the sync to the job runner.

==========================================  ==================================================================
``POST /webhooks/google``                   ``X-Goog-*`` headers: 200 (and a sync queued on a change), or 403
                                            when the channel is unknown or its token wrong (logged, nothing
                                            queued)
``POST /webhooks/microsoft``                ``?validationToken=`` → the token as text/plain (subscription
``POST /webhooks/microsoft/lifecycle``      handshake); else the notifications: 202, or 403 when none of
                                            them matched a subscription and its clientState
==========================================  ==================================================================
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from creneau.calendars import push
from creneau.calendars.providers.msgraph.push import validation_answer
from creneau.web.deps import RuntimeDep

router = APIRouter(include_in_schema=False)


@router.post(push.GOOGLE_PATH)
def google(request: Request, runtime: RuntimeDep) -> Response:
    outcome = push.google_notification(runtime.ctx, request.headers)
    if outcome.sync is not None:
        runtime.jobs.enqueue_sync(outcome.sync)
    return Response(status_code=200 if outcome.accepted else 403)


@router.post(push.GRAPH_PATH)
@router.post(push.GRAPH_LIFECYCLE_PATH)
async def microsoft(request: Request, runtime: RuntimeDep) -> Response:
    token = validation_answer(dict(request.query_params))
    if token is not None:
        return PlainTextResponse(token, status_code=200)
    body = await request.body()
    try:
        outcome = await run_in_threadpool(push.graph_notifications, runtime.ctx, body)
    except ValueError:
        return PlainTextResponse("not a Microsoft Graph notification", status_code=400)
    runtime.jobs.enqueue_syncs(sorted(outcome.sync))
    for account_id in sorted(outcome.renew):
        runtime.jobs.enqueue_push_renewal(account_id)
    if outcome.refused and not (outcome.sync or outcome.renew):
        return Response(status_code=403)
    return Response(status_code=202)
