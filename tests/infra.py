"""Where the tests find Kafka and MongoDB: named servers, else testcontainers, else the native servers.

Order (DESIGN.md): CC_TEST_KAFKA_BOOTSTRAP + CC_TEST_MONGO_URL when set; testcontainers when a Docker
engine answers; otherwise the native Kafka and FerretDB, reused when already listening (e.g. after
`make up`), started once for the test session when not.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from deploy.native import stack as native


@dataclass(frozen=True)
class Infra:
    bootstrap: str
    mongo_url: str
    how: str
    stack: native.Stack | None = None  # set when this session started the native servers (fault tests stop them)


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:  # noqa: BLE001 - any failure means: no engine here
        return False


@contextmanager
def provide_infra() -> Iterator[Infra]:
    kafka, mongo = os.environ.get("CC_TEST_KAFKA_BOOTSTRAP"), os.environ.get("CC_TEST_MONGO_URL")
    if kafka and mongo:
        yield Infra(kafka, mongo, "named by environment")
        return
    if _docker_answers():
        from testcontainers.community.kafka import KafkaContainer
        from testcontainers.community.mongodb import MongoDbContainer

        with KafkaContainer().with_kraft() as k, MongoDbContainer("mongo:7.0") as m:
            yield Infra(k.get_bootstrap_server(), m.get_connection_url() + "/?directConnection=true",
                        "testcontainers")
        return
    st = native.Stack(run_dir=native.ROOT / ".run" / "test-infra")
    up_before = {name: native.port_open(port) for name, port in
                 (("postgres", st.pg_port), ("ferretdb", st.mongo_port), ("kafka", st.kafka_port))}
    try:
        if not up_before["ferretdb"]:
            for d in ("ferretdb", "postgres") if not up_before["postgres"] else ("ferretdb",):
                shutil.rmtree(st.run_dir / d, ignore_errors=True)
            native.start_ferretdb(st)
        if not up_before["kafka"]:
            shutil.rmtree(st.run_dir / "kafka", ignore_errors=True)
            native.start_kafka(st)
        started = [n for n, was_up in up_before.items() if not was_up]
        own = not up_before["kafka"] and not up_before["ferretdb"]
        yield Infra(st.bootstrap, st.mongo_url, "native (started)" if started else "native (reused)",
                    stack=st if own else None)
    finally:  # also after a failed start: nothing this session started is left running
        for name in ("kafka", "ferretdb", "postgres"):
            if not up_before[name]:
                native.stop(st, name, sig=signal.SIGINT if name == "postgres" else signal.SIGTERM)
