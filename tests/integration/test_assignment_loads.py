"""Open cases per handler from the `open_loads` book (one document per estate, read by key), kept with the case
writes, on the real MongoDB-wire server."""

from __future__ import annotations

import uuid

import pytest

from services.assignment.loads import CaseStore, LoadBook, entry
from shared.aggregate import Decision
from shared.messaging import build_broker
from shared.mongo import make_client
from shared.outbox import OutboxRelay
from shared.settings import ServiceSettings


@pytest.fixture
async def book(infra, prefix, cleanup):
    settings = ServiceSettings(kafka_bootstrap=infra.bootstrap, mongo_url=infra.mongo_url, db_prefix=prefix)
    client = make_client(settings)
    db = client[f"{prefix}_loads{uuid.uuid4().hex[:4]}"]
    book = LoadBook(db)
    await book.ensure()
    store = CaseStore(db["cases"], OutboxRelay(db["cases"], build_broker(settings, "t"), settings), settings, book)
    yield db, book, store
    await client.drop_database(db.name)
    await client.close()


def assign(staff: str) -> Decision:
    return Decision(changes={"estate_id": "e-1", "status": "assigned", "assignee": {"staff_id": staff}})


async def test_loads_follow_assignment_handover_resolution_and_a_redelivery(book):
    db, loads, store = book
    for i, who in enumerate(["h1", "h1", "h2"]):
        await store.apply(f"c{i}", f"m{i}", lambda d, w=who: assign(w))
    assert await loads.counts("e-1") == {"h1": 2, "h2": 1}
    await store.apply("c1", "m-reassign", lambda d: Decision(changes={"assignee": {"staff_id": "h2"}}))
    await store.apply("c2", "m-resolve", lambda d: Decision(changes={"status": "resolved"}))
    assert await loads.counts("e-1") == {"h1": 1, "h2": 1}
    await store.apply("c0", "m-note", lambda d: Decision(changes={"note": "on site"}))  # no change of holder
    assert await loads.counts("e-1") == {"h1": 1, "h2": 1}

    # a crash between the case write and the book's: the redelivered message puts the book right
    await db["open_loads"].update_one({"_id": "e-1"}, {"$unset": {f"open.{entry('c0')}": ""}})
    assert await loads.counts("e-1") == {"h2": 1}
    assert await store.apply("c0", "m-note", lambda d: Decision(changes={"note": "on site"})) is False
    assert await loads.counts("e-1") == {"h1": 1, "h2": 1}
    assert await loads.counts("e-other") == {}


async def test_a_missing_book_is_rebuilt_from_the_cases(book):
    db, _, store = book
    for i, who in enumerate(["h1", "h2", "h2"]):
        await store.apply(f"c{i}", f"m{i}", lambda d, w=who: assign(w))
    await store.apply("c2", "m-close", lambda d: Decision(changes={"status": "closed"}))
    await db["open_loads"].drop()
    fresh = LoadBook(db)
    await fresh.ensure()
    assert await fresh.counts("e-1") == {"h1": 1, "h2": 1}


async def test_case_ids_a_field_path_cannot_hold_are_counted_apart(book):
    _, loads, store = book
    odd = ["a.b", "$x", "12", "a%2Eb", "名.字"]
    for i, cid in enumerate(odd):
        await store.apply(cid, f"m{i}", lambda d: assign("h1"))
    assert await loads.counts("e-1") == {"h1": len(odd)}
    await store.apply("a.b", "m-done", lambda d: Decision(changes={"status": "resolved"}))
    assert await loads.counts("e-1") == {"h1": len(odd) - 1}
    assert len({entry(c) for c in odd}) == len(odd)
