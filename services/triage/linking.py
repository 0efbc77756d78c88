"""Repeats and incidents: the same household again about the same problem, or several reporting one event.

Works on a short history of recent complaints (in memory for evaluation, from MongoDB in the service);
every link points to the first report, so a case is handled once and every reporter is told.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Seen:
    """What linking remembers of an earlier complaint."""

    id: str
    estate: str | None
    building: str | None
    unit: str | None
    phone: str | None
    subcategory: str
    grams: frozenset[str]
    root: str  # the first report of its repeat/incident chain
    reports: int = 1  # how many reports the chain has (repeats raise severity)
    index: int = 0  # position in the stream (the service keeps time instead)


@dataclass
class Link:
    root: str
    kind: str  # repeat | incident
    reports: int  # including this one
    why: str


def grams(text: str) -> frozenset[str]:
    t = "".join(ch for ch in text if not ch.isspace())
    return frozenset(t[i:i + 2] for i in range(len(t) - 1))


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


RELATED = {frozenset({"lift", "lift_entrapment"}), frozenset({"lift", "repair"}), frozenset({"power_cut", "water_cut"}),
           frozenset({"flooding", "water_cut"}), frozenset({"flooding", "leak_downstairs"}),
           frozenset({"flooding", "repair"}), frozenset({"noise", "decoration"}), frozenset({"power_cut", "repair"}),
           frozenset({"water_cut", "repair"})}


EMERGENCY = {"fire", "gas", "lift_entrapment", "flooding", "power_cut", "water_cut", "security_incident"}


def same_problem(a: str, b: str) -> bool:
    return a == b or frozenset({a, b}) in RELATED


def _has_room(unit: str) -> bool:
    return any(ch.isdigit() for ch in unit.split("栋")[-1].split("幢")[-1].split("座")[-1].split("号楼")[-1])


def _compatible(new: Seen, old: Seen) -> bool:
    """One emergency reported twice: same estate with no building that says otherwise, or very alike words."""
    if new.estate and old.estate == new.estate:
        return not (new.building and old.building and new.building != old.building)
    return similarity(new.grams, old.grams) >= 0.12


@dataclass
class History:
    """Recent complaints, newest last; `window` bounds how far back linking looks."""

    window: int = 300  # how far back a household's repeat is looked for
    incident_window: int = 40  # one incident's reports come close together
    items: list[Seen] = field(default_factory=list)
    count: int = 0

    def add(self, seen: Seen) -> None:
        self.items.append(seen)
        del self.items[:-self.window]

    def find(self, new: Seen, emergency: bool) -> Link | None:
        new.index = self.count
        self.count += 1
        for old in reversed(self.items):
            household = ((new.unit and old.unit == new.unit and _has_room(new.unit))
                         or (new.phone and old.phone == new.phone))
            if household and (not new.estate or not old.estate or new.estate == old.estate) \
                    and similarity(new.grams, old.grams) >= 0.1:
                return Link(old.root, "repeat", old.reports + 1, f"same household ({new.unit or new.phone})")
            if not same_problem(old.subcategory, new.subcategory):
                continue
            if new.index - old.index > self.incident_window and not household:
                continue
            if new.estate and old.estate and new.estate != old.estate:
                continue
            same_household = ((new.unit and old.unit == new.unit) or (new.phone and old.phone == new.phone))
            if same_household and (new.estate == old.estate or not (new.estate and old.estate)):
                kind = "incident" if emergency and not _has_room(new.unit or "0") else "repeat"
                return Link(old.root, kind, old.reports + 1, f"same {'place' if kind == 'incident' else 'household'}"
                                                              f" ({new.unit or new.phone})")
            same_place = new.building and old.building == new.building and (new.estate and new.estate == old.estate)
            if same_place and (emergency or similarity(new.grams, old.grams) >= 0.08):
                return Link(old.root, "incident", old.reports + 1, f"same incident in {new.estate}{new.building}")
            if emergency and new.subcategory == old.subcategory and _compatible(new, old):
                return Link(old.root, "incident", old.reports + 1, f"same emergency in {new.estate or old.estate}")
        return None

    def remember(self, seen: Seen, link: Link | None) -> None:
        if link is not None:
            seen.root = link.root
            seen.reports = link.reports
            for item in self.items:
                if item.root == link.root:
                    item.reports = link.reports
        self.add(seen)
