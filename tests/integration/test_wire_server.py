"""The MongoDB-wire server answers lookups by key exactly, and serves them from an index.

On these machines that server is FerretDB v1.24 on PostgreSQL, built with deploy/native/ferretdb_patch.py
(without it every find by `_id` read the whole table, and no declared index served an equality); with Docker it
is the official MongoDB image. The answers must be MongoDB's either way; the plan is checked in the server's own
terms.
"""

from __future__ import annotations

import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import Binary, Int64, ObjectId
from pymongo.errors import DuplicateKeyError, WriteError

from shared.mongo import make_client
from shared.settings import ServiceSettings


@pytest.fixture
async def coll(infra, prefix, cleanup):
    settings = ServiceSettings(mongo_url=infra.mongo_url, db_prefix=prefix)
    client = make_client(settings)
    c = client[settings.database("wire")][f"k{uuid.uuid4().hex[:6]}"]
    yield c
    await c.drop()
    await client.close()


async def values(c, flt: dict[str, Any]) -> list[int]:
    return sorted(d["v"] for d in await c.find(flt).to_list(None))


async def test_lookups_by_key_answer_exactly_what_mongodb_would(coll):
    oid = ObjectId()
    await coll.insert_many([{"_id": "a", "v": 1}, {"_id": "b", "v": 2}, {"_id": oid, "v": 3}, {"_id": 5, "v": 4},
                            {"_id": {"x": 1}, "v": 5}, {"_id": "湖畔-1", "v": 6}])
    assert await values(coll, {"_id": "a"}) == [1]
    assert await values(coll, {"_id": "湖畔-1"}) == [6]
    assert await values(coll, {"_id": oid}) == [3]
    assert await values(coll, {"_id": 5}) == [4]
    assert await values(coll, {"_id": {"x": 1}}) == [5]
    assert await values(coll, {"_id": "zz"}) == []
    assert await values(coll, {"_id": {"$in": ["a", "b", "zz"]}}) == [1, 2]
    assert await values(coll, {"_id": {"$in": ["a", oid]}}) == [1, 3]
    assert await values(coll, {"_id": {"$in": ["a", 5]}}) == [1, 4]  # mixed types: still right
    assert await values(coll, {"_id": {"$in": []}}) == []
    assert await values(coll, {"_id": {"$in": ["a"]}, "v": 2}) == []  # the rest of the filter still applies
    assert await values(coll, {"_id": "a", "v": {"$gte": 1}}) == [1]
    assert await values(coll, {"_id": {"$gt": "a"}}) == [2, 6]
    assert await coll.count_documents({"_id": {"$in": ["a", "b"]}}) == 2
    assert (await coll.update_many({"_id": {"$in": ["a", "b"]}}, {"$set": {"w": 1}})).modified_count == 2
    assert (await coll.delete_many({"_id": {"$in": ["a"]}})).deleted_count == 1
    assert await values(coll, {"_id": {"$in": ["a", "b"]}}) == [2]


async def test_a_replacement_by_key_with_upsert_answers_what_mongodb_would_without_reading_first(coll):
    """The list entries, page keys and ledger heads of the archive are replaced by key with upsert after every
    filing. On FerretDB (patch change 8, docs/adr/0018) that is one statement that does not read the stored
    document: its one visible trace is that an identical replacement counts as modified (MongoDB compares, and
    says 0). Every other answer is MongoDB's, errors included."""
    await coll.create_index("email", unique=True)
    r = await coll.replace_one({"_id": "a"}, {"_id": "a", "v": 1, "w": 2}, upsert=True)
    assert (r.matched_count, r.modified_count, r.upserted_id) == (0, 0, "a")
    r = await coll.replace_one({"_id": "a"}, {"v": 3}, upsert=True)
    assert (r.matched_count, r.modified_count, r.upserted_id) == (1, 1, None)
    assert await coll.find_one({"_id": "a"}) == {"_id": "a", "v": 3}  # replaced whole: w is gone
    oid = ObjectId()
    assert (await coll.replace_one({"_id": oid}, {"v": 4}, upsert=True)).upserted_id == oid
    with pytest.raises(WriteError) as immutable:
        await coll.replace_one({"_id": "a"}, {"_id": "b", "v": 5}, upsert=True)
    assert immutable.value.code == 66
    await coll.replace_one({"_id": "e1"}, {"email": "x@y"}, upsert=True)
    with pytest.raises(DuplicateKeyError):  # another unique index still refuses
        await coll.replace_one({"_id": "e2"}, {"email": "x@y"}, upsert=True)
    # any other filter, or no upsert: the server's usual way, the same answers
    assert (await coll.replace_one({"_id": "a", "v": 99}, {"v": 6})).matched_count == 0
    assert (await coll.replace_one({"_id": 7}, {"v": 7}, upsert=True)).upserted_id == 7
    assert (await coll.replace_one({"_id": "zz"}, {"v": 8})).matched_count == 0
    assert sorted(map(str, await coll.distinct("_id"))) == sorted(["a", str(oid), "e1", "7"])
    same = await coll.replace_one({"_id": "a"}, {"v": 3}, upsert=True)
    ferretdb = "ferretdbVersion" in await coll.database.client.admin.command("buildInfo")
    assert (same.matched_count, same.modified_count) == (1, 1 if ferretdb else 0)


