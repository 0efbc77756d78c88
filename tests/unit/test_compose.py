"""docker-compose.yml runs the same stack as `make up`: official images and every service with its port.

`docker compose config` needs the compose plugin, which these machines lack; this checks the same file's
shape with a YAML parser so a missing service or a wrong port fails here too.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from deploy.native.stack import SERVICES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_service_of_the_native_stack_is_in_compose_with_the_same_port():
    services = COMPOSE["services"]
    for name, port in SERVICES.items():
        assert services[name]["command"] == ["python", "-m", f"services.{name}"]
        assert services[name]["environment"]["CC_SERVICE_PORT"] == str(port)
        assert services[name]["environment"]["CC_KAFKA_BOOTSTRAP"] == "kafka:9092"


def test_kafka_and_mongodb_come_from_the_official_images():
    assert COMPOSE["services"]["kafka"]["image"].startswith("apache/kafka:4.")
    assert COMPOSE["services"]["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert COMPOSE["services"]["mongo"]["image"].startswith("mongo:")


def test_the_image_builds_from_files_that_exist():
    dockerfile = ROOT / COMPOSE["services"]["triage"]["build"]["dockerfile"]
    for line in dockerfile.read_text().splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (ROOT / src).exists(), src
