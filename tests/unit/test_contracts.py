"""Contracts: envelope round trip, clear reasons for bad messages, and a schema snapshot against accidental breaks."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from shared.contracts import TOPICS, BadMessage, ComplaintClosed, ComplaintReopened, Envelope, encode, parse
from shared.contracts.catalog import MESSAGE_TYPES

SNAPSHOT = Path(__file__).parent / "snapshots" / "contracts.json"


def closed() -> Envelope[ComplaintClosed]:
    cid = str(uuid.uuid4())
    return Envelope[ComplaintClosed](type="ComplaintClosed", correlation_id=uuid.UUID(cid), group_id="g",
                                     estate_id="e", complaint_id=cid,
                                     payload=ComplaintClosed(outcome="satisfied", satisfaction="satisfied"))


def test_an_envelope_survives_the_wire_unchanged():
    env = closed()
    assert parse(encode(env)) == env


def test_a_child_message_keeps_case_tenant_and_correlation_and_points_at_its_cause():
    env = closed()
    child = env.child(ComplaintReopened(round=2, reason="不满意"))
    assert (child.complaint_id, child.group_id, child.estate_id) == (env.complaint_id, "g", "e")
    assert child.correlation_id == env.correlation_id and child.causation_id == env.event_id
    assert child.type == "ComplaintReopened" and child.event_id != env.event_id


@pytest.mark.parametrize(("raw", "reason"), [
    (b"\xff\xfe", "not JSON"),
    (b"{oops", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"type": "Nope"}', "unknown message type"),
    (b'{"type": "ComplaintClosed", "schema_version": 9}', "unsupported schema_version"),
    (b'{"type": "ComplaintClosed"}', "invalid ComplaintClosed"),
])
def test_bad_messages_are_refused_with_a_readable_reason(raw, reason):
    with pytest.raises(BadMessage, match=reason):
        parse(raw)


def test_a_message_without_tenant_scope_is_refused():
    data = json.loads(encode(closed()))
    data["estate_id"] = ""
    with pytest.raises(BadMessage, match="estate_id"):
        parse(json.dumps(data).encode())


def test_unknown_fields_are_refused_rather_than_silently_dropped():
    data = json.loads(encode(closed()))
    data["payload"]["surprise"] = 1
    with pytest.raises(BadMessage, match="surprise"):
        parse(json.dumps(data).encode())


def test_every_message_type_travels_on_exactly_one_topic():
    seen = [m.__name__ for t in TOPICS for m in t.messages]
    assert sorted(seen) == sorted(set(seen)) == sorted(MESSAGE_TYPES)


def current_schemas() -> dict:
    return {name: Envelope[model].model_json_schema() for name, model in sorted(MESSAGE_TYPES.items())}


def test_json_schemas_match_the_snapshot():
    """A failing snapshot means a contract changed: add fields with defaults, or bump schema_version.

    Refresh deliberately with UPDATE_SNAPSHOTS=1.
    """
    schemas = current_schemas()
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not SNAPSHOT.exists():
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(schemas, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
    assert json.loads(SNAPSHOT.read_text()) == json.loads(json.dumps(schemas))


def test_the_committed_asyncapi_document_is_current():
    """`make docs` regenerates it; a contract change without it fails here."""
    from shared.asyncapi import build_spec
    from shared.settings import ServiceSettings

    committed = json.loads((Path(__file__).parents[2] / "docs" / "asyncapi.json").read_text(encoding="utf-8"))
    settings = ServiceSettings(topic_prefix="cc", kafka_bootstrap="127.0.0.1:9092")
    assert committed == json.loads(json.dumps(build_spec(settings)))
