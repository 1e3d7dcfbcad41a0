"""Personal data at rest: deterministic authenticated encryption and keyed lookup hashes.

Names, national ID numbers, phone numbers, emails and addresses are stored encrypted with
AES-SIV (RFC 5297) under a key derived from ``ARREARS_DATA_KEY``; the column name is bound in as
associated data, so a value moved to another column does not decrypt. AES-SIV is deterministic:
re-ingesting the same file writes the same bytes, so an upsert changes nothing. Lookups by phone
or national ID go through HMAC-SHA256 of the normalised value under a second derived key, never
through the plaintext.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class CryptoError(ValueError):
    """A ciphertext that does not decrypt under this key."""


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


class Cipher:
    """Encrypts and decrypts personal data fields; computes lookup hashes."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ValueError("the data key must be 32 bytes")
        self._siv = AESSIV(_derive(master_key, b"arrears/pii/aes-siv", 64))
        self._mac_key = _derive(master_key, b"arrears/pii/lookup-hmac", 32)

    def encrypt(self, column: str, value: str | None) -> bytes | None:
        if value is None or value == "":
            return None
        return self._siv.encrypt(value.encode("utf-8"), [column.encode()])

    def decrypt(self, column: str, blob: bytes | None) -> str | None:
        if blob is None:
            return None
        try:
            return self._siv.decrypt(bytes(blob), [column.encode()]).decode("utf-8")
        except InvalidTag as exc:
            raise CryptoError(f"{column}: cannot decrypt (wrong key or tampered)") from exc

    def encrypt_bytes(self, column: str, data: bytes) -> bytes:
        """Files (a complaint's evidence): the same sealed encryption, bound to ``column``."""
        return self._siv.encrypt(data, [column.encode()])

    def decrypt_bytes(self, column: str, blob: bytes) -> bytes:
        try:
            return self._siv.decrypt(bytes(blob), [column.encode()])
        except InvalidTag as exc:
            raise CryptoError(f"{column}: cannot decrypt (wrong key or tampered)") from exc

    def lookup_hash(self, kind: str, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        canon = normalise(kind, value).encode("utf-8")
        return hmac.digest(self._mac_key, kind.encode() + b":" + canon, hashlib.sha256).hex()


def mask_phone(phone: str) -> str:
    """138****5678 — what a role without personal-data access sees."""
    digits = re.sub(r"\D", "", phone)
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 7 else "****"
