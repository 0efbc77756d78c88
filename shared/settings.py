"""Settings every service composes: Kafka, MongoDB, topics, logging. Read from CC_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class _Base(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CC_", extra="ignore")


class KafkaSettings(_Base):
    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = Field("cc", description="Prefix of every topic name; tests use their own.")
    topic_partitions: int = Field(6, ge=1, description="Partitions per topic when the service creates it.")
    consumer_max_poll_interval_ms: int = 300_000


class MongoSettings(_Base):
    mongo_url: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    db_prefix: str = Field("cc", description="Each service uses the database <db_prefix>_<service>.")
    mongo_max_pool_size: int = Field(
        1, ge=1,
        description="Connections per process. 1 on FerretDB v1, whose updates are not atomic across concurrent "
                    "connections (see docs/adr/0002); raise it on real MongoDB.",
    )


class ReliabilitySettings(_Base):
    outbox_sweep_seconds: float = Field(2.0, gt=0, description="How often unsent outbox entries are re-published.")
    outbox_min_age_seconds: float = Field(3.0, ge=0, description="Age before the sweeper takes over an unsent entry.")
    retry_initial_seconds: float = 0.2
    retry_max_seconds: float = 5.0
    retry_budget_seconds: float = Field(240.0, description="Retry in place this long, then redeliver.")


class ServiceSettings(KafkaSettings, MongoSettings, ReliabilitySettings):
    """What every service needs; each service subclasses it with its own fields."""

    service_port: int = 0
    service_host: str = "127.0.0.1"
    log_level: str = "INFO"
    org_seed_path: str = Field("deploy/org_seed.yaml", description="Organisation directory seed (YAML).")

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}.{name}"

    def database(self, service: str) -> str:
        return f"{self.db_prefix}_{service}"
