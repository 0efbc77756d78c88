"""The assignment store's books kept with the case writes, on the real MongoDB-wire server: open cases per handler
(`open_book`, one document per estate, read by key) and the cases with a timer in each minute (`timer_slots`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.assignment import handlers
from services.assignment.loads import CaseStore, LoadBook, entry
from services.assignment.timer_book import TimerBook, slot_key
from shared.aggregate import Decision
from shared.messaging import build_broker
from shared.mongo import make_client
from shared.outbox import OutboxRelay
from shared.settings import ServiceSettings
from tests.helpers import spy_finds


@pytest.fixture
async def book(infra, prefix, cleanup):
    settings = ServiceSettings(kafka_bootstrap=infra.bootstrap, mongo_url=infra.mongo_url, db_prefix=prefix)
    client = make_client(settings)
    db = client[f"{prefix}_loads{uuid.uuid4().hex[:4]}"]
    book = LoadBook(db)
    await book.ensure()
    store = CaseStore(db["cases"], OutboxRelay(db["cases"], build_broker(settings, "t"), settings), settings, book,
                      TimerBook(db["timer_slots"]))
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
    await loads.loads.update_one({"_id": "e-1"}, {"$unset": {f"open.{entry('c0')}": ""}})
    assert await loads.counts("e-1") == {"h2": 1}
    assert await store.apply("c0", "m-note", lambda d: Decision(changes={"note": "on site"})) is False
    assert await loads.counts("e-1") == {"h1": 1, "h2": 1}
    assert await loads.counts("e-other") == {}


async def test_a_missing_book_is_rebuilt_from_the_cases(book):
    db, loads, store = book
    for i, who in enumerate(["h1", "h2", "h2"]):
        await store.apply(f"c{i}", f"m{i}", lambda d, w=who: assign(w))
    await store.apply("c2", "m-close", lambda d: Decision(changes={"status": "closed"}))
    await loads.loads.drop()
    await db["open_loads"].insert_one({"_id": "e-1", "open": {"cc0": "h1"}})  # the version before's book
    fresh = LoadBook(db)
    await fresh.ensure()
    assert await fresh.counts("e-1") == {"h1": 1, "h2": 1}
    assert "open_loads" not in await db.list_collection_names()


async def test_case_ids_a_field_path_cannot_hold_are_counted_apart(book):
    _, loads, store = book
    odd = ["a.b", "$x", "12", "a%2Eb", "名.字"]
    for i, cid in enumerate(odd):
        await store.apply(cid, f"m{i}", lambda d: assign("h1"))
    assert await loads.counts("e-1") == {"h1": len(odd)}
    await store.apply("a.b", "m-done", lambda d: Decision(changes={"status": "resolved"}))
    assert await loads.counts("e-1") == {"h1": len(odd) - 1}
    assert len({entry(c) for c in odd}) == len(odd)


async def test_the_timer_sweep_reads_the_minutes_cases_by_key_and_fires_only_what_is_due(book, monkeypatch):
    db, _, store = book
    now = datetime.now(UTC)
    slot = handlers.timer_slot(now)

    def timed(at: datetime) -> Decision:
        return Decision(changes={"estate_id": "e-1", "status": "assigned", "next_timer_at": at,
                                 "timer_slot": handlers.timer_slot(max(at, now))})

    await store.apply("due", "m1", lambda d: timed(now - timedelta(seconds=5)))
    await store.apply("later", "m2", lambda d: timed(now + timedelta(minutes=30)))
    await store.apply("moved", "m3", lambda d: timed(now - timedelta(seconds=1)))
    await store.apply("moved", "m4", lambda d: timed(now + timedelta(hours=2)))  # its timer was put off
    assert set((await db["timer_slots"].find_one({"_id": slot_key(slot)}))["cases"]) == {"due", "moved"}

    # a redelivery after a crash before the book's write puts it right
    await db["timer_slots"].update_one({"_id": slot_key(slot)}, {"$pull": {"cases": "due"}})
    assert await store.apply("due", "m1", lambda d: timed(now - timedelta(seconds=5))) is False
    assert "due" in (await db["timer_slots"].find_one({"_id": slot_key(slot)}))["cases"]

    asked = spy_finds(monkeypatch, store.collection)
    fired: list[str] = []
    monkeypatch.setattr(handlers, "fire", lambda d, org, at: fired.append(d["_id"]) or Decision(
        changes={"next_timer_at": None, "timer_slot": None}))
    for old in (slot - 65, slot - 200):  # minutes an hour and more past
        await db["timer_slots"].insert_one({"_id": slot_key(old), "slot": old, "cases": ["long-gone"]})
    assert await handlers.fire_due_timers(store, None, now, slots=range(slot - 1, slot + 1)) == 1
    assert fired == ["due"]
    assert all("_id" in flt for flt in asked), asked  # by key: no scan of the cases
    assert await db["timer_slots"].find_one({"_id": slot_key(slot - 65)}) is None  # forgotten as the sweep moves
    assert await db["timer_slots"].find_one({"_id": slot_key(slot - 200)}) is not None  # before this process
    assert await handlers.fire_due_timers(store, None, now) == 0  # the whole sweep: nothing else is due
    assert await db["timer_slots"].find_one({"_id": slot_key(slot - 200)}) is None
    assert await db["timer_slots"].find_one({"_id": slot_key(slot)}) is not None


async def test_waiting_cases_are_listed_in_the_book_and_dispatched_oldest_first_without_a_scan(book, monkeypatch):
    db, loads, store = book
    now = datetime.now(UTC)
    for i, cid in enumerate(["w-new", "w-old", "w-mid"]):
        at = now - timedelta(minutes={"w-new": 1, "w-old": 30, "w-mid": 10}[cid])
        await store.apply(cid, f"q{i}", lambda d, at=at: Decision(changes={
            "estate_id": "e-1", "status": "waiting", "assignee": None, "queued_at": at}))
    assert await loads.waiting("e-1", 10) == ["w-old", "w-mid", "w-new"]
    kept = (await loads.loads.find_one({"_id": "e-1"}))["waiting"]  # one short string per case: when|which
    assert kept[entry("w-old")] == f"{(now - timedelta(minutes=30)).isoformat(timespec='milliseconds')}|w-old"
    # one left the queue by another way (withdrawn) while its book entry was lost: the dispatch tidies it
    await store.collection.update_one({"_id": "w-old"}, {"$set": {"status": "closed"}})

    asked = spy_finds(monkeypatch, store.collection)
    room = {"left": 1}

    def take(doc, org, load, at):
        if doc is None or doc.get("status") != "waiting" or not room["left"]:
            return Decision()
        room["left"] -= 1
        return Decision(changes={"status": "assigned", "assignee": {"staff_id": "h9"}, "queued_at": None})

    monkeypatch.setattr(handlers, "take_from_queue", take)
    assert await handlers.dispatch_waiting(store, None, "e-1") == 1
    assert (await store.get("w-mid"))["status"] == "assigned"  # the oldest still waiting went first
    assert await loads.waiting("e-1", 10) == ["w-new"]  # nobody had room for it; the stale entry is gone
    assert await loads.counts("e-1") == {"h9": 1}
    assert all("_id" in flt for flt in asked), asked
    assert await handlers.dispatch_waiting(store, None, "e-other") == 0
