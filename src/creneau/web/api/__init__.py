"""The JSON API, version 1: ``/api/v1/...``. Authentication: a personal API token (``Authorization: Bearer``)
or, from our own pages, the session cookie plus the ``X-CSRF-Token`` header on unsafe methods."""

from __future__ import annotations

from fastapi import APIRouter

from creneau.web.api import accounts, freebusy
from creneau.web.api.schemas import INVALID, ErrorOut

router = APIRouter(
    prefix="/api/v1",
    responses={
        401: {"model": ErrorOut, "description": "No valid API token or session"},
        403: {"model": ErrorOut, "description": 'A session cookie without X-CSRF-Token ("csrf_failed")'},
        **INVALID,
    },
)
router.include_router(accounts.router)
router.include_router(freebusy.router)

__all__ = ["router"]
