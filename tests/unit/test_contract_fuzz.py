"""Property tests of the message contracts (hypothesis): whatever bytes arrive on a topic, `parse` either
returns a valid envelope or raises BadMessage with a reason, never anything else; and every valid message
survives the wire unchanged. The counts of examples tried are printed with -s."""

from __future__ import annotations

import json
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.contracts import BadMessage, Envelope, encode, parse
from shared.contracts.catalog import MESSAGE_TYPES

TRIED = {"bytes": 0, "json": 0, "mutated": 0, "valid": 0}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20)
odd_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=80) | st.sampled_from(
    ["", "\u0000", "\ud7ff", "💥" * 50, "楼上漏水\u202e", "{\"$ne\": null}", "$where", "a.b", "\ufeff"])


def only_bad_message(raw: bytes) -> None:
    try:
        env = parse(raw)
    except BadMessage as exc:
        assert str(exc)  # a reason for the DLQ
        return
    assert isinstance(env, Envelope)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], derandomize=True, database=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_parse_or_give_a_reason(raw: bytes) -> None:
    TRIED["bytes"] += 1
    only_bad_message(raw)


@settings(max_examples=400, derandomize=True, database=None)
@given(json_values)
def test_arbitrary_json_parses_or_gives_a_reason(value) -> None:
    TRIED["json"] += 1
    only_bad_message(json.dumps(value).encode())


def _valid(kind: str) -> dict:
    """A valid envelope of each type, from the closed example or the model's own defaults where possible."""
    return json.loads(encode(Envelope[MESSAGE_TYPES["ComplaintClosed"]](
        type="ComplaintClosed", correlation_id=uuid.uuid4(), group_id="g-hengan", estate_id="e-lakeside",
        complaint_id=str(uuid.uuid4()), payload={"outcome": "satisfied", "satisfaction": "satisfied"})))


@settings(max_examples=600, derandomize=True, database=None)
@given(st.sampled_from(["type", "group_id", "estate_id", "complaint_id", "correlation_id", "payload",
                        "occurred_at", "schema_version", "event_id", "extra"]),
       json_values | odd_text)
def test_a_valid_message_with_one_field_replaced_parses_or_gives_a_reason(field: str, value) -> None:
    TRIED["mutated"] += 1
    doc = _valid("ComplaintClosed")
    doc[field] = value
    only_bad_message(json.dumps(doc).encode())


@settings(max_examples=200, derandomize=True, database=None)
@given(group=st.text(min_size=1, max_size=64).filter(lambda s: s.strip()), note=odd_text)
def test_valid_messages_survive_the_wire_unchanged(group: str, note: str) -> None:
    TRIED["valid"] += 1
    env = Envelope[MESSAGE_TYPES["ComplaintReopened"]](
        type="ComplaintReopened", correlation_id=uuid.uuid4(), group_id=group, estate_id="e",
        complaint_id=str(uuid.uuid4()), payload={"reason": note or "不满意", "round": 2})
    assert parse(encode(env)) == env


def test_zz_report_how_many_were_tried(capsys) -> None:
    with capsys.disabled():
        print(f"\n[contract fuzz] examples tried: {TRIED} total {sum(TRIED.values())}")