async def test_removing_fields_by_key_answers_what_mongodb_would_without_reading_first(coll):
    """Every publish from an outbox ends with such an update: the entries published and the flag removed, on
    condition that `outbox_gen` is still the last entry published. On FerretDB (patch change 9, docs/adr/0018)
    it is one statement that edits the stored document and its type record in PostgreSQL; its one visible trace
    is that removing fields none of which is there counts as modified (MongoDB says 0)."""
    outbox = {"e1": {"t": "x"}, "e2": {"t": "y"}, "e3": {"t": "z"}}
    await coll.insert_one({"_id": "a", "gen": "e2", "due": True, "keep": 1, "outbox": outbox, "arr": [1, 2],
                           "s": "str"})
    r = await coll.update_one({"_id": "a", "gen": "e2"}, {"$unset": {"outbox.e1": "", "outbox.e2": "", "due": "",
                                                                     "gen": ""}})
    assert (r.matched_count, r.modified_count) == (1, 1)
    doc = await coll.find_one({"_id": "a"})
    assert doc == {"_id": "a", "keep": 1, "outbox": {"e3": {"t": "z"}}, "arr": [1, 2], "s": "str"}
    assert list(doc) == ["_id", "keep", "outbox", "arr", "s"]  # the order kept
    assert (await coll.update_one({"_id": "a", "gen": "e2"}, {"$unset": {"keep": ""}})).matched_count == 0
    await coll.update_one({"_id": "a"}, {"$unset": {"outbox.e3": "", "missing": "", "outbox.none": ""}})
    assert await coll.find_one({"_id": "a"}) == {"_id": "a", "keep": 1, "outbox": {}, "arr": [1, 2], "s": "str"}
    await coll.update_one({"_id": "a"}, {"$set": {"outbox.e4": {"t": "w"}, "gen": "e4"}})  # and it grows again
    doc = await coll.find_one({"_id": "a"})
    assert list(doc) == ["_id", "keep", "outbox", "arr", "s", "gen"] and doc["outbox"] == {"e4": {"t": "w"}}
    # MongoDB's equality also matches an array that holds the value; a number is not its digits as a string
    await coll.insert_many([{"_id": "b", "tags": ["x", "y"], "f": 1}, {"_id": "c", "n": 5, "m": 1}])
    assert (await coll.update_one({"_id": "b", "tags": "x"}, {"$unset": {"f": ""}})).matched_count == 1
    assert await coll.find_one({"_id": "b"}) == {"_id": "b", "tags": ["x", "y"]}
    assert (await coll.update_one({"_id": "c", "n": "5"}, {"$unset": {"m": ""}})).matched_count == 0
    with pytest.raises(WriteError) as conflict:  # a path inside one removed whole
        await coll.update_one({"_id": "a"}, {"$unset": {"outbox": "", "outbox.e4": ""}})
    assert conflict.value.code == 40
    ferretdb = "ferretdbVersion" in await coll.database.client.admin.command("buildInfo")
    none_there = await coll.update_one({"_id": "a"}, {"$unset": {"nothing": "", "s.x": ""}})
    assert (none_there.matched_count, none_there.modified_count) == (1, 1 if ferretdb else 0)
    assert await coll.find_one({"_id": "a"}) == doc


