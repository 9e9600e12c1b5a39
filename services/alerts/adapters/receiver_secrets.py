"""Receiver secrets at rest: Fernet tokens (AES-128-CBC + HMAC-SHA256, from `cryptography`) made with
RECEIVERS_SECRET_KEY.

The setting holds one key or several, comma-separated: the first encrypts, every one decrypts (MultiFernet), so the
key itself can be rotated: put the new key first, keep the old one after it, re-save each secret (PATCH), then drop
the old key. Generate a key with
`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from shared.settings import PLACEHOLDER_SECRETS


class SecretKeyError(ValueError):
    pass


def parse_keys(value: str) -> list[str]:
    """The keys of the setting; a placeholder or a malformed key is refused with a message naming the setting."""
    keys = [k.strip() for k in value.split(",") if k.strip()]
    if not keys:
        raise SecretKeyError("RECEIVERS_SECRET_KEY is not set")
    for key in keys:
        if key.lower() in PLACEHOLDER_SECRETS or key.startswith("<"):
            raise SecretKeyError("RECEIVERS_SECRET_KEY is a placeholder; generate one with Fernet.generate_key()")
        try:
            Fernet(key.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise SecretKeyError(
                "RECEIVERS_SECRET_KEY is not a Fernet key (32 bytes, url-safe base64, 44 characters); generate one "
                'with python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
            ) from None
    return keys


class SecretBox:
    def __init__(self, value: str) -> None:
        self._fernet = MultiFernet([Fernet(k.encode("ascii")) for k in parse_keys(value)])

    def encrypt(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode("utf-8")
        except InvalidToken:
            raise SecretKeyError(
                "a receiver secret cannot be decrypted with RECEIVERS_SECRET_KEY (wrong or removed key)"
            ) from None
