"""Settings, built once and passed down (``create_app(settings)``).

Every setting is read from the environment with the ``RONDA_`` prefix and ``__`` between a
group and its field (``RONDA_SYNC__MAX_CHANGES=500``); docs/operations.md documents each one
and a test keeps the two in step.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from server.attachment_settings import AttachmentSettings
from server.retention.settings import RetentionSettings


class DatabaseSettings(BaseModel):
    url: str = Field(
        "sqlite+aiosqlite:///./ronda.db",
        description="SQLAlchemy URL: sqlite+aiosqlite:///PATH or postgresql+asyncpg://...",
    )
    sqlite_synchronous: Literal["NORMAL", "FULL", "EXTRA"] = Field(
        "FULL", description="SQLite fsync level; FULL survives power loss, not only kill -9."
    )
    pool_size: int = Field(5, ge=1, le=100, description="Database connections kept open.")
    sqlite_cache_mb: int = Field(
        64, ge=2, le=4096, description="SQLite page cache of each connection, in MB."
    )
    upgrade_on_start: bool = Field(
        True, description="Migrate an older database schema when the server starts."
    )
    pgbouncer: bool = Field(
        False, description="PostgreSQL is reached through PgBouncer in transaction mode."
    )
    replica_url: str = Field(
        "", description="A streaming replica for layers, analysis and public pages ('': none)."
    )
    replica_wait_s: float = Field(
        1.0, ge=0, le=30, description="How long a read waits for the replica to catch up."
    )


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
    snapshot_streams: int = Field(
        4, ge=1, le=1000, description="First-sync snapshot streams one worker serves at once."
    )
    busy_retry_after_s: int = Field(
        5, ge=1, le=3600, description="Retry-After of a 429 busy answer, in seconds."
    )
    max_inflight: int = Field(
        8, ge=1, le=10_000, description="Sync and tile requests one worker serves at once."
    )
    max_queued: int = Field(
        256, ge=0, le=100_000, description="Requests one worker lets wait for max_inflight."
    )
    queue_wait_s: float = Field(
        0.5, ge=0, le=30, description="Longest a request waits for admission before a 429."
    )
    queue_target_s: float = Field(
        0.05,
        ge=0,
        le=30,
        description="Longest admission wait once the queue has not emptied for 0.1 s.",
    )
    device_rate_per_s: float = Field(
        20.0, gt=0, le=1000, description="Sync requests a second one device may make (refill)."
    )
    device_burst: int = Field(
        300, ge=1, le=100_000, description="Sync requests one device may make in a burst."
    )
    wait_waiters: int = Field(
        500, ge=1, le=100_000, description="Wake-up long-polls one worker holds open at once."
    )
    wait_max_s: int = Field(
        25, ge=1, le=300, description="Longest a wake-up long-poll is held open, in seconds."
    )
    pii_roles: list[str] = Field(
        ["chief"], description="Roles that see all personal data of their scope."
    )
    group_max_changes: int = Field(
        20_000,
        ge=1,
        le=1_000_000,
        description="Most changes written in one group commit (pushes that queue together).",
    )
    answer_retention_days: int = Field(
        30, ge=1, description="How long a batch's answer is kept for retries."
    )


class AuthSettings(BaseModel):
    enrollment_ttl_s: int = Field(900, ge=60, description="Lifetime of a one-time code.")


class AnalysisSettings(BaseModel):
    debounce_s: float = Field(
        5.0, ge=0, description="Wait after a sync before recomputing kept analysis results."
    )
    default_weeks: int = Field(
        12, ge=1, le=520, description="Window of an analysis asked for without a start."
    )
    default_resolution: int = Field(
        9, ge=5, le=9, description="H3 resolution of hotspot cells when none is asked."
    )
    max_kept: int = Field(
        256, ge=1, description="Analysis results kept in memory and refreshed after syncs."
    )


class LayerSettings(BaseModel):
    raw_points_zoom: int = Field(
        14, ge=0, le=18, description="Zoom from which incident tiles carry points, not clusters."
    )
    tile_cache_mb: int = Field(256, ge=1, description="Memory for cached tiles (MB).")
    shift_gap_s: int = Field(
        4 * 3600, ge=60, description="A pause longer than this starts a new patrol track."
    )
    max_age_s: int = Field(300, ge=0, description="Cache-Control max-age of public layers.")


class ServerSettings(BaseModel):
    host: str = Field("127.0.0.1", description="Address `ronda serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `ronda serve` listens on.")
    request_timeout_s: float = Field(
        30.0, gt=0, description="Longest time one request may take before a 503."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level of the JSON logs."
    )
    public_url: str | None = Field(
        None,
        description="The server's public base URL (https://host[:port][/path]) for links in "
        "TileJSON, OGC API answers and the enrollment QR; unset: the request's own host.",
        examples=["https://ronda.example"],
    )

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        # Links are built as public_url + path: a query, fragment or missing host breaks them.
        if value is None or value.strip() == "":
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("public_url must be an http(s) URL with a host")
        if parts.query or parts.fragment or "@" in parts.netloc:
            raise ValueError("public_url takes no user, query or fragment")
        return value.strip().rstrip("/")


class WebSettings(BaseModel):
    session_hours: float = Field(
        12.0, gt=0, le=720, description="How long a browser sign-in lasts, in hours."
    )
    secure_cookies: bool = Field(
        False, description="Mark the session cookie Secure (set true behind https)."
    )
    throttle_after: int = Field(
        5,
        ge=1,
        le=100,
        description="Failed sign-ins of one officer id from one address before each further "
        "attempt from there waits 2, 4, 8 ... seconds.",
    )
    address_throttle_after: int = Field(
        30, ge=1, le=10_000, description="The same for one address over every officer id."
    )
    officer_throttle_after: int = Field(
        20,
        ge=1,
        le=10_000,
        description="The same for one officer id over every address (slows only addresses "
        "that failed for it).",
    )
    throttle_max_s: int = Field(
        900, ge=1, le=86_400, description="Longest wait between two sign-in attempts, seconds."
    )
    default_language: Literal["es", "en"] = Field("es", description="Language of the pages.")
    max_map_points: int = Field(
        20_000, ge=100, le=500_000, description="Most incident points the map loads at once."
    )
    default_window_days: int = Field(
        90, ge=1, le=3660, description="The map's time window when none is chosen, in days."
    )


class PublicSettings(BaseModel):
    k: int = Field(5, ge=2, le=100, description="Counts under k are suppressed.")
    delay_days: int = Field(
        28, ge=0, le=365, description="Days after a month ends before it is published."
    )
    months: int = Field(12, ge=1, le=120, description="How many months are published.")
    utc_offset_minutes: int = Field(
        -300, ge=-840, le=840, description="Offset of the city's local time (calendar months)."
    )
    cell_resolution: int = Field(
        6, ge=4, le=7, description="H3 resolution of the public cell map (coarse: 7 at most)."
    )
    cell_rounding: int = Field(10, ge=1, le=1000, description="Cell counts rounded to this.")
    rate_per: int = Field(10_000, ge=100, description="Rates are per this many residents.")


class Settings(BaseSettings):
    """All settings of a Ronda server."""

    model_config = SettingsConfigDict(
        env_prefix="RONDA_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    database: DatabaseSettings = DatabaseSettings()
    sync: SyncSettings = SyncSettings()
    auth: AuthSettings = AuthSettings()
    analysis: AnalysisSettings = AnalysisSettings()
    layers: LayerSettings = LayerSettings()
    server: ServerSettings = ServerSettings()
    web: WebSettings = WebSettings()
    public: PublicSettings = PublicSettings()
    attachments: AttachmentSettings = AttachmentSettings()
    retention: RetentionSettings = RetentionSettings()
