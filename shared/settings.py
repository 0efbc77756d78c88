"""Settings every service composes: Kafka, MongoDB, topics, logging. Read from CC_* environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDERS = {"change-me", "changeme", "secret", "password", "dev", "test", "placeholder", "xxx"}


class _Base(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CC_", extra="ignore")


class KafkaSettings(_Base):
    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = Field("cc", description="Prefix of every topic name; tests use their own.")
    topic_partitions: int = Field(6, ge=1, description="Partitions per topic when the service creates it.")
    consumer_max_poll_interval_ms: int = 300_000
    consumer_fetch_max_wait_ms: int = Field(
        3000, ge=1, description="How long the broker holds an empty fetch; a message arriving ends it at once.")
    consumer_commit_interval_ms: int = Field(
        500, ge=1, description="Processed offsets are committed this often (per consumer), not after each message.")
    consumer_batch_max_records: int = Field(200, ge=1, description="At most this many messages in one batch "
                                                                   "(consumers that take batches: the archive).")
    consumer_batch_wait_ms: int = Field(50, ge=1, description="How long a batch consumer waits when nothing has "
                                                              "arrived, before it asks again.")
    consumer_batch_concurrency: int = Field(8, ge=1, description="Cases of one batch handled at the same time.")
    consumer_batch_linger_ms: int = Field(
        0, ge=0, le=10_000, description="A batch consumer's fetch is held by the broker until this long has passed "
        "(or a MiB has arrived), so that a case's events arriving within it are handled together: one write of the "
        "case instead of one per event, for this much more latency. 0: each batch is what has arrived.")


class MongoSettings(_Base):
    mongo_url: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    db_prefix: str = Field("cc", description="Each service uses the database <db_prefix>_<service>.")
    mongo_max_pool_size: int = Field(
        1, ge=1,
        description="Connections per process. 1 on FerretDB v1, whose updates are not atomic across concurrent "
                    "connections (see docs/adr/0002); raise it on real MongoDB.",
    )


class ReliabilitySettings(_Base):
    outbox_sweep_seconds: float = Field(2.0, gt=0, description="How often unsent outbox entries are re-published "
                                                              "while publishing fails or sweeps find work.")
    outbox_idle_sweep_seconds: float = Field(
        30.0, gt=0, description="How often the sweeper looks when nothing has failed: the longest an entry left by "
                                "a crashed instance of the same service waits (its own restart sweeps at once).")
    outbox_full_sweep_seconds: float = Field(
        3600.0, gt=0, description="How often the sweeper also reads every document, not only those flagged "
                                  "outbox_due (documents written before the flag existed).")
    outbox_min_age_seconds: float = Field(3.0, ge=0, description="Age before the sweeper takes over an unsent entry.")
    lease_seconds: float = Field(
        15.0, gt=6, description="Lease of a job one instance at a time runs (timer and outbox sweeps, pollers): how "
                                "long a dead holder's job waits before another instance takes it over.")
    instance_id: str = Field("", description="This instance's name for leases (a pod name); empty: host:port.")
    retry_initial_seconds: float = 0.2
    retry_max_seconds: float = 5.0
    retry_budget_seconds: float = Field(240.0, description="Retry in place this long, then redeliver.")


class ServiceSettings(KafkaSettings, MongoSettings, ReliabilitySettings):
    """What every service needs; each service subclasses it with its own fields."""

    service_port: int = 0
    service_host: str = "127.0.0.1"
    log_level: str = "INFO"
    org_seed_path: str = Field("deploy/org_seed.yaml", description="Organisation directory seed (YAML).")
    intake_per_minute: int = Field(120, ge=1, description="Submissions a minute one address may post (429 after).")
    internal_token: str = Field(
        "change-me", description="Shared secret services present on each other's /internal endpoints "
                                 "(X-Internal-Token); the placeholder is refused in production.")
    otel_exporter: Literal["none", "console", "otlp"] = Field(
        "none", description="Traces across Kafka hops (OpenTelemetry): off, to stdout, or OTLP/HTTP.")
    otel_endpoint: str = "http://127.0.0.1:4318/v1/traces"
    environment: Literal["development", "production"] = Field(
        "development", description="production refuses placeholder secrets and development accounts.")

    @model_validator(mode="after")
    def _no_placeholder_secrets(self) -> ServiceSettings:
        """Outside development a secret left at a placeholder stops the service at start (fail fast)."""
        if self.environment != "production":
            return self
        for name, value in self.model_dump().items():
            secretish = any(w in name for w in ("password", "secret", "_key", "token"))
            if secretish and isinstance(value, str) and value.strip().lower() in PLACEHOLDERS:
                raise ValueError(f"CC_{name.upper()} is a placeholder ({value!r}); set a real secret in production")
        return self

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}.{name}"

    def database(self, service: str) -> str:
        return f"{self.db_prefix}_{service}"
