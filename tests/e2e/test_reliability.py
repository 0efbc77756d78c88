"""Reliability: poison messages go to the DLQ, duplicates change nothing, a killed service loses nothing."""

from __future__ import annotations

import asyncio
import uuid

from shared.contracts import Complainant, ComplaintReceived, Envelope, encode, utcnow
from shared.terms import Channel
from tests.e2e.conftest import case_where, filed
from tests.helpers import committed, complaint, eventually, produce, read_topic, types_of


def received_event(text: str = "垃圾桶满了没人清理") -> Envelope[ComplaintReceived]:
    cid = str(uuid.uuid4())
    return Envelope[ComplaintReceived](
        type="ComplaintReceived", event_id=uuid.UUID(cid), correlation_id=uuid.UUID(cid), group_id="g-hengan",
        estate_id="e-lakeside", complaint_id=cid,
        payload=ComplaintReceived(tracking_no=f"TS-TEST-{cid[:8]}", channel=Channel.online, received_at=utcnow(),
                                  text=text, complainant=Complainant(name="王五", phone="13700000000")),
    )


async def test_garbage_on_the_intake_topic_lands_in_its_dlq_and_valid_complaints_keep_flowing(center, web, ops):
    topic = center.topic("complaint.received")
    marker = uuid.uuid4().hex
    await produce(center.bootstrap, topic, f"not json {marker}".encode(), key=b"garbage")
    await produce(center.bootstrap, topic, b'{"type": "ComplaintReceived", "marker": "' + marker.encode() + b'"}',
                  key=b"garbage")

    r = await web.post("/api/v1/complaints", json=complaint())
    await case_where(ops, r.json()["complaint_id"], filed)

    async def dead_letters():
        recs = [r for r in await read_topic(center.bootstrap, topic + ".dlq") if marker.encode() in r.value]
        return recs if len({(r.value, dict(r.headers)["x-dlq-service"]) for r in recs}) >= 4 else None

    recs = await eventually(dead_letters, what="both poison messages in the DLQ from triage and archive")
    reasons = {dict(r.headers)["x-dlq-reason"].decode() for r in recs}
    assert any(reason.startswith("not JSON") for reason in reasons)
    assert any(reason.startswith("invalid ComplaintReceived") for reason in reasons)
    headers = dict(recs[0].headers)
    assert headers["x-dlq-topic"].decode() == topic and b"x-dlq-offset" in {k.encode() for k in headers}


async def test_duplicate_delivery_changes_nothing_the_second_time(center, ops):
    event = received_event()
    raw, key = encode(event), event.complaint_id.encode()
    partition, _ = await produce(center.bootstrap, center.topic("complaint.received"), raw, key=key)
    _, second = await produce(center.bootstrap, center.topic("complaint.received"), raw, key=key)

    await case_where(ops, event.complaint_id, filed)
    for service in ("triage", "archive"):
        await eventually(lambda s=service: _past(center, s, "complaint.received", partition, second),
                         what=f"{service} committed past the duplicate")

    # the downstream event delivered again, too
    triaged = [r for r in await read_topic(center.bootstrap, center.topic("complaint.triaged")) if r.key == key]
    assert len(triaged) == 1
    p2, again = await produce(center.bootstrap, center.topic("complaint.triaged"), triaged[0].value, key=key)
    for service in ("assignment", "archive"):
        await eventually(lambda s=service: _past(center, s, "complaint.triaged", p2, again),
                         what=f"{service} committed past the re-delivered ComplaintTriaged")

    case = (await ops.get(f"/api/v1/complaints/{event.complaint_id}")).json()
    assert types_of(case) == ["ComplaintReceived", "ComplaintTriaged", "ComplaintAssigned"]
    assigned = [r for r in await read_topic(center.bootstrap, center.topic("complaint.assigned")) if r.key == key]
    assert len(assigned) == 1


async def _past(center, service: str, topic: str, partition: int, offset: int) -> bool:
    return await committed(center.bootstrap, center.group(service), center.topic(topic), partition) > offset


async def test_killed_service_restarts_and_loses_nothing(center, web, ops):
    center.kill("assignment")
    try:
        ids = []
        for i in range(6):
            r = await web.post("/api/v1/complaints", json=complaint(text=f"第{i}号楼道灯坏了"))
            assert r.status_code == 202
            ids.append(r.json()["complaint_id"])
        for cid in ids:  # the rest of the pipeline goes on while assignment is down
            await case_where(ops, cid, lambda c: c["status"] == "triaged")
        center.kill("archive")  # and the archive dies too, mid-flow
    finally:
        center.start("assignment")
        center.start("archive")

    for cid in ids:
        case = await case_where(ops, cid, lambda c: len(types_of(c)) >= 3, timeout=60)
        assert types_of(case) == ["ComplaintReceived", "ComplaintTriaged", "ComplaintAssigned"]


async def test_killed_archive_mid_stream_rebuilds_every_record_exactly_once(center, web, ops):
    async def post(i: int) -> str:
        r = await web.post("/api/v1/complaints", json=complaint(text=f"{i}单元门禁坏了"))
        return r.json()["complaint_id"]

    first = await asyncio.gather(*(post(i) for i in range(10)))
    center.kill("archive")
    second = await asyncio.gather(*(post(i) for i in range(10, 20)))
    center.start("archive")

    for cid in [*first, *second]:
        case = await case_where(ops, cid, lambda c: len(types_of(c)) >= 3, timeout=60)
        assert types_of(case) == ["ComplaintReceived", "ComplaintTriaged", "ComplaintAssigned"]


async def test_replay_dlq_sends_parked_messages_back_after_a_fix(center, ops, settings_env):
    """A message parked by a bug is replayed once the fix is in: it then flows to the end."""
    from shared.dlq import replay
    from shared.settings import ServiceSettings

    event = received_event("楼道灯坏了一周了没人修（重放）")
    topic = center.topic("complaint.received")
    await produce(center.bootstrap, topic + ".dlq", encode(event), key=event.complaint_id.encode(),
                  headers=[("x-dlq-reason", b"handler failed: KeyError (since fixed)"),
                           ("x-dlq-service", b"triage"), ("x-dlq-topic", topic.encode())])
    settings = ServiceSettings(kafka_bootstrap=center.bootstrap, topic_prefix=center.prefix)

    first = await replay(settings, "complaint.received", service="triage", idle_ms=1500)
    assert first.replayed >= 1
    case = await case_where(ops, event.complaint_id, filed)
    assert case["tracking_no"] == event.payload.tracking_no

    await replay(settings, "complaint.received", service="triage", idle_ms=1500)
    sent_back = [r for r in await read_topic(center.bootstrap, topic) if r.key == event.complaint_id.encode()]
    assert len(sent_back) == 1  # each parked message is replayed once, however often the command runs
    assert dict(sent_back[0].headers)["x-dlq-replayed"] == b"1" and b"x-dlq-reason" not in dict(sent_back[0].headers)
