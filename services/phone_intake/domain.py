"""Reading a call: turns from JSON, `坐席：…/业主：…` text or WebVTT; the caller's words; complaint or enquiry."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import webvtt

CALLER_NAMES = {"业主", "客户", "来电人", "来电", "住户", "租户", "投诉人", "caller", "customer", "owner", "resident"}
AGENT_NAMES = {"坐席", "客服", "接线员", "agent", "operator"}
COMPLAINT_SIGNALS = ("投诉", "坏了", "坏掉", "不满意", "没人修", "没人管", "没人处理", "漏水", "渗水", "噪音", "太吵",
                     "吵", "态度", "乱收费", "垃圾", "停电", "停水", "困", "燃气", "煤气", "着火", "冒烟", "堵", "脏",
                     "臭", "损坏", "报修", "赔偿", "还没修", "一直没", "太差", "不合理", "水浸", "淹")
DEMAND_MARKERS = ("希望", "要求", "请你们", "请尽快", "尽快", "必须", "给个说法", "赔偿")
_LINE = re.compile(r"^\s*(?:\[?(?P<ts>\d{1,2}:\d{2}(?::\d{2})?)\]?\s*)?(?P<who>[^：:\s]{1,12})\s*[：:]\s*(?P<text>.*)$")


class TranscriptError(ValueError):
    """The transcript cannot be read as turns."""


@dataclass(frozen=True)
class Turn:
    role: str  # caller | agent | unknown
    text: str
    start: float | None = None


def role_of(speaker: str) -> str:
    s = speaker.strip().lower()
    if s in CALLER_NAMES:
        return "caller"
    if s in AGENT_NAMES:
        return "agent"
    return "unknown"


def parse_plain(text: str) -> list[Turn]:
    """`坐席：您好…` / `业主：…` lines; a line without a speaker continues the previous turn."""
    turns: list[Turn] = []
    for raw in text.splitlines():
        if not raw.strip():
            continue
        m = _LINE.match(raw)
        if m and (role_of(m["who"]) != "unknown" or not turns):
            turns.append(Turn(role_of(m["who"]), m["text"].strip(), _seconds(m["ts"])))
        elif turns:
            last = turns[-1]
            turns[-1] = Turn(last.role, f"{last.text}{raw.strip()}", last.start)
        else:
            raise TranscriptError("the first line names no speaker (expected 坐席：… or 业主：…)")
    if not turns:
        raise TranscriptError("the transcript is empty")
    return turns


def parse_vtt(text: str) -> list[Turn]:
    try:
        captions = webvtt.from_buffer(io.StringIO(text))
    except Exception as exc:  # webvtt raises its own MalformedFileError and friends
        raise TranscriptError(f"not valid WebVTT: {exc}") from exc
    turns = []
    for c in captions:
        voice, body = c.voice, c.text.strip()
        if not voice:  # no <v> tag: the speaker may open the cue text
            m = _LINE.match(body)
            voice, body = (m["who"], m["text"]) if m else ("", body)
        turns.append(Turn(role_of(voice or ""), body, float(c.start_in_seconds)))
    if not turns:
        raise TranscriptError("the WebVTT file has no cues")
    return turns


def parse_text(text: str) -> list[Turn]:
    return parse_vtt(text) if text.lstrip("\ufeff").startswith("WEBVTT") else parse_plain(text)


def _seconds(ts: str | None) -> float | None:
    if not ts:
        return None
    parts = [int(p) for p in ts.split(":")]
    return float(sum(p * 60 ** i for i, p in enumerate(reversed(parts))))


def caller_words(turns: list[Turn]) -> str:
    return "\n".join(t.text for t in turns if t.role == "caller" and t.text)


def render(turns: list[Turn]) -> str:
    """The transcript as people read it, kept as an original."""
    label = {"caller": "业主", "agent": "坐席", "unknown": "未知"}
    return "\n".join(f"{label[t.role]}：{t.text}" for t in turns)


def is_complaint(words: str) -> bool:
    """A call is a complaint when the caller reports a problem; otherwise it is an enquiry (咨询)."""
    return any(s in words for s in COMPLAINT_SIGNALS)


def demand_of(words: str) -> str:
    """The caller's sentences that ask for something (诉求)."""
    sentences = [s.strip() for s in re.split(r"[。！？!?\n]", words) if s.strip()]
    return "；".join(s for s in sentences if any(m in s for m in DEMAND_MARKERS))[:2000]
