"""Fold a case's events, in the order they happened, into its complete record.

Events reach the archive on several topics, so they may arrive out of order; the record is always
recomputed from the whole ordered list, which makes the result independent of arrival order.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from bson import decode, encode
from bson.binary import Binary
from bson.codec_options import CodecOptions

from shared.masking import mask_complainant
from shared.org import digits
from shared.terms import SEVERITY_ZH, zh
from shared.workcal import LOCAL_TZ

FAR_FUTURE = datetime(9999, 12, 31)

# lifecycle order breaks ties between events stamped in the same instant
RANK = {"ComplaintReceived": 0, "ComplaintTriaged": 1, "ComplaintSentBack": 2, "ComplaintQueued": 2,
        "ComplaintAssigned": 2, "ProgressRecorded": 3, "ClocksPaused": 3, "ClocksResumed": 3, "SlaWarning": 3,
        "ComplaintEscalated": 3, "ComplaintResolved": 4, "CallbackScheduled": 5, "FollowUpRecorded": 5,
        "ComplaintReopened": 6, "ComplaintClosed": 7, "NoticeSent": 8, "NoticeFailed": 8}
TITLE = {"ComplaintReceived": "受理 Received", "ComplaintTriaged": "判定 Triaged", "ComplaintAssigned": "派单 Assigned",
         "ComplaintResolved": "处理完毕 Resolved", "FollowUpRecorded": "回访 Follow-up",
         "ComplaintReopened": "重开 Reopened", "ComplaintClosed": "归档 Closed",
         "ComplaintQueued": "待派 Waiting for a free handler", "ComplaintSentBack": "退单 Sent back",
         "ProgressRecorded": "进展 Progress", "ClocksPaused": "暂停计时 Clocks paused",
         "ClocksResumed": "恢复计时 Clocks resumed", "SlaWarning": "预警 Deadline warning",
         "ComplaintEscalated": "督办 Escalated", "CallbackScheduled": "回访任务 Callback due",
         "NoticeSent": "告知 Notice sent", "NoticeFailed": "告知失败 Notice not delivered"}


_PAYLOAD_CODEC = CodecOptions(tz_aware=True)  # as the database client gives documents back


def stored_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events as the record keeps them: each payload one BSON value (binary), beside its plain id, type,
    time and hash. FerretDB v1 keeps a nested payload as JSON with a type entry for every field and item, so
    the payloads were most of a record's 18 KB, read three times and written twice per filed event (ADR 13)."""
    return [{**e, "payload": Binary(encode(e["payload"]))} if isinstance(e.get("payload"), dict) else e
            for e in events]


