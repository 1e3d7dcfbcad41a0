"""Personal data at rest: randomised authenticated encryption, keyed lookup hashes, rotation.

* **Fields nobody looks up by** (names, addresses, message texts, evidence files) are sealed
  with AES-GCM-SIV under a key derived from ``ARREARS_DATA_KEY``, with a fresh random nonce each
  time: equal names give different ciphertexts, so the store does not tell who shares a name.
  The column is bound in as associated data, so a value moved to another column does not open.
  A sealed value is ``0x01 | key id (4) | nonce (12) | ciphertext and tag``.
* **Lookups** (a phone, a national ID, a verification code) go through HMAC-SHA256 of the
  normalised value under a second derived key, never through the plaintext.
* **Rotation**: ``ARREARS_OLD_DATA_KEYS`` (comma-separated) lists the keys still needed to open
  what was sealed before; every value carries its key's id. ``arrears keys rotate`` seals again
  under the current key, in batches, and reports what is left; an old key may go when nothing
  is left under it. Lookups try the current key's hash first, then the old keys'.
* Values written before randomised sealing (deterministic AES-SIV, no prefix) still open, under
  any known key, and are sealed anew by the rotation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV, AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = b"\x01"
NONCE = 12
#: how a sealed text column's value starts (texts written before sealing are plain)
TEXT_MARK = "enc1:"


class CryptoError(ValueError):
    """A ciphertext that does not decrypt under any known key."""


def _derive(master: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(master)


def normalise(kind: str, value: str) -> str:
    """The canonical form hashed for lookups: digits of a phone (+86 dropped), upper-case IDs."""
    value = value.strip()
    if kind == "phone":
        digits = re.sub(r"\D", "", value)
        if digits.startswith("86") and len(digits) == 13:
            digits = digits[2:]
        return digits
    if kind == "email":
        return value.lower()
    if kind == "national_id":
        return value.upper()
    return value


class _Key:
    def __init__(self, master: bytes) -> None:
        if len(master) != 32:
            raise ValueError("a data key must be 32 bytes")
        self.id = _derive(master, b"arrears/pii/key-id", 4)
        self.aead = AESGCMSIV(_derive(master, b"arrears/pii/aes-gcm-siv", 32))
        self.legacy = AESSIV(_derive(master, b"arrears/pii/aes-siv", 64))
        self.mac = _derive(master, b"arrears/pii/lookup-hmac", 32)


class Cipher:
    """Seals and opens personal data fields; computes lookup hashes."""

    def __init__(self, master_key: bytes, old_keys: Sequence[bytes] = ()) -> None:
        self._current = _Key(master_key)
        self._keys = [self._current, *(_Key(k) for k in old_keys)]
        self._by_id = {k.id: k for k in self._keys}

    @property
    def key_id(self) -> bytes:
        return self._current.id

    def is_current(self, blob: bytes | None) -> bool:
        """Whether ``blob`` is sealed the current way under the current key."""
        return blob is None or (blob[:1] == VERSION and bytes(blob[1:5]) == self._current.id)

    def _seal(self, column: str, data: bytes) -> bytes:
        nonce = os.urandom(NONCE)
        sealed = self._current.aead.encrypt(nonce, data, column.encode())
        return VERSION + self._current.id + nonce + sealed

    def _open(self, column: str, blob: bytes) -> bytes:
        raw = bytes(blob)
        if raw[:1] == VERSION and len(raw) > 5 + NONCE:
            key = self._by_id.get(raw[1:5])
            if key is not None:
                try:
                    return key.aead.decrypt(raw[5 : 5 + NONCE], raw[5 + NONCE :], column.encode())
                except InvalidTag:
                    pass  # perhaps a legacy value that happens to start alike
        for key in self._keys:  # sealed before: deterministic AES-SIV, no prefix
            try:
                return key.legacy.decrypt(raw, [column.encode()])
            except InvalidTag:
                continue
        raise CryptoError(f"{column}: cannot decrypt (wrong key or tampered)")

    def encrypt(self, column: str, value: str | None) -> bytes | None:
        if value is None or value == "":
            return None
        return self._seal(column, value.encode("utf-8"))

    def decrypt(self, column: str, blob: bytes | None) -> str | None:
        if blob is None:
            return None
        return self._open(column, blob).decode("utf-8")

    def encrypt_bytes(self, column: str, data: bytes) -> bytes:
        """Files (a complaint's evidence): sealed the same way, bound to ``column``."""
        return self._seal(column, data)

    def decrypt_bytes(self, column: str, blob: bytes) -> bytes:
        return self._open(column, blob)

    def seal_text(self, column: str, value: str | None) -> str | None:
        """A text column's value sealed, as text (``enc1:`` and base64)."""
        if value is None:
            return None
        return TEXT_MARK + base64.b64encode(self._seal(column, value.encode("utf-8"))).decode()

    def open_text(self, column: str, value: str | None) -> str | None:
        """A text column's value opened (a value from before sealing is returned as it is)."""
        if value is None or not value.startswith(TEXT_MARK):
            return value
        return self._open(column, base64.b64decode(value[len(TEXT_MARK) :])).decode("utf-8")

    def text_is_current(self, value: str | None) -> bool:
        if value is None:
            return True
        if not value.startswith(TEXT_MARK):
            return False
        return self.is_current(base64.b64decode(value[len(TEXT_MARK) : len(TEXT_MARK) + 8]))

    def lookup_hash(self, kind: str, value: str | None) -> str | None:
        """The lookup hash under the current key (what is written)."""
        found = self.lookup_hashes(kind, value)
        return found[0] if found else None

    def lookup_hashes(self, kind: str, value: str | None) -> list[str]:
        """The lookup hash under every known key, the current first (what is looked for: a value
        hashed before a rotation is found until it is hashed again)."""
        if value is None or value.strip() == "":
            return []
        canon = kind.encode() + b":" + normalise(kind, value).encode("utf-8")
        return [hmac.digest(k.mac, canon, hashlib.sha256).hex() for k in self._keys]


def mask_phone(phone: str) -> str:
    """138****5678 — what a role without personal-data access sees."""
    digits = re.sub(r"\D", "", phone)
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 7 else "****"
