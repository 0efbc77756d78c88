"""Signals every service gives: liveness, readiness (MongoDB and Kafka answer) and Prometheus metrics."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import PORTS, case_where, filed
from tests.helpers import complaint, eventually


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


async def test_every_service_answers_health_readiness_and_metrics_that_count_the_traffic(center, web, ops):
    async with httpx.AsyncClient(timeout=10) as c:
        for name, port in PORTS.items():
            base = f"http://127.0.0.1:{port}"
            assert (await c.get(f"{base}/healthz")).json()["status"] == "ok", name
            ready = await c.get(f"{base}/readyz")
            assert ready.status_code == 200 and ready.json()["kafka"] == "ok" == ready.json()["mongodb"], name
            m = await c.get(f"{base}/metrics")
            assert m.status_code == 200 and "cc_messages_processed_total" in m.text, name
            assert "13812341234" not in m.text and "张三" not in m.text  # no personal data in labels

        async def metrics(name: str) -> str:
            return (await c.get(f"http://127.0.0.1:{PORTS[name]}/metrics")).text

        received = sample(await metrics("web_intake"), "cc_complaints_received_total", channel="online")
        triaged = sample(await metrics("triage"), "cc_messages_processed_total", outcome="ok",
                         type="ComplaintReceived")
        intake_db = f"{center.prefix}_web_intake"
        inserts = sample(await metrics("web_intake"), "cc_db_commands_total", database=intake_db, command="insert")
        statements = sample(await metrics("web_intake"), "cc_db_statements_total", database=intake_db,
                            command="insert")
        cid = (await web.post("/api/v1/complaints", json=complaint())).json()["complaint_id"]
        await case_where(ops, cid, filed)
        assert sample(await metrics("web_intake"), "cc_complaints_received_total", channel="online") == received + 1
        # the submission kept before the answer: a command counted, by database (the benchmark's floor uses these)
        assert sample(await metrics("web_intake"), "cc_db_commands_total", database=intake_db,
                      command="insert") >= inserts + 1
        assert sample(await metrics("web_intake"), "cc_db_statements_total", database=intake_db,
                      command="insert") >= statements + 1

        async def counted():
            now = sample(await metrics("triage"), "cc_messages_processed_total", outcome="ok",
                         type="ComplaintReceived")
            return now >= triaged + 1

        await eventually(counted, what="triage counting the complaint it handled")
        text = await metrics("archive")
        assert sample(text, "cc_handler_seconds_count") > 0 and "cc_consumer_lag" in text