def loaded_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events with their payloads as documents again (records filed before ADR 13 hold documents)."""
    return [{**e, "payload": decode(e["payload"], _PAYLOAD_CODEC)} if isinstance(e.get("payload"), bytes) else e
            for e in events]


def phone_key(phone: str) -> str:
    """The number without punctuation or country code, so 138-1234-1234 and +86 13812341234 match."""
    number = digits(phone)
    return number[-11:] if len(number) >= 11 else number


def order(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(events, key=lambda e: (e["at"], RANK.get(e["type"], 99)))


def _summary(kind: str, p: dict[str, Any]) -> str:
    if kind == "ComplaintReceived":
        return f"{zh(p['channel'])}受理，编号 {p['tracking_no']}"
    if kind == "ComplaintTriaged":
        validity = "有效" if p["valid"] else "无效"
        return f"{zh(p['category'])}/{zh(p['subcategory'])}，{SEVERITY_ZH[p['severity']]}，{validity}"
    if kind == "ComplaintAssigned":
        a = p["assignee"]
        how = zh(p.get("kind", "initial"))
        told = f"，同时通知 {'、'.join(p['notify'])}" if p.get("notify") else ""
        by = f"（{p['by']}）" if p.get("by") else ""
        return f"第{p['round']}轮{how}{by}：{a['department_name']} {a['name']}{told}"
    if kind == "ComplaintQueued":
        return f"{zh(p['department'])}人员均已满额，排队待派"
    if kind == "ComplaintSentBack":
        return f"{p['by']} 退单：{p['reason']}（{p['from_department']} → {p['to_department']}）"
    if kind == "ProgressRecorded":
        return f"{p['by']} {zh(p['step'])}" + ("（已超时）" if p.get("late") else "") + (
            f"：{p['note']}" if p.get("note") else "")
    if kind == "ClocksPaused":
        return f"{p['by']} 暂停计时：{p['reason']}"
    if kind == "ClocksResumed":
        return f"{p['by']} 恢复计时（暂停 {int(p['paused_seconds'] // 60)} 分钟）"
    if kind == "SlaWarning":
        return f"{zh(p['clock'])}时限即将到期，已提醒 {'、'.join(p['to'])}"
    if kind == "ComplaintEscalated":
        return p["notice"]
    if kind == "CallbackScheduled":
        due = p["due_at"].astimezone(LOCAL_TZ).strftime("%m-%d %H:%M") if isinstance(p["due_at"], datetime) \
            else str(p["due_at"])
        return f"第{p['attempt']}次回访 {due}" + (f"，由受理人 {p['owner']} 回访" if p.get("owner") else "")
    if kind == "NoticeSent":
        return f"{'短信' if p['channel'] == 'sms' else '邮件'}告知（{zh(p['point'])}）→ {p['to_masked']}"
    if kind == "NoticeFailed":
        return f"告知未送达（{zh(p['point'])}）：{p['reason']}"
    if kind == "ComplaintResolved":
        return f"{p['by']}：{p['note']}"
    if kind == "FollowUpRecorded":
        return f"第{p['attempt']}次回访，" + (zh(p["satisfaction"]) if p["reached"] else "未接通")
    if kind == "ComplaintReopened":
        return f"回访不满意，重开：{p['reason']}"
    if kind == "ComplaintClosed":
        return "已归档：" + ("满意" if p["outcome"] == "satisfied" else "无法联系")
    return kind


def _next_due(r: dict[str, Any]) -> datetime | None:
    """The nearest deadline still open: what the queue sorts on (none while the clocks are paused)."""
    if r["status"] not in ("assigned", "waiting") or not r.get("sla") or r.get("paused"):
        return None
    met = set(r.get("met", []))
    dues = [v for k, v in r["sla"].items() if v is not None and k.removesuffix("_due") not in met]
    return min(dues) if dues else None


def fold(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The record's derived fields from the ordered events."""
    r: dict[str, Any] = {"status": None, "callbacks": [], "resolutions": [], "timeline": [], "assignments": [],
                         "send_backs": [], "warnings": [], "escalations": [], "notices": []}
    for e in order(events):
        p, kind = e["payload"], e["type"]
        r["timeline"].append({"type": kind, "at": e["at"], "event_id": e["event_id"], "title": TITLE.get(kind, kind),
                              "summary": _summary(kind, p)})
        if kind == "ComplaintReceived":
            r.update(tracking_no=p["tracking_no"], channel=p["channel"], received_at=p["received_at"],
                     text=p["text"], demand=p["demand"], complainant=p["complainant"],
                     attachments=p["attachments"], receiver=p["receiver"], source_ref=p.get("source_ref", ""),
                     reported_by=p.get("reported_by", ""), needs_review=p.get("needs_review", False),
                     review_reason=p.get("review_reason", ""))
            r["status"] = r["status"] or "received"
        elif kind == "ComplaintTriaged":
            r.update(category=p["category"], subcategory=p["subcategory"], severity=p["severity"],
                     valid=p["valid"], responsibility=p["responsibility"],
                     responsible_party=p["responsible_party"], triage={"confidence": p["confidence"],
                                                                      "reasons": p["reasons"],
                                                                      "needs_review": p["needs_review"]})
            r["needs_review"] = r.get("needs_review", False) or p["needs_review"]
            r.update(duplicate_of=p.get("duplicate_of"), link_kind=p.get("link_kind", ""),
                     reports=p.get("reports", 1), unit_hint=p.get("unit_hint"), phone_hint=p.get("phone_hint"),
                     estate_hint=p.get("estate_hint"), corrected_by=p.get("corrected_by", ""))
            if not r.get("demand") and p.get("demand"):
                r["demand"] = p["demand"]
            if r["status"] in (None, "received"):
                r["status"] = "triaged"
        elif kind == "ComplaintAssigned":
            if r["status"] in (None, "received", "triaged", "assigned", "waiting", "reopened"):
                r["status"] = "assigned"
            if p["round"] > r.get("round", 0):
                r.update(met=[], paused=False, escalation_level=0)
            r.update(round=p["round"], assignee=p["assignee"], sla=p["sla"], supervisor_id=p.get("supervisor_id", ""),
                     severity=p["severity"], assignment_reason=p["reason"], assigned_at=e["at"],
                     notified=p.get("notify", []))
            r["assignments"].append({"at": e["at"], "kind": p.get("kind", "initial"), "staff_id":
                                     p["assignee"]["staff_id"], "department": p["assignee"]["department_id"],
                                     "by": p.get("by", ""), "reason": p["reason"],
                                     "candidates": p.get("candidates", [])})
        elif kind == "ComplaintQueued":
            if r["status"] in (None, "received", "triaged", "reopened", "assigned"):
                r["status"] = "waiting"
            r["assignee"] = None
        elif kind == "ComplaintSentBack":
            r["send_backs"].append({**p, "at": e["at"]})
        elif kind == "ProgressRecorded":
            r.setdefault("met", []).append(p["step"])
            r[f"{p['step']}_at"] = e["at"]
        elif kind == "ClocksPaused":
            r.update(paused=True, paused_reason=p["reason"])
        elif kind == "ClocksResumed":
            r.update(paused=False, sla=p["sla"])
        elif kind == "SlaWarning":
            r["warnings"].append({**p, "at": e["at"]})
        elif kind == "ComplaintEscalated":
            r["escalations"].append({**p, "at": e["at"]})
            r["escalation_level"] = max(r.get("escalation_level", 0), p["level"])
        elif kind == "ComplaintResolved":
            r["status"] = "resolved"
            r["resolutions"].append({"round": p["round"], "note": p["note"], "by": p["by"], "at": e["at"]})
        elif kind == "FollowUpRecorded":
            r["callbacks"].append({**p, "at": e["at"]})
        elif kind == "ComplaintReopened":
            r["status"] = "reopened"
            r["reopen_reason"] = p["reason"]
        elif kind == "CallbackScheduled":
            r["callback"] = {"round": p["round"], "attempt": p["attempt"], "due_at": p["due_at"],
                             "owner": p.get("owner", "")}
        elif kind in ("NoticeSent", "NoticeFailed"):
            r["notices"].append({"type": kind, "at": e["at"], **{k: v for k, v in p.items() if k != "text"}})
        elif kind == "ComplaintClosed":
            r.update(status="closed", outcome=p["outcome"], closed_at=e["at"])
    r["complainant_masked"] = mask_complainant(r.get("complainant") or {})
    r["phone_key"] = phone_key((r.get("complainant") or {}).get("phone", ""))
    r["next_due"] = _next_due(r)
    if r["status"] != "resolved":
        r["callback"] = None  # a callback task is open only while the case waits for it
    r["due_sort"] = r["next_due"] or FAR_FUTURE
    return r


def link(prev: str, event: dict[str, Any]) -> str:
    """Tamper evidence: an event's hash covers the previous event's hash (in filing order) and the event."""
    body = json.dumps({"prev": prev, "event_id": event["event_id"], "type": event["type"], "at": event["at"],
                       "payload": event["payload"]}, sort_keys=True, default=_plain, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def chain_problems(events: list[dict[str, Any]]) -> list[str]:
    """Where the stored filing chain breaks: an event changed, removed or inserted after it was filed."""
    prev = ""
    for i, e in enumerate(events):
        if e.get("hash") != link(prev, e):
            return [f"event {i + 1} ({TITLE.get(e['type'], e['type'])}) does not match its hash: changed after filing"]
        prev = e["hash"]
    return []


def _plain(value: Any) -> str:
    """Datetimes as UTC: MongoDB gives back UTC whatever offset was filed."""
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else str(value)


def sealed(record: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """The record with each timeline entry showing its event's hash, and the chain head (the last filed)."""
    hashes = {e["event_id"]: e.get("hash", "") for e in events}
    record["timeline"] = [{**t, "hash": hashes.get(t["event_id"], "")} for t in record["timeline"]]
    record["chain_head"] = events[-1].get("hash", "") if events else ""
    return record
