"""Encryption at rest for credentials and webhook secrets (Fernet, rotatable keys)."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr


class SecretBox:
    """Encrypts with the first key and decrypts with any, so keys can be rotated.

    Rotation: put a new key first, keep the old ones after it, run ``rotate`` over the
    stored values, then drop the old keys.
    """

    def __init__(self, keys: SecretStr) -> None:
        raw = [k.strip() for k in keys.get_secret_value().split(",") if k.strip()]
        if not raw:
            raise ValueError("INVOICESYNC_ENCRYPTION_KEYS is empty: credentials cannot be stored")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in raw])

    def encrypt(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def decrypt(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise ValueError("stored secret cannot be decrypted with the configured keys") from exc

    def rotate(self, token: bytes) -> bytes:
        return self._fernet.rotate(token)

    def encrypt_json(self, value: dict[str, Any]) -> bytes:
        return self.encrypt(json.dumps(value).encode())

    def decrypt_json(self, token: bytes) -> dict[str, Any]:
        value = json.loads(self.decrypt(token))
        if not isinstance(value, dict):
            raise ValueError("stored secret is not a JSON object")
        return value


def generate_key() -> str:
    return Fernet.generate_key().decode()
