"""Two changes to FerretDB v1.24, applied to its source before the native build.

1. Single-document writes made atomic, as MongoDB's are. FerretDB v1 applies `update`, `findAndModify`
and `delete` by reading the matching documents, changing them in Go and writing them back, with nothing
between two connections: two compare-and-set updates at the same version both "succeed" and one effect is
lost (docs/adr/0002). The patch holds a lock per collection for each of those commands, inside the one
FerretDB process every client goes through, so read-change-write is one step for every connection of every
instance. Reads and inserts (atomic by their unique keys) take no lock. See docs/adr/0010.

2. Lookups by key use the primary-key index. FerretDB v1 pushes an `_id` equality filter down as
`_jsonb->'_id' @> '"…"'`: containment, which the B-tree index FerretDB itself keeps on `_jsonb->'_id'` cannot
serve, so every find by `_id` read the whole table (measured: 1.5 ms at 1,000 documents, linear beyond). Its
own UPDATE and DELETE already use `_jsonb->'_id' = …`. The patch makes reads do the same for string and
ObjectId `_id`s (and for `_id: {$in: […]}` of those, as `= ANY(…)`), so a lookup by key is an index scan.
FerretDB still re-checks every returned document against the whole filter in Go, so the answer cannot change;
only the rows PostgreSQL reads do. Production runs MongoDB (DESIGN.md), not this.
See docs/adr/0009-ferretdb-lookups-by-key-and-the-benchmark.md.
"""

from __future__ import annotations

from pathlib import Path

TAG = "cc3"  # part of the cached binary's name: a changed patch rebuilds

_ANCHOR = "\t\tswitch v := rootVal.(type) {\n\t\tcase *types.Document:\n"
_INSERT = """\t\t// complaint-center patch: _id equality served by the primary-key B-tree index
\t\tif rootKey == "_id" {
\t\t\tswitch v := rootVal.(type) {
\t\t\tcase string, types.ObjectID:
\t\t\t\tfilters = append(filters, fmt.Sprintf(`%s->'_id' = %s`, metadata.DefaultColumn, p.Next()))
\t\t\t\targs = append(args, string(must.NotFail(sjson.MarshalSingleValue(v))))
\t\t\t\tcontinue
\t\t\tcase *types.Document:
\t\t\t\tif in, err := v.Get("$in"); err == nil && v.Len() == 1 {
\t\t\t\t\tif arr, ok := in.(*types.Array); ok && arr.Len() > 0 {
\t\t\t\t\t\tvals := make([]string, 0, arr.Len())
\t\t\t\t\t\tfor i := 0; i < arr.Len(); i++ {
\t\t\t\t\t\t\tswitch e := must.NotFail(arr.Get(i)).(type) {
\t\t\t\t\t\t\tcase string, types.ObjectID:
\t\t\t\t\t\t\t\tvals = append(vals, string(must.NotFail(sjson.MarshalSingleValue(e))))
\t\t\t\t\t\t\t}
\t\t\t\t\t\t}
\t\t\t\t\t\tif len(vals) == arr.Len() {
\t\t\t\t\t\t\tfilters = append(filters, fmt.Sprintf(`%s->'_id' = ANY(%s::jsonb[])`, metadata.DefaultColumn, p.Next()))
\t\t\t\t\t\t\targs = append(args, vals)
\t\t\t\t\t\t\tcontinue
\t\t\t\t\t\t}
\t\t\t\t\t}
\t\t\t\t}
\t\t\t}
\t\t}

"""


_LOCKS_GO = """// complaint-center patch: one writer at a time per collection, across every connection.
package handler

import "sync"

var ccLocks sync.Map // "db.collection" -> *sync.Mutex

func ccLock(db, collection string) func() {
\tm, _ := ccLocks.LoadOrStore(db+"."+collection, new(sync.Mutex))
\tmu := m.(*sync.Mutex)
\tmu.Lock()
\treturn mu.Unlock
}
"""
# the first statement of updateDocument, findAndModifyDocument and MsgDelete's work, once in each file
_WRITE_ANCHOR = "\tdb, err := h.b.Database(params.DB)\n"
_WRITE_LOCK = "\tdefer ccLock(params.DB, params.Collection)() // complaint-center patch\n"
_WRITERS = ("msg_update.go", "msg_findandmodify.go", "msg_delete.go")


def _insert_before(path: Path, anchor: str, insert: str) -> None:
    text = path.read_text()
    if text.count(anchor) != 1:
        raise RuntimeError(f"FerretDB patch: anchor not found exactly once in {path}")
    path.write_text(text.replace(anchor, insert + anchor))


def apply(src: Path) -> None:
    """Edit the copied module source in place; refuse if the code it expects is not there exactly once."""
    _insert_before(src / "internal" / "backends" / "postgresql" / "query.go", _ANCHOR, _INSERT)
    handler = src / "internal" / "handler"
    (handler / "cc_locks.go").write_text(_LOCKS_GO)
    for name in _WRITERS:
        _insert_before(handler / name, _WRITE_ANCHOR, _WRITE_LOCK)
