"""Load-decide-save for one document per case, with optimistic concurrency, dedupe and outbox in one write."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared.contracts import Envelope
from shared.outbox import GEN, OutboxRelay, as_doc, as_map, outbox_entries
from shared.settings import ServiceSettings

PROCESSED_KEEP = 500  # a case sees tens of messages; the window only needs to outlast redeliveries
UNREAD: Any = object()  # `known` not given: the document is read


def updated(doc: dict[str, Any], message_ids: list[str], push: dict[str, Any], sets: dict[str, Any]
            ) -> dict[str, Any]:
    """The document after a change, as `_save` writes it whole: the version up by one, the message ids added to
    `processed` (its last PROCESSED_KEEP), each value of `push` appended to its list, and `sets` (fields and
    dotted paths) set. The given document is not changed."""
    new = {**doc, "version": doc["version"] + 1,
           "processed": [*(doc.get("processed") or []), *message_ids][-PROCESSED_KEEP:]}
    for k, v in push.items():
        new[k] = [*(doc.get(k) or []), v]
    for path, value in sets.items():
        *heads, last = path.split(".")
        node = new
        for h in heads:
            node[h] = child = dict(node.get(h) or {})
            node = child
        node[last] = value
    return new


@dataclass
class Decision:
    """What a handler decided: fields to set on the document and the events to publish."""

    changes: dict[str, Any] = field(default_factory=dict)
    events: list[Envelope[Any]] = field(default_factory=list)
    push: dict[str, Any] = field(default_factory=dict)


Decide = Callable[[dict[str, Any] | None], Decision]
DecideMany = Callable[[dict[str, Any] | None, list[str]], Decision]  # the document, the ids not applied before


class ConcurrentUpdate(Exception):
    """Someone else wrote the document between our read and our write."""


class AggregateStore:
    """A document per case, changed only by `apply`/`apply_many`: each change is written whole
    (`replace_one`), on condition of the version it was read at and of the markers (`guards`) it had. Whoever
    else writes such a document either increments its version or only removes fields on condition of one of the
    guards (the outbox's clearing, conditional on `outbox_gen`; the archive's rollup clearing, on `rollup_gen`),
    so no write is undone by a replacement made from an older read. Written whole, the change is one statement
    on our FerretDB build, which does not read the document first (patch change 10, docs/adr/0019)."""

    def __init__(self, collection: AsyncCollection, relay: OutboxRelay, settings: ServiceSettings, *,
                 guards: tuple[str, ...] = (GEN,)) -> None:
        self.collection = collection
        self.relay = relay
        self.settings = settings
        self.guards = guards

    async def get(self, doc_id: str) -> dict[str, Any] | None:
        return await self.collection.find_one({"_id": doc_id})

    async def apply(self, doc_id: str, message_id: str, decide: Decide, attempts: int = 20, *,
                    known: Any = UNREAD, into: dict[str, Any] | None = None) -> bool:
        """Run `decide` against the current document and save its result once per message id.

        Returns False when this message was already applied (a redelivery: nothing changes). `known`, `into`:
        as in `apply_many`.
        """
        return bool(await self.apply_many(doc_id, [message_id], lambda doc, _fresh: decide(doc), attempts,
                                          known=known, into=into))

    async def apply_many(self, doc_id: str, message_ids: list[str], decide: DecideMany, attempts: int = 20, *,
                         known: Any = UNREAD, into: dict[str, Any] | None = None) -> list[str]:
        """Several messages of one document in one write: `decide` gets the document and the ids not applied
        before (in the given order, each once), and its result is saved with all of them. Returns those ids;
        empty when every one was applied before (redeliveries: nothing changes).

        `known`: the document as the caller has just read it (None: there was none), used for the first
        attempt instead of reading it again; a concurrent write still makes that attempt fail and re-read.
        `into`: filled with the document as this call leaves it (as written, or as read when nothing was
        written; left empty when there is none), so that the caller need not read it back."""
        doc = known
        for _ in range(attempts):
            if doc is UNREAD:
                doc = await self.get(doc_id)
            seen = set((doc or {}).get("processed", []))
            fresh = [m for m in dict.fromkeys(message_ids) if m not in seen]
            if not fresh:
                if doc is not None and doc.get("outbox"):
                    await self.relay.try_flush(doc_id)
                if into is not None and doc is not None:
                    into.update(doc)
                return []
            decision = decide(doc, fresh)
            if doc is None and not (decision.changes or decision.events or decision.push):
                return []  # nothing to remember about a case we do not hold
            try:
                pending, written = await self._save(doc_id, doc, fresh, decision)
            except ConcurrentUpdate:
                doc = UNREAD
                continue
            if into is not None:
                into.update(written)
            if decision.events:  # what the document's outbox now holds: no second read of the document
                await self.relay.try_flush(doc_id, pending)
            return fresh
        raise ConcurrentUpdate(f"{doc_id}: too many concurrent updates")

    async def _save(self, doc_id: str, doc: dict[str, Any] | None, message_ids: list[str], d: Decision
                    ) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        """Insert or update (at the version read); return the document's outbox after the write, and the
        document as written."""
        outbox = outbox_entries(self.settings, d.events)
        entries = as_map(outbox)
        pending = {**((doc or {}).get("outbox") or {}), **entries}
        if doc is None:
            new: dict[str, Any] = {"_id": doc_id, "version": 1, "processed": message_ids[-PROCESSED_KEEP:],
                                   **as_doc(outbox)}
            new.update(d.changes)
            for k, v in d.push.items():
                new[k] = [v]
            try:
                await self.collection.insert_one(new)
            except DuplicateKeyError as exc:
                raise ConcurrentUpdate(doc_id) from exc
            return pending, new
        new = updated(doc, message_ids, d.push, {**d.changes, **outbox})
        condition = {"_id": doc_id, "version": doc["version"],
                     **{g: doc[g] for g in self.guards if doc.get(g) is not None}}
        result = await self.collection.replace_one(condition, new)
        if result.matched_count == 0:
            raise ConcurrentUpdate(doc_id)
        return pending, new