async def test_a_replacement_at_a_version_answers_what_mongodb_would_without_reading_first(coll):
    """Every change to a case is written whole, on condition of the version it was read at (and of the outbox
    and rollup markers it had). On FerretDB (patch change 10, docs/adr/0019) that is one UPDATE that does not
    read the stored document; an equality it cannot write in SQL (an array holding the value) and a replacement
    it cannot build take the server's own way, so every answer is MongoDB's (an identical replacement aside,
    as for change 8)."""
    await coll.create_index("email", unique=True)
    await coll.insert_many([{"_id": "a", "version": 1, "gen": "e1", "outbox": {"e1": {"t": "x"}}, "w": 2},
                            {"_id": "b", "version": Int64(7), "tags": ["x", "y"]}, {"_id": "c", "version": 3.0},
                            {"_id": "d", "version": "1"}, {"_id": "e", "email": "x@y"}])
    r = await coll.replace_one({"_id": "a", "version": 1, "gen": "e1"}, {"_id": "a", "version": 2, "v": "湖畔"})
    assert (r.matched_count, r.modified_count) == (1, 1)
    doc = await coll.find_one({"_id": "a"})
    assert doc == {"_id": "a", "version": 2, "v": "湖畔"} and list(doc) == ["_id", "version", "v"]
    assert (await coll.replace_one({"_id": "a", "version": 1}, {"version": 9})).matched_count == 0  # a stale read
    assert (await coll.replace_one({"_id": "a", "version": 2, "gen": "e1"}, {"version": 9})).matched_count == 0
    assert (await coll.replace_one({"_id": "a", "version": 2}, {"version": 3})).matched_count == 1  # no _id given
    assert await coll.find_one({"_id": "a"}) == {"_id": "a", "version": 3}
    # a number equals a number of any type, never its digits; an array holding the value matches
    assert (await coll.replace_one({"_id": "b", "version": 7}, {"version": 8, "tags": ["x"]})).matched_count == 1
    assert (await coll.replace_one({"_id": "c", "version": 3}, {"version": 4})).matched_count == 1
    assert (await coll.replace_one({"_id": "d", "version": 1}, {"version": 2})).matched_count == 0
    assert (await coll.replace_one({"_id": "b", "tags": "x"}, {"version": 9, "tags": ["z"]})).matched_count == 1
    assert await coll.find_one({"_id": "b"}) == {"_id": "b", "version": 9, "tags": ["z"]}
    assert await coll.find_one({"_id": "c"}) == {"_id": "c", "version": 4}
    assert await coll.find_one({"_id": "d"}) == {"_id": "d", "version": "1"}
    with pytest.raises(WriteError) as immutable:  # the _id cannot change
        await coll.replace_one({"_id": "c", "version": 4}, {"_id": "zz", "version": 5})
    assert immutable.value.code == 66
    assert (await coll.replace_one({"_id": "zz", "version": 1}, {"_id": "other"})).matched_count == 0
    with pytest.raises(DuplicateKeyError):  # another unique index still refuses
        await coll.replace_one({"_id": "c", "version": 4}, {"version": 5, "email": "x@y"})
    assert await coll.find_one({"_id": "c"}) == {"_id": "c", "version": 4}
    assert (await coll.replace_one({"_id": "nobody", "version": 1}, {"version": 2})).matched_count == 0
    assert await coll.count_documents({}) == 5


async def test_documents_come_back_exactly_as_they_were_stored(coll):
    """Every BSON type the center stores, at its edges, read back unchanged, directly and after an update
    (FerretDB v1 decodes the stored JSON on every read and re-encodes it on every write: patch change 6 swaps
    the JSON library that does it)."""
    doc = {
        "_id": "rt-1", "s": "湖畔花园 3栋 \u2028\u2029 \"quoted\" \\ back\\slash \t tab \n 😀 \x01 </script>",
        "empty": "", "ints": [0, -1, 2**31 - 1, -(2**31)],
        "longs": [Int64(2**53 + 1), Int64(-(2**63)), Int64(2**63 - 1)],
        "doubles": [0.1, -2.5, 1e21, 1e-7, 5e-324, 1.7976931348623157e308, 123456789.123456789, 3.0],
        "flags": [True, False], "nothing": None, "when": datetime(2026, 12, 7, 1, 2, 3, 456000, tzinfo=UTC),
        "epoch": datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC), "oid": ObjectId("65a1b2c3d4e5f60718293a4b"),
        "bin": bytes(range(256)), "bin_user": Binary(b"\x00\xff", 128), "rx": re.compile("^湖畔.*\\d+$", re.IGNORECASE),
        "nested": {"a": {"b": {"c": [{}, 1, "x", None, {"d": [2.5]}]}}, "键": {"值": "中文"}, "none": []},
        "events": [{"type": "ComplaintReceived", "payload": {"text": "楼道灯坏了" * 50, "n": i}} for i in range(12)],
    }
    await coll.insert_one(doc)
    back = await coll.find_one({"_id": "rt-1"})
    assert back == {**doc, "rx": back["rx"]} and back["rx"].pattern == doc["rx"].pattern, back
    assert [type(v) for v in back["longs"]] == [Int64] * 3 and [type(v) for v in back["doubles"]] == [float] * 8
    await coll.update_one({"_id": "rt-1"}, {"$set": {"added": "新"}, "$inc": {"ints.0": 1}})
    again = await coll.find_one({"_id": "rt-1"})
    assert again == {**back, "added": "新", "ints": [1, *doc["ints"][1:]]}, again


