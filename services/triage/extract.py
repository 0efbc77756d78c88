"""Pulling facts out of complaint text: the complainant's own words, estate, building/unit/room, phone, demand."""

from __future__ import annotations

import re

AGENT = ("坐席", "客服", "接线员", "agent", "operator")
_TURN = re.compile(r"^\s*([^：:\n]{1,12})\s*[：:]", re.M)
_CN_DIGITS = str.maketrans("〇零一二三四五六七八九幺两", "0012345678912")
_PHONE = re.compile(
    r"(?<![\d])(?:\(?（?(0\d{2,3})\)?）?[\s\-]?(\d{3,4})[\s\-]?(\d{4})"
    r"|(1[3-9]\d)[\s\-·.]?(\d{4})[\s\-·.]?(\d{4}))(?![\d])")
_SPOKEN = re.compile(r"[〇零一二三四五六七八九幺两](?:[，,、\s]?[〇零一二三四五六七八九幺两]){6,13}")
_UNIT = re.compile(
    r"(?:[A-Za-z]|\d{1,3}|[一二三四五六七八九十]{1,3})\s*(?:栋|幢|座|号楼)"
    r"(?:\s*(?:\d{1,2}|[一二三四五六七八九十])\s*单元)?"
    r"(?:\s*\d{2,5}(?![\d层楼户人个天年月日元块米%]|\s*[层楼户人个])\s*(?:室|房|号)?)?")
_DEMAND = ("希望", "要求", "请尽快", "请你们", "尽快", "必须", "给个说法", "赔偿", "退还", "退钱", "道歉", "马上")


def caller_text(text: str) -> str:
    """In a call transcript, the caller's turns only; other texts unchanged."""
    turns = list(_TURN.finditer(text))
    if len(turns) < 2 or not any(m.group(1).strip().lower() in AGENT for m in turns):
        return text
    out = []
    for i, m in enumerate(turns):
        end = turns[i + 1].start() if i + 1 < len(turns) else len(text)
        if m.group(1).strip().lower() not in AGENT:
            out.append(text[m.end():end].strip())
    return "\n".join(out)


def phones(text: str) -> list[str]:
    """Phone numbers as digits, in order of appearance; hotline numbers (400/800) left out."""
    found = []
    for m in _PHONE.finditer(text):
        digits = "".join(g for g in m.groups() if g)
        if not digits.startswith(("400", "800")):
            found.append(digits)
    for m in _SPOKEN.finditer(text):
        digits = re.sub(r"[，,、\s]", "", m.group(0)).translate(_CN_DIGITS)
        if re.fullmatch(r"1[3-9]\d{9}|0\d{9,11}", digits):
            found.append(digits)
    return found


def phone_hint(text: str) -> str | None:
    own = phones(caller_text(text))
    return (own or phones(text) or [None])[0]


def unit_hint(text: str) -> str | None:
    """Building/unit/room exactly as written (spaces dropped), e.g. 3栋2单元1201, 5号楼302, B座1803, 3栋."""
    for source in (caller_text(text), text):
        flat = source.replace("\n", "")
        found = [re.sub(r"\s+", "", m.group(0)) for m in _UNIT.finditer(flat)]
        if found:  # the most specific mention: 17栋 … 17栋2单元 → 17栋2单元
            return max(found, key=len)
    return None


def estate_hint(text: str, estates: list[str]) -> str | None:
    """The longest directory name the text mentions (OCR may put spaces or breaks inside it)."""
    flat = re.sub(r"\s+", "", text)
    best = None
    for name in estates:
        if name and name in flat and (best is None or len(name) > len(best)):
            best = name
    return best


def demand(text: str) -> str:
    """The complainant's sentences that ask for something (诉求)."""
    sentences = [s.strip() for s in re.split(r"[。！？!?\n]", caller_text(text)) if s.strip()]
    return "；".join(s for s in sentences if any(m in s for m in _DEMAND))[:2000]


def building_of(unit: str | None) -> str | None:
    """The building part of a unit hint: 3栋2单元1201 → 3栋."""
    if not unit:
        return None
    m = re.match(r"^(.*?(?:栋|幢|座|号楼))", unit)
    return m.group(1) if m else None
