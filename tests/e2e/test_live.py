"""Server push: the operator API streams case changes (SSE) to each session, only within its scope."""

from __future__ import annotations

import asyncio
import json

import httpx

from tests.e2e.conftest import case_where, filed
from tests.helpers import complaint


async def read_events(client: httpx.AsyncClient, seen: list[dict], ready: asyncio.Event) -> None:
    async with client.stream("GET", "/api/v1/events/stream") as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        event = ""
        async for line in r.aiter_lines():
            if line.startswith(": connected"):
                ready.set()
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "case":
                seen.append(json.loads(line[6:]))


async def test_changes_are_pushed_to_each_session_within_its_scope_and_carry_no_personal_data(center, web, ops,
                                                                                               tokens):
    async with httpx.AsyncClient(base_url=center.url("operator_api"), timeout=None) as anon:
        assert (await anon.get("/api/v1/events/stream", timeout=10)).status_code == 401
    streams, tasks = {}, []
    for user in ("op-lk", "op-sr"):
        client = httpx.AsyncClient(base_url=center.url("operator_api"), timeout=httpx.Timeout(10, read=None),
                                   headers={"Authorization": f"Bearer {tokens[user]}"})
        seen, ready = [], asyncio.Event()
        streams[user] = (client, seen)
        tasks.append(asyncio.create_task(read_events(client, seen, ready)))
        await asyncio.wait_for(ready.wait(), 10)
    try:
        lakeside = (await web.post("/api/v1/complaints", json=complaint(
            text="楼下广场舞太吵了，每天晚上十点还在放音乐", complainant={"name": "钱七", "phone": "13700001234",
                                                            "unit": "2栋1单元501"}))).json()["complaint_id"]
        await case_where(ops, lakeside, filed)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while loop.time() < deadline and not any(e["complaint_id"] == lakeside for e in streams["op-lk"][1]):
            await asyncio.sleep(0.1)
        mine = [e for e in streams["op-lk"][1] if e["complaint_id"] == lakeside]
        assert mine, "湖畔花园's operator was not told about the new case"
        assert {e["estate_id"] for e in mine} == {"e-lakeside"}
        assert all("137" not in json.dumps(e) and "钱七" not in json.dumps(e) for e in mine)  # ids, no PII
        await asyncio.sleep(2)  # the other operator's stream had every chance to leak it
        assert not [e for e in streams["op-sr"][1] if e["complaint_id"] == lakeside]
        assert all(e["estate_id"] == "e-sunrise" for e in streams["op-sr"][1])
    finally:
        for t in tasks:
            t.cancel()
        for client, _ in streams.values():
            await client.aclose()
