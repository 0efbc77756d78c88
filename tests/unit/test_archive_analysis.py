"""Rollup contributions, percentiles, periods, search terms, the hash chain and anonymisation (pure parts)."""

from __future__ import annotations

import json
from datetime import date

import pytest

from deploy.demo_history import build
from services.archive import rollups
from services.archive.analysis import _figures, period_bounds
from services.archive.domain import chain_problems, link
from services.archive.handlers import record_of, record_problems
from services.archive.retention import anonymised_events, rechained
from services.archive.search import query_terms, terms
from shared.contracts import parse


def events_of(case: list[dict]) -> list[dict]:
    """As the archive stores them: entries with parsed dates, each chained to the one filed before."""
    from services.archive.handlers import entry_of

    out, prev = [], ""
    for e in case:
        entry = entry_of(parse(json.dumps(e, ensure_ascii=False).encode()))
        entry["hash"] = prev = link(prev, entry)
        out.append(entry)
    return out


CASES = build("2026-10", 60)


def record(ev: list[dict], case: list[dict] | None = None) -> dict:
    first = (case or CASES[0])[0]
    return {**record_of(ev), "group_id": first["group_id"], "estate_id": first["estate_id"]}


def test_a_case_contributes_to_its_estate_and_received_day():
    ev = events_of(CASES[0])
    rec = record(ev)
    c = rollups.contribution(rec, ev)
    assert rollups.rollup_id(rec).startswith("g-hengan:e-")
    assert c["received"] == 1 and c["closed"] == 1 and sum(c["channel"].values()) == 1
    assert c["resolved"] == 1 and (c.get("sla_met", 0) + c.get("sla_breached", 0)) == 1


def test_an_estates_day_is_split_in_parts_by_case_and_a_case_stays_where_it_was_first_counted():
    from services.archive.handlers import _rollup_changes

    ev = events_of(CASES[0])
    rec = record(ev)
    ids = {rollups.rollup_id({**rec, "_id": f"case-{i}"}) for i in range(64)}
    assert len(ids) == rollups.SHARDS and all(rollups.same_day(a, b) for a in ids for b in ids)
    assert rollups.rollup_id({**rec, "_id": "case-1"}) == rollups.rollup_id({**rec, "_id": "case-1"})
    first = _rollup_changes(None, {**rec, "_id": "case-1"}, ev[:1])
    assert first["contrib_id"] == rollups.rollup_id({**rec, "_id": "case-1"})
    # a record counted before the parts: its later changes go on to the day's one document
    day = first["contrib_id"].rsplit(":", 1)[0]
    later = _rollup_changes({"contrib_id": day, "contrib": first["contrib"]}, {**rec, "_id": "case-1"}, ev)
    assert later["contrib_id"] == day and later["rollup_pending"][-1]["rollup_id"] == day
    # a case counted on another day (its received time corrected) is not moved: no change queued
    assert _rollup_changes({"contrib_id": "g-hengan:e-x:2020-01-01:3", "contrib": {}}, {**rec, "_id": "case-1"},
                           ev) == {}


def test_deltas_add_up_to_the_final_contribution_whatever_the_steps():
    ev = events_of(CASES[1])
    total: dict[str, float] = {}
    previous = None
    for i in range(1, len(ev) + 1):
        now = rollups.contribution(record(ev[:i], CASES[1]), ev[:i])
        for k, v in rollups.delta(previous, now).items():
            total[k] = total.get(k, 0) + v
        previous = now
    final = rollups.flatten(rollups.contribution(record(ev, CASES[1]), ev))
    assert {k: v for k, v in total.items() if v} == final
    assert "received" in final and total["received"] == 1  # counted once, however many events


def test_figures_rates_and_percentiles():
    flat = {"received": 10, "sla_met": 8, "sla_breached": 2, "surveyed": 5, "satisfied": 4,
            "respond.b0": 5, "respond.b1": 5, "category.service": 7, "category.fees": 3}
    f = _figures(flat)
    assert f["sla_compliance"] == 0.8 and f["satisfaction_rate"] == 0.8
    assert f["respond_p50_min"] == 5.0 and 5 < f["respond_p90_min"] <= 15
    assert f["by_category"] == {"service": 7, "fees": 3}
    assert _figures({})["sla_compliance"] is None and _figures({})["respond_p50_min"] is None


def test_periods():
    assert period_bounds("2026-11") == ("month", date(2026, 11, 1), date(2026, 12, 1))
    assert period_bounds("2026-12") == ("month", date(2026, 12, 1), date(2027, 1, 1))
    assert period_bounds("2026-q4") == ("quarter", date(2026, 10, 1), date(2027, 1, 1))
    for bad in ("2026-13", "26-1", "2026-Q5"):
        with pytest.raises(ValueError):
            period_bounds(bad)


def test_chinese_terms_find_words_and_single_characters():
    t = terms("3栋卫生间天花板漏水，楼上不处理", "尽快修好")
    assert "漏水" in t and "卫生间" in t and "灯" not in t and "修" in t
    assert query_terms("天花板 漏水") == ["天花板", "漏水"]


def test_the_chain_and_the_timeline_show_any_change_after_filing():
    ev = events_of(CASES[2])
    doc = {**record_of(ev), "events": ev}
    assert record_problems(doc) == []
    tampered = [dict(e) for e in ev]
    tampered[0] = {**tampered[0], "payload": {**tampered[0]["payload"], "text": "改过的内容"}}
    assert "event 1" in chain_problems(tampered)[0]
    edited = {**doc, "timeline": [dict(t) for t in doc["timeline"]]}
    edited["timeline"][1]["summary"] = "篡改"
    assert any("entry 2" in p for p in record_problems(edited))


def test_anonymising_removes_personal_data_and_reseals():
    ev = events_of(CASES[3])
    before = record_of(ev)
    after = record_of(rechained(anonymised_events(ev)))
    c = after["complainant"]
    assert c["name"] == "" and c["phone"] == "" and c["unit"].endswith("****")
    assert after["chain_head"] != before["chain_head"] and after["status"] == before["status"]