def _stages(plan: Any) -> list[str]:
    """Every node/stage name in an explain plan (PostgreSQL's under FerretDB, MongoDB's otherwise)."""
    found: list[str] = []
    if isinstance(plan, dict):
        for k, v in plan.items():
            if k in ("Node Type", "stage"):
                found.append(str(v))
            found += _stages(v)
    elif isinstance(plan, list):
        for v in plan:
            found += _stages(v)
    return found


async def assert_served_by_an_index(coll, flt: dict[str, Any]) -> None:
    """The server's own plan for a find with this filter uses an index and reads no whole table."""
    explain = await coll.database.command("explain", {"find": coll.name, "filter": flt})
    stages = _stages(explain.get("queryPlanner"))
    assert stages, explain
    if "Plan" in (explain.get("queryPlanner") or {}):  # FerretDB on PostgreSQL
        assert any("Index" in s for s in stages) and "Seq Scan" not in stages, stages
    else:  # MongoDB
        assert "COLLSCAN" not in stages, stages


@pytest.mark.parametrize("flt", [{"_id": "k1234"}, {"_id": {"$in": ["k1", "k2", "k3"]}}])
async def test_lookups_by_key_are_served_by_an_index(coll, flt):
    await coll.insert_many([{"_id": f"k{i}", "v": i} for i in range(3000)])
    await assert_served_by_an_index(coll, flt)


async def test_a_lookup_by_key_among_a_few_hundred_large_documents_is_served_by_an_index(coll):
    """A young collection of case records (each stored compressed, out of line), its statistics taken while it
    was smaller: the table is small in pages, but reading a key out of every row means unpacking every
    document. Planned as for spinning disks it was scanned whole (3.4 ms a look-up in the pipeline benchmark,
    docs/adr/0016); it must go through its index."""
    rng = random.Random(16)
    notes = ["".join(rng.choice("楼道灯坏电梯漏水噪音物业保安绿化停车") for _ in range(2500)) for _ in range(8)]

    def record(i: int) -> dict[str, Any]:
        return {"_id": f"c{i}", "n": i, "timeline": [{"note": notes[(i + j) % 8]} for j in range(3)]}

    await coll.insert_many([record(i) for i in range(64)])
    await coll.database.command("collStats", coll.name)  # statistics taken early, as autovacuum's first are
    await coll.insert_many([record(i) for i in range(64, 300)])
    for key in ("c7", "c299"):
        await assert_served_by_an_index(coll, {"_id": key})
        assert [d["n"] for d in await coll.find({"_id": key}).to_list(None)] == [int(key[1:])]


