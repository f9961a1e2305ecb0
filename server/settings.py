"""Settings, built once and passed down (``create_app(settings)``).

Every setting is read from the environment with the ``RONDA_`` prefix and ``__`` between a
group and its field (``RONDA_SYNC__MAX_CHANGES=500``); docs/operations.md documents each one
and a test keeps the two in step.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DatabaseSettings(BaseModel):
    url: str = Field(
        "sqlite+aiosqlite:///./ronda.db",
        description="SQLAlchemy URL: sqlite+aiosqlite:///PATH or postgresql+asyncpg://...",
    )
    sqlite_synchronous: Literal["NORMAL", "FULL", "EXTRA"] = Field(
        "FULL", description="SQLite fsync level; FULL survives power loss, not only kill -9."
    )
    pool_size: int = Field(5, ge=1, le=100, description="Database connections kept open.")


class SyncSettings(BaseModel):
    max_changes: int = Field(1000, ge=1, le=10_000, description="Changes per push batch.")
    max_body_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="Largest request body as sent (compressed)."
    )
    max_decompressed_bytes: int = Field(
        32 * 1024 * 1024, ge=1024, description="Largest request body after decompression."
    )
    max_clock_ahead_ms: int = Field(
        300_000, ge=1000, description="How far ahead of the server a change's clock may be."
    )
    pull_default_limit: int = Field(500, ge=1, description="Pull page size when none is asked.")
    pull_max_limit: int = Field(5000, ge=1, description="Largest pull page.")
    pii_roles: list[str] = Field(
        ["chief"], description="Roles that see all personal data of their scope."
    )
    answer_retention_days: int = Field(
        30, ge=1, description="How long a batch's answer is kept for retries."
    )


class AuthSettings(BaseModel):
    enrollment_ttl_s: int = Field(900, ge=60, description="Lifetime of a one-time code.")


class ServerSettings(BaseModel):
    host: str = Field("127.0.0.1", description="Address `ronda serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `ronda serve` listens on.")
    request_timeout_s: float = Field(
        30.0, gt=0, description="Longest time one request may take before a 503."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level of the JSON logs."
    )


class Settings(BaseSettings):
    """All settings of a Ronda server."""

    model_config = SettingsConfigDict(
        env_prefix="RONDA_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    database: DatabaseSettings = DatabaseSettings()
    sync: SyncSettings = SyncSettings()
    auth: AuthSettings = AuthSettings()
    server: ServerSettings = ServerSettings()
