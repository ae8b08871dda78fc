"""Credentials at rest: Fernet (AES-128-CBC + HMAC-SHA256, authenticated) with key rotation.

``CRENEAU_SECRET_KEYS`` holds one or more Fernet keys separated by commas. The first key encrypts; every key
decrypts, so a new key is put first and the old one kept until ``creneau rotate-keys`` (:meth:`Vault.rotate`)
has re-encrypted the stored rows.
In development, when no key is configured, a key is generated once into ``var/dev-secret.key``.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from creneau.config import Settings
from creneau.errors import ConfigurationError


class Vault:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ConfigurationError("at least one secret key is needed to encrypt credentials")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except ValueError as exc:
            raise ConfigurationError(
                "CRENEAU_SECRET_KEYS must be Fernet keys (32 url-safe base64-encoded bytes); "
                "generate one with `creneau generate-key`"
            ) from exc

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, token: bytes) -> str:
        """:raises ConfigurationError: when no configured key can decrypt ``token`` (a key was removed)."""
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            raise ConfigurationError(
                "stored credentials cannot be decrypted with the configured CRENEAU_SECRET_KEYS"
            ) from None

    def rotate(self, token: bytes) -> bytes:
        return self._fernet.rotate(token)


def generate_key() -> str:
    return Fernet.generate_key().decode()


def vault_from_settings(settings: Settings) -> Vault:
    keys = [k.strip() for k in settings.secret_keys.get_secret_value().split(",") if k.strip()]
    if not keys:
        settings.check_production()  # raises outside development
        keys = [_development_key(settings.var_dir)]
    return Vault(keys)


def _development_key(var_dir: Path) -> str:
    path = var_dir / "dev-secret.key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    path.write_text(key)
    path.chmod(0o600)
    return key
