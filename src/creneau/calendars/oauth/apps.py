"""The OAuth applications creneau signs researchers in with, one per *connector*.

A connector is how an account was connected; several share a provider kind (the wire protocol):

==================  ==========  ===========================================================================
connector           provider    OAuth application
==================  ==========  ===========================================================================
``google``          google      ``CRENEAU_GOOGLE_CLIENT_ID``, Google's endpoints, every calendar
``google_legacy``   google      the old integration's client (``…_LEGACY_GOOGLE_CLIENT_ID``), one calendar
``office365``       msgraph     ``CRENEAU_MICROSOFT_CLIENT_ID``, tenant ``organizations`` (work and school)
``outlook``         msgraph     the same client, tenant ``consumers`` (Outlook.com, Hotmail, Live)
==================  ==========  ===========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

from creneau.calendars.providers.http import NetworkPolicy
from creneau.config import Settings
from creneau.store.models import CalendarAccount

GOOGLE_SCOPE = "openid email https://www.googleapis.com/auth/calendar"
MICROSOFT_SCOPE = "openid email offline_access User.Read Calendars.ReadWrite MailboxSettings.Read"
CONNECTORS = ("google", "office365", "outlook", "google_legacy")
_DEFAULT_CONNECTOR = {"msgraph": "office365"}  # accounts stored before connectors existed
TOKEN_TIMEOUT = 15.0  # seconds per request to a token or revocation endpoint


@dataclass(frozen=True)
class OAuthApp:
    connector: str
    provider: str  # registry kind of calendars/providers
    client_id: str
    client_secret: str = field(repr=False)  # never in logs or tracebacks
    authorize_url: str
    token_url: str
    revoke_url: str | None
    api_url: str  # what the provider's Connection.server_url is
    scope: str
    # Extra authorization parameters: Google sends a refresh token only with access_type=offline, and again
    # on a second consent only with prompt=consent; Microsoft shows its account picker with select_account.
    extra: tuple[tuple[str, str], ...] = ()
    # How the token and revocation endpoints are reached: through the providers' guarded client, with the
    # operator's allowed private networks (the emulators of the demo and tests listen on loopback).
    network: NetworkPolicy = field(default_factory=lambda: NetworkPolicy(timeout=TOKEN_TIMEOUT))

    @property
    def single_calendar(self) -> bool:
        """The legacy Google integration synced and wrote one calendar: the account's primary one."""
        return self.connector == "google_legacy"


def oauth_apps(settings: Settings) -> dict[str, OAuthApp]:
    """Every connector whose application is configured (a client id is set), by connector name."""
    apps: dict[str, OAuthApp] = {}
    network = NetworkPolicy(
        allowed_private_networks=tuple(settings.allowed_private_networks), timeout=TOKEN_TIMEOUT
    )
    google = {
        "network": network,
        "provider": "google",
        "authorize_url": settings.google_authorize_url,
        "token_url": settings.google_token_url,
        "revoke_url": settings.google_revoke_url or None,
        "api_url": settings.google_api_url,
        "scope": GOOGLE_SCOPE,
        "extra": (("access_type", "offline"), ("prompt", "consent"), ("include_granted_scopes", "true")),
    }
    if settings.google_client_id:
        apps["google"] = OAuthApp(
            connector="google",
            client_id=settings.google_client_id,
            client_secret=settings.google_client_secret.get_secret_value(),
            **google,  # type: ignore[arg-type]
        )
    legacy_id = settings.legacy_google_client_id or settings.google_client_id
    if legacy_id:
        apps["google_legacy"] = OAuthApp(
            connector="google_legacy",
            client_id=legacy_id,
            client_secret=settings.legacy_google_client_secret.get_secret_value()
            if settings.legacy_google_client_id
            else settings.google_client_secret.get_secret_value(),
            **google,  # type: ignore[arg-type]
        )
    if settings.microsoft_client_id:
        login = settings.microsoft_login_url.rstrip("/")
        for connector, tenant in (
            ("office365", settings.microsoft_office365_tenant),
            ("outlook", "consumers"),
        ):
            apps[connector] = OAuthApp(
                connector=connector,
                provider="msgraph",
                client_id=settings.microsoft_client_id,
                client_secret=settings.microsoft_client_secret.get_secret_value(),
                authorize_url=f"{login}/{tenant}/oauth2/v2.0/authorize",
                token_url=f"{login}/{tenant}/oauth2/v2.0/token",
                revoke_url=None,  # Microsoft has no revocation endpoint for a single grant
                api_url=settings.microsoft_graph_url,
                scope=MICROSOFT_SCOPE,
                extra=(("prompt", "select_account"),),
                network=network,
            )
    return apps


def connector_of(account: CalendarAccount) -> str:
    """The account's connector: ``caldav``, ``icloud``, or one of :data:`CONNECTORS`."""
    return account.connector or _DEFAULT_CONNECTOR.get(account.provider, account.provider)


def is_oauth(account: CalendarAccount) -> bool:
    return connector_of(account) in CONNECTORS
