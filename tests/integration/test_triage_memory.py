"""Triage's memory of recent complaints on the real MongoDB-wire server: a chain's report count survives a
restart and costs one write per report, however long the chain (a lift outage with hundreds of callers); each
instance keeps the incident window and reads only what the estate's journal has new, another instance's too."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.triage import history as history_module
from services.triage.history import RecentComplaints
from services.triage.linking import Seen
from shared.mongo import make_client
from shared.settings import ServiceSettings


@pytest.fixture
async def recent(infra, prefix, cleanup):
    settings = ServiceSettings(mongo_url=infra.mongo_url, db_prefix=prefix)
    client = make_client(settings)
    c = client[settings.database("triage_memory")][f"r{uuid.uuid4().hex[:6]}"]
    store = RecentComplaints(c)
    await store.ensure_indexes()
    yield store
    await c.drop()
    await store.journal.drop()
    await store.households.drop()
    await client.close()


async def test_a_chain_of_repeats_is_counted_across_a_restart_and_writes_only_its_first_report(recent):
    now = datetime.now(UTC)
    text = "3栋电梯又坏了，困在里面半小时"

    def seen(i: int) -> Seen:
        return Seen(f"c{i}", "e-lakeside", "3栋", "3栋2单元1201", "13812341234", "lift",
                    frozenset(text[j:j + 2] for j in range(len(text) - 1)), f"c{i}", 1, 0)

    for i in range(6):
        history = await recent.load("g-hengan", "e-lakeside", now + timedelta(minutes=i), unit="3栋2单元1201")
        s = seen(i)
        link = history.find(s, emergency=False)
        assert (link is None) == (i == 0)
        if link:
            assert (link.root, link.reports) == ("c0", i + 1)
        history.remember(s, link)
        before = {d["_id"]: d.get("reports", 1) for d in await recent.collection.find({}).to_list(None)}
        await recent.save("g-hengan", s, link, now + timedelta(minutes=i))
        after = {d["_id"]: d.get("reports", 1) for d in await recent.collection.find({}).to_list(None)}
        changed = {k for k in before if before[k] != after[k]}
        assert changed <= {"c0"}, changed  # earlier reports are left alone

    fresh = await recent.load("g-hengan", "e-lakeside", now + timedelta(minutes=10), unit="3栋2单元1201")
    assert {item.root for item in fresh.items} == {"c0"}
    assert {item.reports for item in fresh.items} == {6}  # every member of the chain knows its count


async def test_memory_holds_the_incident_window_and_a_households_month(recent):
    now = datetime.now(UTC)

    def seen(cid: str, unit: str, phone: str, text: str) -> Seen:
        return Seen(cid, "e-lakeside", "5栋", unit, phone, "noise",
                    frozenset(text[j:j + 2] for j in range(len(text) - 1)), cid, 1, 0)

    await recent.save("g-hengan", seen("old-household", "5栋1单元301", "13900000001", "楼上装修噪音太大"), None,
                      now - timedelta(days=20))
    await recent.save("g-hengan", seen("old-neighbour", "5栋1单元502", "13900000002", "楼上装修噪音太大"), None,
                      now - timedelta(days=5))
    await recent.save("g-hengan", seen("today-neighbour", "5栋2单元101", "13900000003", "楼上装修噪音太大"), None,
                      now - timedelta(hours=3))
    await recent.save("g-hengan", seen("too-old", "5栋1单元301", "13900000001", "楼上装修噪音太大"), None,
                      now - timedelta(days=40))
    history = await recent.load("g-hengan", "e-lakeside", now, unit="5栋1单元301", phone="13900000001")
    assert {i.id for i in history.items} == {"old-household", "today-neighbour"}
    keys = [d["_id"] for d in await recent.households.find({}, {"_id": 1}).to_list(None)]
    assert keys and not any("1390000" in k or "5栋" in k for k in keys)  # no phone or address in a key

    # the version before kept no households: its first start builds them from the month the memory holds
    await recent.households.drop()
    restarted = RecentComplaints(recent.collection)
    await restarted.ensure_indexes()
    history = await restarted.load("g-hengan", "e-lakeside", now, unit="5栋1单元301")
    assert {i.id for i in history.items} == {"old-household", "today-neighbour"}


def _seen(cid: str, unit: str, text: str = "2栋停电了，整栋楼都没电", subcategory: str = "power_cut",
          at: datetime | None = None) -> Seen:
    """As triage remembers a complaint: its position is its minute (the service keeps time)."""
    return Seen(cid, "e-lakeside", "2栋", unit, None, subcategory,
                frozenset(text[j:j + 2] for j in range(len(text) - 1)), cid, 1,
                history_module.minute(at or datetime.now(UTC)))


async def test_an_instance_sees_what_another_saved_reading_only_the_new_journal_entries(recent, monkeypatch):
    now = datetime.now(UTC)
    other = RecentComplaints(recent.collection)  # a second triage instance on the same database
    # 47 hours back: inside the first window, and a day apart from every later window's first day whatever the
    # hour (30 hours failed the day-granular window between 06:00 and 12:00 UTC)
    await other.save("g-hengan", _seen("a1", "2栋1单元101", at=now - timedelta(hours=47)), None,
                     now - timedelta(hours=47))
    first = await recent.load("g-hengan", "e-lakeside", now)  # first sight: the window's days are read whole
    assert [i.id for i in first.items] == ["a1"]

    whole_reads = []
    days = recent._days

    async def counted(*args):
        whole_reads.append(args)
        return await days(*args)

    monkeypatch.setattr(recent, "_days", counted)
    for i in range(40):  # more than two reads' batches of journal keys
        await other.save("g-hengan", _seen(f"b{i}", f"2栋1单元{201 + i}", "楼上装修噪音太大", "noise"), None,
                         now - timedelta(minutes=40 - i))
    later = await recent.load("g-hengan", "e-lakeside", now)
    assert {i.id for i in later.items} == {"a1"} | {f"b{i}" for i in range(40)}
    assert whole_reads == []  # brought up to date by key, not by reading the estate's days again

    s = _seen("c1", "2栋3单元808")  # the same outage reported again links to the other instance's first report
    link = later.find(s, emergency=True)
    assert link is not None and link.root == "a1" and link.kind == "incident"

    moved = await recent.load("g-hengan", "e-lakeside", now + timedelta(hours=25))
    assert "a1" not in {i.id for i in moved.items}  # its day left the 48-hour window
    assert recent._windows[("g-hengan", "e-lakeside")].docs.keys() == {f"b{i}" for i in range(40)}
    assert whole_reads == []


async def test_a_number_taken_but_not_yet_written_is_waited_for_and_given_up_when_its_writer_is_gone(recent,
                                                                                                   monkeypatch):
    now = datetime.now(UTC)
    other = RecentComplaints(recent.collection)
    await recent.load("g-hengan", "e-lakeside", now)
    await other.save("g-hengan", _seen("d1", "2栋1单元101"), None, now)
    # a writer took number 2 and has not written its entry yet; number 3 is written
    await recent.journal.update_one({"_id": "g-hengan|e-lakeside"}, {"$inc": {"n": 1}})
    await other.save("g-hengan", _seen("d3", "2栋1单元303"), None, now)
    h = await recent.load("g-hengan", "e-lakeside", now)
    assert {i.id for i in h.items} == {"d1", "d3"}
    window = recent._windows[("g-hengan", "e-lakeside")]
    assert list(window.gaps) == [2] and window.upto == 3

    late = dict(_seen("d2", "2栋1单元202").__dict__)  # the slow writer's entry arrives: it is read then
    doc = {"_id": "d2", "group_id": "g-hengan", "estate_id": "e-lakeside", "building": "2栋", "unit": late["unit"],
           "phone": None, "subcategory": "power_cut", "grams": sorted(late["grams"]), "root": "d2", "reports": 1,
           "minute": 0, "at": now, "day": history_module.day(now), "seq": 2}
    await recent.collection.insert_one(doc)
    await recent.journal.insert_one({"_id": "g-hengan|e-lakeside|2", "doc": doc})
    h = await recent.load("g-hengan", "e-lakeside", now)
    assert {i.id for i in h.items} == {"d1", "d2", "d3"} and window.gaps == {}

    await recent.journal.update_one({"_id": "g-hengan|e-lakeside"}, {"$inc": {"n": 1}})  # number 4, never written
    await recent.load("g-hengan", "e-lakeside", now)
    assert list(window.gaps) == [4]
    monkeypatch.setattr(history_module, "GAP_SECONDS", -1.0)
    await recent.load("g-hengan", "e-lakeside", now)
    assert window.gaps == {} and window.upto == 4


async def test_a_save_that_stopped_before_its_journal_entry_is_completed_when_saved_again(recent):
    now = datetime.now(UTC)
    watcher = RecentComplaints(recent.collection)
    await watcher.load("g-hengan", "e-lakeside", now)
    s = _seen("e1", "2栋1单元101")
    await recent.save("g-hengan", s, None, now)
    number = (await recent.collection.find_one({"_id": "e1"}))["seq"]
    await recent.journal.delete_one({"_id": f"g-hengan|e-lakeside|{number}"})  # as if it stopped right there
    await recent.save("g-hengan", s, None, now)
    assert await recent.journal.count_documents({"_id": f"g-hengan|e-lakeside|{number}"}) == 1
    assert await recent.collection.count_documents({}) == 1
    h = await watcher.load("g-hengan", "e-lakeside", now)
    assert [i.id for i in h.items] == ["e1"]


async def test_the_memory_forgets_what_linking_no_longer_looks_at_and_a_window_far_behind_is_read_afresh(recent):
    now = datetime.now(UTC)
    for cid, age in (("month-old", timedelta(days=33)), ("week-old", timedelta(days=7)), ("fresh", timedelta(0))):
        at = now - age
        await recent.save("g-hengan", _seen(cid, f"2栋1单元{len(cid)}0{len(str(age))}", at=at), None, at)
    done = await recent.prune(now)
    assert done == {"recent": 1, "households": 1, "journal": 2}  # the week-old entry leaves the journal only
    assert {d["_id"] for d in await recent.collection.find({}).to_list(None)} == {"week-old", "fresh"}
    assert [d["doc"]["_id"] for d in await recent.journal.find({"doc": {"$exists": True}}).to_list(None)] == ["fresh"]

    h = await recent.load("g-hengan", "e-lakeside", now)
    assert [i.id for i in h.items] == ["fresh"]
    # the estate's journal moves far past this window (another instance was busy; entries may be pruned):
    # its days are read afresh instead of waiting for each number
    await recent.journal.update_one({"_id": "g-hengan|e-lakeside"}, {"$inc": {"n": 500}})
    await recent.save("g-hengan", _seen("after", "2栋9单元901", at=now), None, now)
    await recent.journal.delete_many({"doc": {"$exists": True}})  # pruned meanwhile
    h = await recent.load("g-hengan", "e-lakeside", now)
    assert {i.id for i in h.items} == {"fresh", "after"}
    window = recent._windows[("g-hengan", "e-lakeside")]
    assert window.gaps == {} and window.upto == 504


async def test_bigrams_are_kept_as_one_string_and_lists_of_the_version_before_still_read(recent):
    now = datetime.now(UTC)
    new = _seen("g1", "5栋1单元101")
    await recent.save("g-hengan", new, None, now)
    stored = await recent.collection.find_one({"_id": "g1"})
    assert isinstance(stored["grams"], str) and frozenset(stored["grams"].split()) == new.grams
    household = await recent.households.find_one({})
    assert all(isinstance(item["grams"], str) for item in household["items"])

    old = _seen("g0", "5栋1单元102")  # written by the version before: a list of bigrams
    await recent.collection.insert_one({
        "_id": "g0", "group_id": "g-hengan", "estate_id": "e-lakeside", "building": "5栋", "unit": old.unit,
        "phone": None, "subcategory": old.subcategory, "grams": sorted(old.grams), "root": "g0", "reports": 1,
        "minute": 0, "at": now, "day": history_module.day(now)})
    fresh = RecentComplaints(recent.collection)  # a new process: reads the estate's days
    h = await fresh.load("g-hengan", "e-lakeside", now)
    assert {i.id: i.grams for i in h.items} == {"g0": old.grams, "g1": new.grams}
