"""Accounts connected over OAuth 2 (Google, Office 365, Outlook.com, the legacy Google integration).

- ``apps``: which OAuth application each connector uses (client, endpoints, scopes), from the settings;
- ``tokens``: the token set stored (encrypted) as an account's credentials; code exchange, refresh, revoke;
- ``flow``: the authorization request (PKCE S256, ``state``) the web layer sends the researcher to;
- ``keeper``: fresh access tokens for the engine, refreshed before expiry, one refresh at a time per account.

Nothing here touches web requests or pages: ``web/pages/oauth.py`` carries the flow through the browser.
"""

from __future__ import annotations

from creneau.calendars.oauth.apps import OAuthApp, connector_of, is_oauth, oauth_apps
from creneau.calendars.oauth.tokens import TokenSet

__all__ = ["OAuthApp", "TokenSet", "connector_of", "is_oauth", "oauth_apps"]