async def test_equality_and_in_on_indexed_fields_answer_exactly_what_mongodb_would(coll):
    await coll.create_index([("e", 1), ("s", 1)])
    await coll.create_index([("o'k", 1)])
    oid = ObjectId()
    await coll.insert_many([
        {"_id": 1, "v": 1, "e": "e1", "s": "open"},
        {"_id": 2, "v": 2, "e": "e2", "s": "open"},
        {"_id": 3, "v": 3, "e": ["e1", "e9"], "s": "closed"},  # an array holding the value matches
        {"_id": 4, "v": 4, "e": {"x": "e1"}, "s": "open"},  # a document does not
        {"_id": 5, "v": 5, "s": "open"},  # nor a missing field
        {"_id": 6, "v": 6, "e": None, "s": "open"},
        {"_id": 7, "v": 7, "e": oid, "s": 1},
        {"_id": 8, "v": 8, "e": "湖畔-1", "s": True, "o'k": "q'uote"},
        {"_id": 10, "v": 10, "e": "E1", "s": "open"},
        {"_id": 11, "v": 11, "e": 'a\'b"c\\d', "s": "open"},  # quotes and a backslash: written into the SQL
    ])
    assert await values(coll, {"e": "e1"}) == [1, 3]
    assert await values(coll, {"e": {"$eq": "e1"}}) == [1, 3]
    assert await values(coll, {"e": "e1", "s": "open"}) == [1]
    assert await values(coll, {"e": "湖畔-1"}) == [8]
    assert await values(coll, {"e": oid}) == [7]
    assert await values(coll, {"s": 1}) == [7]
    assert await values(coll, {"s": True}) == [8]
    assert await values(coll, {"e": None}) == [5, 6]
    assert await values(coll, {"e": ["e1", "e9"]}) == [3]
    assert await values(coll, {"o'k": "q'uote"}) == [8]
    assert await values(coll, {"e": 'a\'b"c\\d'}) == [11]
    assert await values(coll, {"e": {"$in": ['a\'b"c\\d', "a'b"]}}) == [11]
    assert await values(coll, {"e": {"$in": ["e1", "e2"]}}) == [1, 2, 3]
    assert await values(coll, {"e": {"$in": ["e9", "zz"]}, "s": "closed"}) == [3]
    assert await values(coll, {"e": {"$in": ["e2", oid]}}) == [2, 7]
    assert await values(coll, {"e": {"$in": ["e2", None]}}) == [2, 5, 6]  # mixed: not pushed down, still right
    assert await values(coll, {"e": {"$in": ["e1"], "$ne": "e9"}}) == [1]
    assert await values(coll, {"e": {"$in": []}}) == []
    assert await coll.count_documents({"e": {"$in": ["e1", "e2"]}, "s": "open"}) == 2
    assert (await coll.update_many({"e": {"$in": ["e1", "e2"]}}, {"$set": {"w": 1}})).modified_count == 3
    assert await values(coll, {"w": 1, "s": "open"}) == [1, 2]
    assert (await coll.delete_many({"e": "e1", "s": "closed"})).deleted_count == 1
    assert await values(coll, {"e": {"$in": ["e1", "e2"]}}) == [1, 2]


@pytest.mark.parametrize("flt", [{"e": "e7", "s": "open"}, {"e": {"$in": ["e1", "e2", "e3"]}},
                                 {"g": "g1", "s": "waiting"}])
async def test_equality_and_in_on_indexed_fields_are_served_by_an_index(coll, flt):
    await coll.create_index([("g", 1), ("e", 1), ("s", 1), ("d", 1)])
    await coll.insert_many([{"_id": f"k{i}", "g": "g1", "e": f"e{i % 300}", "s": "waiting" if i % 100 == 0 else
                             "open" if i % 7 == 0 else "closed", "d": i} for i in range(3000)])
    await assert_served_by_an_index(coll, flt)
    expected = [d for d in range(3000) if all(
        {"g": "g1", "e": f"e{d % 300}", "s": "waiting" if d % 100 == 0 else "open" if d % 7 == 0 else "closed"}[k]
        in (v["$in"] if isinstance(v, dict) else [v]) for k, v in flt.items())]
    assert sorted(x["d"] for x in await coll.find(flt).to_list(None)) == expected


def _bson_rank(v: Any) -> tuple:
    """MongoDB's sort order for the values these tests use: missing and null, numbers, strings, dates."""
    if v is None:
        return (0,)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (1, v)
    if isinstance(v, str):
        return (2, v.encode())
    if isinstance(v, datetime):
        return (3, v)
    raise AssertionError(v)


def _page(docs: list[dict], flt: dict, order: list[tuple[str, int]], skip: int, limit: int) -> list[str]:
    """What MongoDB returns: the matches (a field equal to the value, or an array holding it), sorted, paged."""
    def matches(d: dict, f: dict) -> bool:
        for k, v in f.items():
            if k in ("$and", "$or"):
                if not (all if k == "$and" else any)(matches(d, sub) for sub in v):
                    return False
                continue
            want = v["$in"] if isinstance(v, dict) else [v]
            have = d.get(k)
            held = have if isinstance(have, list) else [have]
            if not any(type(h) is type(w) and h == w for h in held for w in want):
                return False
        return True

    found = [d for d in docs if matches(d, flt)]
    for k, direction in reversed(order):
        found.sort(key=lambda d: _bson_rank(d.get(k)), reverse=direction < 0)
    return [d["_id"] for d in found][skip:skip + limit]


