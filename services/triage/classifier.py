"""Triage v2: the model's proposal, safety rules, extraction and linking combined into one judgement with reasons."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.triage import extract, rules
from services.triage.linking import History, Link, Seen, grams
from services.triage.model import TriageModel

EMERGENCY_SUBS = {s for s, c in rules.SUBCATEGORY_OF.items() if c == "emergency"}
SEVERITY_ORDER = ["minor", "general", "major", "emergency"]


@dataclass
class Judgement:
    category: str
    subcategory: str
    severity: str
    valid: bool
    responsibility: str
    responsible_party: str
    confidence: float
    reasons: list[str] = field(default_factory=list)
    needs_review: bool = False
    estate_hint: str | None = None
    unit_hint: str | None = None
    phone_hint: str | None = None
    demand: str = ""
    link: Link | None = None
    seen: Seen | None = None


@dataclass
class Triager:
    model: TriageModel
    estates: list[str]
    review_below: float = 0.5
    emergency_threshold: float = 0.45

    def judge(self, text: str, history: History | None = None, complaint_id: str = "",
              known_estate: str | None = None) -> Judgement:
        """Everything triage decides about one complaint; `history` is consulted and then remembers it."""
        probs = self.model.predict(text)
        reasons: list[str] = []
        sub, _ = self._subcategory(text, probs["subcategory"], reasons)
        conf = self._confidence(sub, probs["subcategory"])
        emergency = sub in EMERGENCY_SUBS
        unit, phone = extract.unit_hint(text), extract.phone_hint(text)
        estate = extract.estate_hint(text, self.estates)
        seen = Seen(complaint_id, known_estate or estate, extract.building_of(unit), unit, phone, sub,
                    grams(extract.caller_text(text)), complaint_id)
        link = history.find(seen, emergency) if history is not None else None
        if history is not None:
            history.remember(seen, link)
        severity = self._severity(text, emergency, probs["severity"], link, reasons)
        valid, party = self._validity(text, probs["valid"], reasons)
        responsibility = "not_ours" if not valid else ("assist" if rules.SUBCATEGORY_OF[sub] in
                                                       ("emergency", "neighbour") else "ours")
        return Judgement(
            category=rules.SUBCATEGORY_OF[sub], subcategory=sub, severity=severity, valid=valid,
            responsibility=responsibility, responsible_party=party, confidence=round(conf, 3), reasons=reasons,
            needs_review=conf < self.review_below, estate_hint=estate, unit_hint=unit, phone_hint=phone,
            demand=extract.demand(text), link=link, seen=seen,
        )

    @staticmethod
    def _confidence(sub: str, p: dict[str, float]) -> float:
        """How sure the category is: the probability mass of the chosen subcategory's category.

        Subcategories split the same mass among near neighbours (repair/lift), so their single top
        probability understates a confident call; an emergency the rules found counts as sure.
        """
        category = rules.SUBCATEGORY_OF[sub]
        mass = sum(v for s, v in p.items() if rules.SUBCATEGORY_OF.get(s) == category)
        return 0.9 if sub in EMERGENCY_SUBS and mass < 0.9 else mass

    def _subcategory(self, text: str, p: dict[str, float], reasons: list[str]) -> tuple[str, float]:
        best = max(p, key=p.get)
        reasons.append(f"model: {best} ({p[best]:.2f})")
        hits = [(s, w) for s, w in rules.emergency_signals(text) if s in p]
        now = rules.happening_now(text)
        p_emergency = sum(v for s, v in p.items() if s in EMERGENCY_SUBS)
        if hits:
            sub = best if best in {s for s, _ in hits} else max(hits, key=lambda h: p[h[0]])[0]
            reasons.append("emergency words: " + "、".join(w for _, w in hits))
            return sub, max(p[sub], 0.9)
        if best not in EMERGENCY_SUBS and p_emergency >= self.emergency_threshold and now:
            sub = max(EMERGENCY_SUBS & set(p), key=p.get)
            reasons.append(f"emergency likely ({p_emergency:.2f}) → {sub}")
            return sub, p_emergency
        if best in EMERGENCY_SUBS and not now:
            non = {s: v for s, v in p.items() if s not in EMERGENCY_SUBS}
            best = max(non, key=non.get)
            reasons.append("emergency words describe the past or a risk → not an emergency now")
        return best, p[best]

    def _severity(self, text: str, emergency: bool, p: dict[str, float], link: Link | None,
                  reasons: list[str]) -> str:
        if emergency:
            return "emergency"
        q = {k: v for k, v in p.items() if k != "emergency"}
        severity = max(q, key=q.get)
        if word := rules.major_signal(text):
            reasons.append(f"「{word}」 → major")
            severity = "major"
        if link is not None and link.kind == "repeat":
            reasons.append(f"repeat: report {link.reports} of the same problem ({link.why})")
            if link.reports >= 3:
                severity = "major"
            elif severity == "minor":
                severity = "general"
        return severity

    def _validity(self, text: str, p: dict[str, float], reasons: list[str]) -> tuple[bool, str]:
        hit = rules.not_ours(text)
        p_invalid = p.get("False", 0.0)
        if p_invalid >= 0.5 or (hit and p_invalid >= 0.25):
            party = hit[0] if hit else "government"
            reasons.append(f"outside the service contract ({party}" + (f": 「{hit[1]}」)" if hit else ")"))
            return False, party
        return True, "property"
