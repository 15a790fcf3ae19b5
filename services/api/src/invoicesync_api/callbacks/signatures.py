"""Lexware signs each event callback with its private key (RSA, SHA-512, base64 in the
``X-Lxo-Signature`` header); we check it with the public key Lexware publishes."""

from __future__ import annotations

import base64
import binascii

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class LexwareSignatures:
    """The public key comes from settings (the PEM of Lexware's documentation) or, in
    development, from a URL (the sandbox serves its own); fetched once, and once more when
    a signature fails, in case the sandbox restarted with a new key."""

    def __init__(self, pem: str, url: str) -> None:
        self._key = _load(pem) if pem else None
        self._url = url

    @property
    def configured(self) -> bool:
        return self._key is not None or bool(self._url)

    async def valid(self, body: bytes, signature: str | None) -> bool:
        if not signature or not self.configured:
            return False
        try:
            raw = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            return False
        if self._key is not None and _verifies(self._key, body, raw):
            return True
        if not self._url:
            return False
        self._key = await self._fetch()
        return self._key is not None and _verifies(self._key, body, raw)

    async def _fetch(self) -> rsa.RSAPublicKey | None:
        try:
            async with httpx.AsyncClient(timeout=5.0) as http:
                response = await http.get(self._url)
            response.raise_for_status()
            return _load(response.text)
        except (httpx.HTTPError, ValueError):
            return None


def _load(pem: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("Lexware's callback key must be an RSA public key")
    return key


def _verifies(key: rsa.RSAPublicKey, body: bytes, signature: bytes) -> bool:
    try:
        key.verify(signature, body, padding.PKCS1v15(), hashes.SHA512())
    except InvalidSignature:
        return False
    return True