PAGES = [({"g": "g1", "s": "waiting"}, [("due", 1), ("r", 1), ("_id", 1)], 0, 10),
         ({"g": "g1", "s": "waiting"}, [("due", 1), ("r", 1), ("_id", 1)], 25, 10),
         ({"g": "g1", "s": {"$in": ["open", "waiting"]}}, [("due", -1), ("_id", 1)], 5, 7),
         ({"es": {"$in": ["e3|open", "e5|open"]}}, [("r", 1), ("_id", -1)], 0, 50),
         ({"g": "g1", "flag": True}, [("_id", 1)], 3, 4),
         ({"e": "AAAA"}, [("_id", 1)], 0, 5),
         # a two-word search as the archive asks it: each word, or all of its characters
         ({"g": "g1", "$and": [{"$or": [{"t": "漏水"}, {"$and": [{"t": "漏"}, {"t": "水"}]}]}, {"t": "电梯"}]},
          [("due", 1), ("r", 1), ("_id", 1)], 0, 10),
         ({"$or": [{"s": "closed"}, {"t": "漏水", "flag": True}]}, [("r", -1), ("_id", 1)], 10, 10),
         ({"g": "g1"}, [], 0, 3)]


async def _pages_and_counts(coll, docs: list[dict]) -> None:
    for flt, order, skip, limit in PAGES:
        expected = _page(docs, flt, order, skip, limit)
        cursor = coll.find(flt, {"_id": 1})
        if order:
            cursor = cursor.sort(order)
        got = [d["_id"] for d in await cursor.skip(skip).limit(limit).to_list(None)]
        if order:
            assert got == expected, (flt, order)
        else:  # no order: any `limit` of the matches
            assert len(got) == len(expected) and set(got) <= set(_page(docs, flt, [], 0, 10 ** 6)), flt
        total = len(_page(docs, flt, [], 0, 10 ** 6))
        assert (await coll.database.command("count", coll.name, query=flt))["n"] == total, flt
        assert (await coll.database.command("count", coll.name, query=flt, skip=2, limit=3))["n"] == max(
            0, min(total - 2, 3)), flt
        assert await coll.count_documents(flt) == total, flt


async def test_pages_and_counts_of_whole_pushed_down_filters_are_mongodbs(coll):
    """Change 5: PostgreSQL returns only the page, and counts, when the whole filter is pushed down; the answers
    are MongoDB's, for `$and`/`$or` of equalities and arrays of strings too, also when a selected document is not
    plain (an array holding the value among other types, a regex with the string's text, a number or a string
    among the dates, a binary whose text is the string), where the page comes from FerretDB as before."""
    await coll.create_index([("g", 1), ("s", 1), ("es", 1), ("e", 1), ("flag", 1)])
    base = datetime(2026, 11, 1, tzinfo=UTC)
    docs = [{"_id": f"c{i:04d}", "g": "g1", "s": ["waiting", "open", "closed"][i % 3], "e": f"e{i % 7}",
             "es": f"e{i % 7}|{['waiting', 'open', 'closed'][i % 3]}", "flag": i % 5 == 0,
             "r": base + timedelta(minutes=i * 37 % 500),
             "t": [["漏水", "漏", "水", "电梯"], ["漏", "水", "电梯"], ["电梯", "漏"], ["漏水"], []][i % 5],
             **({} if i % 11 == 0 else {"due": None} if i % 13 == 0 else
                {"due": base + timedelta(hours=i * 7 % 90)})} for i in range(400)]
    await coll.insert_many([dict(d) for d in docs])
    await _pages_and_counts(coll, docs)
    odd = [{"_id": "x-array", "g": "g1", "s": ["closed", "waiting"], "r": base, "due": base, "es": "x"},
           {"_id": "x-number", "g": "g1", "s": "waiting", "r": base, "due": 5, "es": "x"},
           {"_id": "x-string", "g": "g1", "s": "open", "r": base, "due": "soon", "es": "x"},
           {"_id": "x-binary", "g": "g2", "s": "open", "r": base, "e": Binary(b"\x00\x00\x00")},  # text "AAAA"
           {"_id": "x-text", "g": "g2", "s": "open", "r": base, "e": "AAAA"},
           {"_id": "x-mixed", "g": "g1", "s": "closed", "r": base, "t": ["漏水", 7, "电梯"]},  # not all strings
           {"_id": "x-regex", "g": "g1", "s": "closed", "r": base, "t": [re.compile("电梯"), "漏水"]}]
    await coll.insert_many([dict(d) for d in odd])
    docs += [{**d, "e": None} if d["_id"] == "x-binary" else d for d in odd]  # (the reference ignores binaries)
    await _pages_and_counts(coll, docs)


