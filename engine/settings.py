"""The one typed settings object; built once by the composition root from TESSERA_* variables."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything configurable. Unset service URLs mean the embedded profile."""

    model_config = SettingsConfigDict(env_prefix="TESSERA_", extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Where the embedded profile keeps its files.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; unset: SQLite in data_dir.")
    elasticsearch_url: str | None = None
    broker_url: str | None = None
    environment: Literal["development", "production"] = Field(
        default="development", description="production refuses development keys and requires authentication.")
    auth_required: bool = Field(default=True, description="Bearer tokens on every endpoint touching patient data.")
    auth_issuer: str = "urn:tessera:issuer"
    auth_audience: str = "urn:tessera:fhir"
    auth_signing_key_file: Path | None = Field(default=None, description="PEM EC P-256 key of the local issuer.")
    auth_jwks_file: Path | None = Field(default=None, description="JWKS of an external issuer (same iss/aud).")
    auth_jwks_url: str | None = None
    consent_default: Literal["opt-out", "opt-in"] = Field(
        default="opt-out", description="Cross-institution sharing when a patient has no Consent saying otherwise.")
    default_institution: str = Field(default="local", description="Owner of data loaded by the CLI.")
    rate_limit_per_minute: int = 1200
    base_url: str | None = Field(default=None, description="Public base URL of /fhir; derived from requests if unset.")
    default_source: str = Field(default="urn:tessera:api", description="meta.source for writes that name none.")
    referential_integrity: bool = Field(default=True, description="Reject writes whose references point at nothing.")
    max_request_bytes: int = 32 * 1024 * 1024
    max_json_depth: int = 64
    default_page_size: int = 50
    max_page_size: int = 1000
    db_pool_size: int = 10
    api_tls_cert: Path | None = Field(default=None, description="PEM certificate chain; with the key, the API serves HTTPS.")
    api_tls_key: Path | None = None
    identity_matching: Literal["inline", "background", "workers"] = Field(
        default="inline", description="Match a written Patient before the write returns (inline), just after in "
                                      "batches on a background thread of the same process (background), or on "
                                      "the Celery workers, which follow the outbox (workers; needs the broker).")
    identity_survivorship: dict[str, str | list[str]] = Field(
        default_factory=lambda: {"default": "most-complete"},
        description="Golden-record survivorship: rule(s) per field (name, gender, birthDate, address, telecom, "
                    "maritalStatus, deceased, multipleBirth, communication) and 'default' for the others; rules "
                    "most-recent, most-complete, trusted-source (a list is tried in order). JSON in the "
                    "environment, e.g. {\"default\": \"most-recent\", \"telecom\": [\"trusted-source\"]}.")
    identity_trusted_sources: list[str] = Field(
        default_factory=list, description="Institutions or meta.source values, most trusted first, for the "
                                          "trusted-source survivorship rule (JSON list in the environment).")
    identity_match_settings: dict[str, Any] = Field(
        default_factory=dict, description="Overrides of the match settings used when `tessera link --retrain` "
                                          "trains a model (engine/identity/settings.py MatchSettings), JSON in the "
                                          "environment, e.g. {\"link_within_source\": false} for registries "
                                          "without duplicates of their own; the trained model keeps them.")
    worker_visibility_timeout_s: int = Field(
        default=3600, description="Seconds before the broker re-delivers a task whose worker vanished.")
    jobs_inline: bool | None = Field(
        default=None, description="Run jobs in the API process (default: when no broker is configured).")
    mllp_max_message_bytes: int = 8 * 1024 * 1024
    mllp_workers: int = 8
    mllp_tls_cert: Path | None = Field(default=None, description="PEM certificate chain; with the key, MLLP uses TLS.")
    mllp_tls_key: Path | None = None
    log_level: str = "INFO"
    metrics_dir: Path | None = Field(
        default=None, description="Folder where the processes of `tessera serve --processes N` share their "
                                  "request metrics (the command sets it for its processes).")
    search_indexing: Literal["auto", "in-process", "workers", "off"] = Field(
        default="auto", description="Who keeps the search index current: auto = Celery workers when a broker and "
                                    "Elasticsearch are configured, else a background thread of this process.")
    search_index_name: str = Field(default="tessera-resources", description="Elasticsearch index name.")
    embedding_model: str = Field(
        default="all-MiniLM-L6-v2", description="sentence-transformers model: a name installed locally or a path.")
    embedding_backend: Literal["onnx-int8", "onnx", "torch"] = Field(
        default="onnx-int8", description="onnx-int8: the model converted at install time and quantized (fast); "
                                         "onnx: the same in full precision; torch: sentence-transformers itself.")
    embedding_cache_dir: Path | None = Field(
        default=None, description="Where converted models are kept (default: inside the virtual environment).")
    index_batch_size: int = Field(default=500, ge=1, le=5000)
    index_sweep_seconds: float = Field(default=10.0, gt=0, description="Indexing also runs this often, "
                                                                       "whatever the write notifications said.")

    @field_validator("identity_survivorship")
    @classmethod
    def _known_survivorship(cls, value: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        from engine.identity.survivorship import SurvivorshipPolicy

        SurvivorshipPolicy.from_setting(value)  # raises ValueError naming the bad field or rule
        return value

    @field_validator("identity_match_settings")
    @classmethod
    def _known_match_settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        from engine.identity.settings import MatchSettings

        MatchSettings.from_dict(value)  # raises ValueError naming unknown or out-of-range settings
        return value

    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one, or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tessera.db').resolve()}"

    @property
    def profile(self) -> str:
        """'embedded' or 'production', from which services are configured."""
        return "production" if self.database_url and not self.database_url.startswith("sqlite") else "embedded"


def load_settings() -> Settings:
    """Read settings from the environment (the only place that does)."""
    settings = Settings()
    if settings.environment == "production" and not settings.auth_required:
        raise ValueError("TESSERA_AUTH_REQUIRED=false is refused in production")
    return settings
