"""Credentials at rest: encrypted, and readable after a key rotation."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from invoicesync_shared.crypto import SecretBox, generate_key


def test_rotation_keeps_old_values_readable_and_rewraps_them() -> None:
    old, new = generate_key(), generate_key()
    stored = SecretBox(SecretStr(old)).encrypt_json({"access_token": "tok"})
    assert b"tok" not in stored
    rotated_box = SecretBox(SecretStr(f"{new},{old}"))
    assert rotated_box.decrypt_json(stored) == {"access_token": "tok"}
    rewrapped = rotated_box.rotate(stored)
    assert SecretBox(SecretStr(new)).decrypt_json(rewrapped) == {"access_token": "tok"}


def test_a_foreign_key_cannot_read_and_says_so() -> None:
    stored = SecretBox(SecretStr(generate_key())).encrypt(b"secret")
    with pytest.raises(ValueError, match="cannot be decrypted"):
        SecretBox(SecretStr(generate_key())).decrypt(stored)


def test_no_key_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="INVOICESYNC_ENCRYPTION_KEYS"):
        SecretBox(SecretStr(""))