async def test_a_page_of_a_whole_pushed_down_filter_is_limited_by_postgresql(coll):
    await coll.create_index([("g", 1), ("s", 1)])
    await coll.insert_many([{"_id": f"k{i}", "g": "g1", "s": "waiting" if i % 10 == 0 else "open", "d": i}
                            for i in range(3000)])
    find = {"find": coll.name, "filter": {"g": "g1", "s": "waiting"}, "sort": {"d": 1, "_id": 1},
            "skip": Int64(20), "limit": Int64(10)}
    explain = await coll.database.command("explain", find)
    plan = explain.get("queryPlanner") or {}
    stages = _stages(plan)
    assert stages, explain
    if "Plan" in plan:  # FerretDB on PostgreSQL: the patch's LIMIT, served by the index
        assert "Limit" in stages and "Seq Scan" not in stages, stages
        assert explain.get("sortPushdown") and explain.get("limitPushdown"), explain
    else:  # MongoDB: an index scan
        assert "COLLSCAN" not in stages, stages


@pytest.fixture
async def clients(infra, prefix, cleanup):
    """Three clients with twenty connections each: what three instances of a service with pools look like."""
    settings = ServiceSettings(mongo_url=infra.mongo_url, db_prefix=prefix, mongo_max_pool_size=20)
    made = [make_client(settings) for _ in range(3)]
    name = f"a{uuid.uuid4().hex[:6]}"
    yield [c[settings.database("wire")][name] for c in made]
    await made[0][settings.database("wire")][name].drop()
    for c in made:
        await c.close()


async def test_single_document_writes_are_atomic_across_connections_and_clients(clients):
    """MongoDB applies each single-document write atomically; unpatched FerretDB v1 kept 3 of 50 `$inc`s and let
    two compare-and-set writers at one version both win (docs/adr/0002). Several instances of a service rely on it."""
    import asyncio

    await clients[0].insert_one({"_id": "n", "n": 0, "version": 0, "seen": []})
    await asyncio.gather(*(clients[i % 3].update_one({"_id": "n"}, {"$inc": {"n": 1}}) for i in range(60)))
    assert (await clients[0].find_one({"_id": "n"}))["n"] == 60

    async def cas(i: int) -> None:  # read the version, write only if nobody wrote since: retry until it lands
        c = clients[i % 3]
        while True:
            doc = await c.find_one({"_id": "n"})
            r = await c.update_one({"_id": "n", "version": doc["version"]},
                                   {"$set": {"seen": [*doc["seen"], i]}, "$inc": {"version": 1}})
            if r.modified_count:
                return

    await asyncio.gather(*(cas(i) for i in range(30)))
    doc = await clients[0].find_one({"_id": "n"})
    assert sorted(doc["seen"]) == list(range(30)) and doc["version"] == 30

    # a claim: many instances try to take one piece of work; exactly one gets it
    await clients[0].insert_one({"_id": "job", "owner": None})
    won = await asyncio.gather(*(clients[i % 3].find_one_and_update({"_id": "job", "owner": None},
                                                                   {"$set": {"owner": i}}) for i in range(30)))
    assert sum(w is not None for w in won) == 1
    # and a delete guarded by a condition removes what matched when it ran, never a document changed meanwhile
    await clients[0].insert_many([{"_id": f"d{i}", "state": "old"} for i in range(20)])
    await asyncio.gather(*(clients[i % 3].delete_one({"_id": f"d{i % 20}", "state": "old"}) for i in range(40)),
                         *(clients[i % 3].update_one({"_id": f"d{i}", "state": "old"}, {"$set": {"state": "new"}})
                           for i in range(20)))
    left = await clients[0].find({"_id": {"$regex": "^d"}}).to_list(None)
    assert all(d["state"] == "new" for d in left)  # each either deleted while old, or updated to new and kept
