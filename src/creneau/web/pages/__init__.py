"""Server-rendered pages. Every unsafe request of every page must carry the session's CSRF token."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from creneau.web.csrf import require_form_token
from creneau.web.pages import auth, booking, integrations, oauth, security, studies, tokens, workspace

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_form_token)])
router.include_router(auth.router)
router.include_router(integrations.router)
router.include_router(oauth.router)
router.include_router(tokens.router)
router.include_router(security.router)
router.include_router(studies.router)
router.include_router(workspace.router)
router.include_router(booking.router)

__all__ = ["router"]
