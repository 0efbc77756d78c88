"""Chinese keyword search: segmented terms in a multikey-indexed array (MongoDB's text index does not segment
Chinese, and FerretDB has no $text). jieba's search mode gives words and their sub-words; every single Chinese
character is indexed too, so a one-character query ("灯") or a word jieba splits differently still matches.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache

from shared.workcal import LOCAL_TZ

_WORD = re.compile(r"[0-9a-z]+|[\u4e00-\u9fff]+")
_CJK = re.compile(r"[\u4e00-\u9fff]")
MAX_TERMS = 600


@cache
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def _words(text: str) -> list[str]:
    out: list[str] = []
    for w in _jieba().cut_for_search((text or "").lower()):
        w = w.strip()
        if w and _WORD.fullmatch(w):
            out.append(w)
    return out


def terms(*texts: str) -> list[str]:
    """Index terms of a record's texts: words, sub-words and single characters, unique, capped."""
    return list(_terms(texts))


@lru_cache(maxsize=4096)
def _terms(texts: tuple[str, ...]) -> tuple[str, ...]:
    """A case's texts rarely change between its filings (about five, each also re-checking the stored record):
    segmenting them again each time was a twentieth of the archive's CPU."""
    seen: dict[str, None] = {}
    for text in texts:
        for w in _words(text):
            seen.setdefault(w, None)
        for ch in _CJK.findall(text or ""):
            seen.setdefault(ch, None)
    return tuple(seen)[:MAX_TERMS]


def query_terms(q: str) -> list[str]:
    """Terms a query needs, all of them: its words (a word the index may lack falls back to its characters)."""
    out: dict[str, None] = {}
    for w in _jieba().cut((q or "").lower()):
        w = w.strip()
        if w and _WORD.fullmatch(w):
            out.setdefault(w, None)
    return list(out)[:20]


def week_term(at: datetime) -> str:
    """The term of the (ISO, local) week a case was received in, kept among its list entry's terms: a search
    asks for its words within one week at a time, newest first, so its cost follows a week's matches, not the
    whole archive's (`queries.list_cases`)."""
    year, week, _ = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(LOCAL_TZ).isocalendar()
    return f"@w{year}-{week:02d}"


def recent_weeks(until: datetime, n: int) -> list[str]:
    """The week terms of the n weeks up to `until`, newest first."""
    return [week_term(until - timedelta(weeks=k)) for k in range(n)]
