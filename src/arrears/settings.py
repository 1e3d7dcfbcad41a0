"""One typed settings object, read from the environment (prefix ``ARREARS_``) or a ``.env`` file.

Outside development and test, placeholder secrets are refused: a production store must have its
own data key.
"""

from __future__ import annotations

import base64
import binascii
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development-only key: 32 bytes of a well-known phrase. Refused when env == production.
DEV_DATA_KEY = base64.b64encode(b"arrears-development-key-not-safe").decode()


class Env(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Configuration of one arrears installation."""

    model_config = SettingsConfigDict(env_prefix="ARREARS_", env_file=".env", extra="ignore")

    env: Env = Env.DEVELOPMENT
    #: SQLAlchemy URL of the store; SQLite (WAL) file by default, postgresql+psycopg://... in prod.
    database_url: str = "sqlite:///var/arrears.db"
    #: base64 of 32 random bytes; encrypts personal data and keys the lookup hashes.
    data_key: str = DEV_DATA_KEY
    #: keys still needed to open what was sealed before a rotation (comma-separated base64)
    old_data_keys: str = ""
    #: rows per chunk when streaming ingestion files.
    ingest_chunk_rows: int = 50_000
    #: the timezone whose calendar sets the business date when none is given.
    business_timezone: str = "Asia/Shanghai"
    #: a YAML file with the DPD bucket and stage tables (config/delinquency.yaml); defaults if unset
    delinquency_file: Path | None = None
    #: the collections strategy the cycle runs: a shipped name (default) or a YAML file
    strategy: str = "default"
    #: the learned model (``arrears learn train``) the cycle scores accounts with when its
    #: strategy uses model scores or makes choices (docs/LEARNING.md); none: scores are null
    model_file: Path | None = None
    #: where the cycle's plan is computed: duckdb (embedded) or spark
    cycle_engine: str = "duckdb"
    #: what every contact says about the lender (besides the portfolio's creditor name)
    org_phone: str = "400-000-0000"
    org_address: str = "上海市浦东新区示例路1号 / 1 Example Road, Pudong, Shanghai"
    #: where a borrower checks a verification code (the portal's page)
    verify_url: str = "http://127.0.0.1:8000/verify"
    #: the address borrowers and providers reach arrears at (the payment provider's return
    #: and notify URLs are built on it, never on a request's Host header); empty: the origin
    #: of ARREARS_VERIFY_URL
    public_url: str = ""
    pay_how_zh: str = "在App内“我的借款”页面还款，或转账至借款合同所列还款账户"
    pay_how_en: str = "in the app under My loans, or by transfer to the account in your agreement"
    #: the collector id automated contacts (messages, letters, robocalls) carry
    system_collector_id: str = "SYS-001"
    #: how long a verification code answers
    verification_days: int = 180
    #: a folder of contact templates (<locale>.yaml) to use instead of the shipped ones
    templates_dir: Path | None = None
    #: which adapter each channel uses (docs/CHANNELS.md); every channel on the outbox if unset
    providers_file: Path | None = None
    #: where the local outbox profile writes messages, when it writes files
    outbox_dir: Path = Path("var/outbox")
    #: whether the outbox profile writes each message as files (names and numbers in clear:
    #: the demo turns it on); a providers file may say so per channel (files: true)
    outbox_files: bool = False
    #: which agencies take each placement pool, and their shares (docs/CHANNELS.md); each pool
    #: is one agency of the same name if unset
    agencies_file: Path | None = None
    #: how long an agency keeps an account before it is recalled
    placement_days: int = 90
    #: where placement and recall files, and legal packages, are written
    placements_dir: Path = Path("var/placements")
    #: promise limits and other collections rules per portfolio (service/cases/policy.py); defaults
    #: if unset
    collections_policy_file: Path | None = None
    #: the secret providers sign their webhooks with (HMAC-SHA256); the API refuses to start
    #: without one
    webhook_secret: str = ""
    legal_dir: Path = Path("var/legal")
    #: the payment provider's hosted checkout the portal sends borrowers to; empty: the
    #: sandbox provider served beside the portal (development and test only)
    pay_checkout_url: str = ""
    #: the provider's name, recorded with each order
    pay_provider: str = "sandbox"
    #: the secret the provider signs its callbacks and we sign our redirects with; in
    #: development and test one is derived from the data key when unset
    pay_secret: str = ""
    #: addresses or networks (comma-separated, e.g. "10.0.0.5,10.1.0.0/16") of the reverse
    #: proxies whose X-Forwarded-For is believed; from anyone else the header is ignored
    trusted_proxies: str = ""

    @field_validator("old_data_keys")
    @classmethod
    def _old_keys_are_32_bytes(cls, value: str) -> str:
        for k in (x.strip() for x in value.split(",") if x.strip()):
            try:
                raw = base64.b64decode(k, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ValueError(
                    "ARREARS_OLD_DATA_KEYS must be base64 keys, comma-separated"
                ) from exc
            if len(raw) != 32:
                raise ValueError("each of ARREARS_OLD_DATA_KEYS must decode to 32 bytes")
        return value

    @field_validator("data_key")
    @classmethod
    def _key_is_32_bytes(cls, value: str) -> str:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("ARREARS_DATA_KEY must be base64") from exc
        if len(raw) != 32:
            raise ValueError("ARREARS_DATA_KEY must decode to 32 bytes")
        return value

    @model_validator(mode="after")
    def _no_placeholder_in_production(self) -> Settings:
        if self.env is Env.PRODUCTION and self.data_key == DEV_DATA_KEY:
            raise ValueError("ARREARS_DATA_KEY is the development placeholder; set a real key")
        return self

    @property
    def checkout_secret(self) -> str:
        """The payment provider's signing secret ("" when payments are not set up)."""
        if self.pay_secret or self.env is Env.PRODUCTION:
            return self.pay_secret
        import hashlib
        import hmac

        mac = hmac.new(self.data_key_bytes, b"arrears/sandbox-checkout", hashlib.sha256)
        return mac.hexdigest()

    @property
    def data_key_bytes(self) -> bytes:
        return base64.b64decode(self.data_key)

    @property
    def public_base(self) -> str:
        """The public origin, without a trailing slash."""
        if self.public_url:
            return self.public_url.rstrip("/")
        from urllib.parse import urlsplit

        parts = urlsplit(self.verify_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def old_data_keys_bytes(self) -> list[bytes]:
        return [base64.b64decode(k) for k in self.old_data_keys.split(",") if k.strip()]

    def sqlite_path(self) -> Path | None:
        """The SQLite file behind ``database_url``, if it is one."""
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix) and ":memory:" not in self.database_url:
            return Path(self.database_url[len(prefix) :])
        return None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
