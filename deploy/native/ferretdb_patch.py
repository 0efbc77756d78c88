"""Changes to FerretDB v1.24, applied to its source before the native build.

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

3. Declared indexes serve equality and `$in`. FerretDB v1 pushes a top-level equality down as
`_jsonb->$1 @> $2` (the field name a parameter, containment so that an array holding the value matches, as in
MongoDB) and builds every declared index as a B-tree on `(_jsonb->'field')`: a B-tree cannot serve `@>`, and an
index expression cannot match a parameter, so no declared index was ever used and every list read the whole
table (a region's queue page: 17 s at 100,000 cases). The patch adds, for each top-level field a declared index
names, a GIN index (`jsonb_path_ops`, which serves `@>` exactly, arrays included) on `(_jsonb->'field')`, writes a
plain top-level field name and the value into the SQL as literals (so that each statement is planned knowing the
value: a cached generic plan cannot tell one estate from the whole group), and pushes
`field: {$in: [strings or ObjectIds]}` down as `(_jsonb->'field' @> '"a"' OR …)`. The declared B-trees stay
(unique ones enforce uniqueness). As with 2., FerretDB re-checks every returned document in Go: these conditions
only ever select a superset. See docs/adr/0012.

4. No lifetime tracking of iterators and cursors. FerretDB's `resource.Track` (a leak check for its own
developers) records a stack trace into a pprof profile and sets a finalizer on every iterator, cursor and
connection pool object it makes, several per command: 5 % of the server's CPU in the pipeline benchmark. The
patch makes Track and Untrack return after checking their arguments. See docs/adr/0013.

5. A filter pushed down whole answers counts and pages in PostgreSQL. FerretDB v1 decodes every document a
filter's SQL selects, then sorts, skips and limits in Go, and counts by decoding too: a page of the whole
group's waiting cases decoded all of them twice (a count, then the page). When a filter is made only of plain
top-level fields equal to a string or a boolean, `$in` of strings, and `$and`/`$or` of such filters, and the sort
names plain top-level fields, the patch writes the filter as SQL of its own (containment, values as literals),
and `find` with a limit asks PostgreSQL for the first skip+limit rows in the sort's order (`ORDER BY` a BSON type
rank, then the string in byte order or the date), `count` for `count(*)`. That SQL selects exactly the matches
of plain documents, those whose compared fields are missing, of the compared type, or arrays of only that type
(containment cannot tell a string from an ObjectId, binary or regex with the same text); the same statement
checks every selected document against FerretDB's own type record, and if one is not plain, the limit is lifted
(`LIMIT NULL`) and the count left to FerretDB, as before. For any document the SQL selects a superset of the
matches, and FerretDB still filters, sorts, skips and limits what comes back in Go. See docs/adr/0015.

6. Stored documents decoded and encoded by a faster JSON library. FerretDB v1 keeps each document as JSON with
a type record (its package `sjson`), decoded with Go's `encoding/json` on every row read (every find, and every
update reads before it writes): a third of its CPU in the pipeline benchmark. The patch has `sjson` import
`github.com/goccy/go-json` (`MODULES`, pinned; the same API, the same results on valid input) instead. Only the
wording of errors on malformed JSON differs (FerretDB's own sjson tests pass except those that compare that
wording), and FerretDB only ever reads JSON it wrote. See docs/adr/0016.

7. A write of one statement runs without BEGIN and COMMIT. FerretDB v1 wraps every insert and every update in
a transaction, also when it is a single INSERT or a single UPDATE: three round trips to PostgreSQL instead of
one, and half of all the statements PostgreSQL ran in the pipeline benchmark were those BEGINs and COMMITs. A
single statement is atomic on its own; writes of several statements (several documents updated, several
insert batches) keep their transaction. See docs/adr/0017.

8. A document replaced by its `_id` with upsert is one statement. FerretDB v1 applies `replaceOne({_id: …}, doc,
{upsert: true})` by reading the document (decoding it whole), comparing, and then updating or inserting it: two
statements and a decode for a write whose result does not depend on what was there. When an update has no
operators, upsert set, multi not, and a filter that is exactly `{_id: <string or ObjectId>}`, the patch builds
the new document as FerretDB does for an upsert (the `_id` from the filter, the replacement's fields, the same
checks) and writes it with `INSERT … ON CONFLICT ((_jsonb->'_id')) DO UPDATE SET _jsonb = EXCLUDED._jsonb
RETURNING (xmax = 0)`: one statement, atomic on its own. The reply is MongoDB's: `n` 1, and `upserted` with the
`_id` when it was inserted, else `nModified` 1 (MongoDB says 0 when the replacement equals the stored document;
this cannot tell without reading it). A backend without the change (SQLite) reports a duplicate `_id`, and the
update then takes FerretDB's own way. See docs/adr/0018.

9. An update that only removes fields, found by its string `_id` and string equalities, is one statement.
FerretDB v1 reads the document (decoding it whole), removes the fields in Go and writes it back; the outbox's
clearing after every publish (`$unset` of the published entries and the flag, on condition that `outbox_gen` is
still the last entry published) paid that for every event of the center. When an update is only `$unset` of
plain top-level fields or of one field inside a top-level one, its filter is `_id` and other top-level fields each
equal to a string, and neither upsert nor multi is set, the patch writes one UPDATE that removes the fields and
their entries in FerretDB's type record (`$s`: `p` and the key order `$k`, at the top level and in the embedded
document), WHERE each compared field is a string equal to the value (in the type record too) and no embedded
document named is an array. MongoDB's equality also matches an array holding the value: when the UPDATE changes
no row, the update takes FerretDB's own way, which answers exactly. The reply says `nModified` 1 for a matched
document even when none of the fields was there (MongoDB says 0). See docs/adr/0018.

10. A replacement at a version is one statement. Every change to a case is written whole on condition of the
version it was read at (and of its outbox and rollup markers); FerretDB v1 read the document again, decoding it
whole, before writing it. When an update has no operators, neither upsert nor multi, and a filter of a string
`_id` and other plain top-level fields each equal to a string or an integer, the handler builds the new
document as FerretDB does for a match and the backend writes it with one UPDATE, WHERE each compared field
equals its value in the stored JSON and is of a matching type in FerretDB's type record (a string; an int, long
or double for an integer). When it changes no row (no match, or an array holding the value, which MongoDB's
equality matches), or the replacement cannot be built, the update takes FerretDB's own way. A unique index the
new document breaks answers E11000, as MongoDB does. Change 9 reads its filter the same way. See
docs/adr/0019.
"""

from __future__ import annotations

from pathlib import Path

TAG = "cc23"  # part of the cached binary's name: a changed patch rebuilds
# modules the patched source imports besides FerretDB's own (`go get` before the build)
MODULES = ("github.com/goccy/go-json@v0.10.5",)

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


_PUSHDOWN_GO = """// complaint-center patch: equality and $in on a top-level field, served by an expression index.
package postgresql

import (
\t"fmt"
\t"strings"
\t"time"

\t"github.com/FerretDB/FerretDB/internal/backends/postgresql/metadata"
\t"github.com/FerretDB/FerretDB/internal/handler/sjson"
\t"github.com/FerretDB/FerretDB/internal/types"
\t"github.com/FerretDB/FerretDB/internal/util/must"
)

// ccFieldLiteral is the field name as an SQL string literal, or "" when it is not a plain top-level name.
func ccFieldLiteral(k any, operator string) string {
\tks, ok := k.(string)
\tif !ok || operator != "->" || ks == "" || strings.ContainsRune(ks, 0) {
\t\treturn ""
\t}
\treturn ccQuote(ks)
}

// ccQuote: standard_conforming_strings=on and client_encoding=UTF8 are checked by FerretDB at connection.
func ccQuote(s string) string {
\treturn "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// ccValueLiteral is a scalar as a jsonb literal, or "" for a type not pushed down here. The value is written
// into the SQL, not passed as a parameter, so that each statement is planned knowing it: a cached generic plan
// cannot tell one estate from the whole group and reads the group's posting list.
func ccValueLiteral(v any) string {
\tswitch v.(type) {
\tcase string, types.ObjectID, time.Time, bool, int32:
\t\tj := string(must.NotFail(sjson.MarshalSingleValue(v)))
\t\tif strings.Contains(j, `\\u0000`) {
\t\t\treturn "" // jsonb refuses it: left to FerretDB
\t\t}
\t\treturn ccQuote(j) + "::jsonb"
\t}
\treturn ""
}

// ccFilterEqual is filterEqual with the field and the value written into the SQL: `_jsonb->'f' @> '"v"'::jsonb`.
func ccFilterEqual(p *metadata.Placeholder, k any, v any, operator string) (string, []any) {
\tlit, val := ccFieldLiteral(k, operator), ccValueLiteral(v)
\tif lit == "" || val == "" {
\t\treturn filterEqual(p, k, v, operator)
\t}
\treturn fmt.Sprintf(`%s->%s @> %s`, metadata.DefaultColumn, lit, val), nil
}

// ccFilterIn pushes `f: {$in: [...]}` of strings and ObjectIds down as `(_jsonb->'f' @> '"a"' OR …)`.
func ccFilterIn(_ *metadata.Placeholder, k any, v any, operator string) (string, []any) {
\tlit := ccFieldLiteral(k, operator)
\tarr, ok := v.(*types.Array)
\tif lit == "" || !ok || arr.Len() == 0 || arr.Len() > 1000 {
\t\treturn "", nil
\t}
\tparts := make([]string, 0, arr.Len())
\tfor i := 0; i < arr.Len(); i++ {
\t\te := must.NotFail(arr.Get(i))
\t\tswitch e.(type) {
\t\tcase string, types.ObjectID:
\t\tdefault:
\t\t\treturn "", nil
\t\t}
\t\tval := ccValueLiteral(e)
\t\tif val == "" {
\t\t\treturn "", nil
\t\t}
\t\tparts = append(parts, fmt.Sprintf(`%s->%s @> %s`, metadata.DefaultColumn, lit, val))
\t}
\treturn "(" + strings.Join(parts, " OR ") + ")", nil
}
"""
_IN_ANCHOR = """\t\t\t\tswitch k {\n\t\t\t\tcase "$eq":\n"""
_IN_CASE = """\t\t\t\tswitch k {\n\t\t\t\tcase "$in": // complaint-center patch
\t\t\t\t\tif f, a := ccFilterIn(p, key, v, keyOperator); f != "" {
\t\t\t\t\t\tfilters = append(filters, f)
\t\t\t\t\t\targs = append(args, a...)
\t\t\t\t\t}

\t\t\t\tcase "$eq":\n"""
# A GIN index on each top-level field a declared index names, shared by every index that names the field (named by
# a hash of table and field, so `IF NOT EXISTS` finds it), so that the planner picks the selective conditions of a
# filter (an estate, a status) and skips a field every document shares (the group). One GIN over all of an index's
# fields would always read that field's posting list: it grew with the data. fastupdate off: a pending list (up to
# 4 MB) would be read whole by every query until a vacuum merged it. Made when an index is created, and when an
# existing one is declared again (so a store made before the patch gets them at the services' next start).
_GIN_GO = """// complaint-center patch: GIN indexes that serve the `@>` an equality is pushed down as.
package metadata

import (
\t"context"
\t"fmt"
\t"hash/fnv"
\t"strings"

\t"github.com/jackc/pgx/v5"
\t"github.com/jackc/pgx/v5/pgxpool"

\t"github.com/FerretDB/FerretDB/internal/util/must"
)

func ccFieldIndexes(ctx context.Context, p *pgxpool.Pool, dbName, tableName string, key []IndexKeyPair) error {
\tpart := tableName
\tif l := maxIndexNameLength/2 - 1; len(part) > l {
\t\tpart = part[:l]
\t}
\tfor _, k := range key {
\t\tif k.Field == "_id" || strings.Contains(k.Field, ".") {
\t\t\tcontinue // _id has its primary key; dotted fields are not pushed down
\t\t}
\t\tfh := fnv.New32a()
\t\tmust.NotFail(fh.Write([]byte(tableName + "." + k.Field)))
\t\tq := fmt.Sprintf(
\t\t\t"CREATE INDEX IF NOT EXISTS %s ON %s USING gin (((%s->%s)) jsonb_path_ops) WITH (fastupdate = off)",
\t\t\tpgx.Identifier{fmt.Sprintf("%s_ccf_%08x_gin", part, fh.Sum32())}.Sanitize(),
\t\t\tpgx.Identifier{dbName, tableName}.Sanitize(),
\t\t\tDefaultColumn,
\t\t\tquoteString(k.Field),
\t\t)
\t\tif _, err := p.Exec(ctx, q); err != nil {
\t\t\treturn err
\t\t}
\t}
\treturn nil
}
"""
_GIN_EXISTING = """\t\tif coll, ok := allIndexes[index.Name]; ok && coll == collectionName {\n\t\t\tcontinue\n"""
_GIN_EXISTING_NEW = """\t\tif coll, ok := allIndexes[index.Name]; ok && coll == collectionName {
\t\t\tif err = ccFieldIndexes(ctx, p, dbName, c.TableName, index.Key); err != nil { // complaint-center patch
\t\t\t\treturn lazyerrors.Error(err)
\t\t\t}
\t\t\tcontinue\n"""
_GIN_ANCHOR = "\t\tcreated = append(created, index.Name)\n"
_GIN = """\t\tif err = ccFieldIndexes(ctx, p, dbName, c.TableName, index.Key); err != nil { // complaint-center patch
\t\t\t_, _ = p.Exec(ctx, fmt.Sprintf("DROP INDEX %s", pgx.Identifier{dbName, index.PgIndex}.Sanitize()))
\t\t\t_ = r.indexesDrop(ctx, p, dbName, collectionName, created)
\t\t\treturn lazyerrors.Error(err)
\t\t}

"""


_TRACK = "func Track(obj any, token *Token) {\n\tcheckArgs(obj, token)\n"
_UNTRACK = "func Untrack(obj any, token *Token) {\n\tcheckArgs(obj, token)\n"

# Change 5: counts and pages of a filter pushed down whole (docs/adr/0015).
_TOPN_GO = """// complaint-center patch: a filter pushed down whole is counted, and paged, by PostgreSQL
// (docs/adr/0015).
package postgresql

import (
\t"context"
\t"fmt"
\t"sort"
\t"strings"

\t"github.com/jackc/pgx/v5/pgxpool"

\t"github.com/FerretDB/FerretDB/internal/backends/postgresql/metadata"
\t"github.com/FerretDB/FerretDB/internal/types"
\t"github.com/FerretDB/FerretDB/internal/util/must"
)

// ccType is the BSON type FerretDB records for a top-level field ('string', 'date', …; NULL when missing).
func ccType(field string) string {
\treturn fmt.Sprintf(`(%s->'$s'->'p'->%s->>'t')`, metadata.DefaultColumn, ccQuote(field))
}

// ccPlainField is a top-level field name that the patch writes into SQL.
func ccPlainField(k string) bool {
\treturn k != "" && !strings.HasPrefix(k, "$") && !strings.ContainsAny(k, ".\\x00")
}

// ccPlainString is a string written into SQL as a literal.
func ccPlainString(v any) bool {
\ts, ok := v.(string)
\treturn ok && ccValueLiteral(s) != ""
}

// ccLeaf is `field = value` as containment (an array holding the value matches, as in MongoDB); `_id` by the
// primary key's B-tree (an _id is never an array).
func ccLeaf(k string, v any) string {
\tif k == "_id" {
\t\treturn fmt.Sprintf(`%s->'_id' = %s`, metadata.DefaultColumn, ccValueLiteral(v))
\t}
\tf, _ := ccFilterEqual(nil, k, v, "->") // a plain field and value: written as literals (change 3)
\treturn f
}

// ccPlain is what a field compared with values of type t is in a plain document: missing, of type t, or an array
// of only such values. Containment cannot tell a string from an ObjectId, binary or regex with the same text, nor
// tell `true` inside an array of mixed types; a document where this fails is not plain.
func ccPlain(k, t string) string {
\tft := ccType(k)
\treturn fmt.Sprintf(`(%[1]s IS NULL OR %[1]s = '%[2]s' OR `+
\t\t`(%[1]s = 'array' AND (%[3]s->'$s'->'p'->%[4]s->'i') <@ '[{"t": "%[2]s"}]'))`,
\t\tft, t, metadata.DefaultColumn, ccQuote(k))
}

// ccExact is SQL that selects exactly the documents a filter matches, when they are plain (guards, each true for a
// plain document), for filters made of: a plain top-level field equal to a string or a boolean, `$in` of strings,
// and `$and`/`$or` of such filters. Every condition only ever selects a superset, so the SQL selects a superset of
// the matches for any document. ok is false for any other filter.
func ccExact(filter *types.Document, guards map[string]bool, depth int) (string, bool) {
\tif depth > 8 {
\t\treturn "", false
\t}
\tvar parts []string
\tseen := make(map[string]bool, filter.Len())
\tfor _, k := range filter.Keys() {
\t\tif seen[k] {
\t\t\treturn "", false
\t\t}
\t\tseen[k] = true
\t\tv := must.NotFail(filter.Get(k))
\t\tif k == "$and" || k == "$or" {
\t\t\tarr, ok := v.(*types.Array)
\t\t\tif !ok || arr.Len() == 0 || arr.Len() > 100 {
\t\t\t\treturn "", false
\t\t\t}
\t\t\tsubs := make([]string, 0, arr.Len())
\t\t\tfor i := 0; i < arr.Len(); i++ {
\t\t\t\td, ok := must.NotFail(arr.Get(i)).(*types.Document)
\t\t\t\tif !ok {
\t\t\t\t\treturn "", false
\t\t\t\t}
\t\t\t\tsub, ok := ccExact(d, guards, depth+1)
\t\t\t\tif !ok {
\t\t\t\t\treturn "", false
\t\t\t\t}
\t\t\t\tsubs = append(subs, "("+sub+")")
\t\t\t}
\t\t\top := " AND "
\t\t\tif k == "$or" {
\t\t\t\top = " OR "
\t\t\t}
\t\t\tparts = append(parts, "("+strings.Join(subs, op)+")")
\t\t\tcontinue
\t\t}
\t\tif !ccPlainField(k) {
\t\t\treturn "", false
\t\t}
\t\tswitch v := v.(type) {
\t\tcase string:
\t\t\tif !ccPlainString(v) {
\t\t\t\treturn "", false
\t\t\t}
\t\t\tparts = append(parts, ccLeaf(k, v))
\t\t\tguards[ccPlain(k, "string")] = true
\t\tcase bool:
\t\t\tif k == "_id" {
\t\t\t\treturn "", false
\t\t\t}
\t\t\tparts = append(parts, ccLeaf(k, v))
\t\t\tguards[ccPlain(k, "bool")] = true
\t\tcase *types.Document:
\t\t\tin, err := v.Get("$in")
\t\t\tarr, ok := in.(*types.Array)
\t\t\tif v.Len() != 1 || err != nil || !ok || arr.Len() == 0 || arr.Len() > 1000 {
\t\t\t\treturn "", false
\t\t\t}
\t\t\tors := make([]string, 0, arr.Len())
\t\t\tfor i := 0; i < arr.Len(); i++ {
\t\t\t\te := must.NotFail(arr.Get(i))
\t\t\t\tif !ccPlainString(e) {
\t\t\t\t\treturn "", false
\t\t\t\t}
\t\t\t\tors = append(ors, ccLeaf(k, e))
\t\t\t}
\t\t\tparts = append(parts, "("+strings.Join(ors, " OR ")+")")
\t\t\tguards[ccPlain(k, "string")] = true
\t\tdefault:
\t\t\treturn "", false
\t\t}
\t}
\tif len(parts) == 0 {
\t\treturn "true", true
\t}
\treturn strings.Join(parts, " AND "), true
}

// ccFilter is ccExact for a whole filter, with its guards as one condition.
func ccFilter(filter *types.Document) (string, string, bool) {
\tguards := map[string]bool{}
\twhere, ok := ccExact(filter, guards, 0)
\tif !ok {
\t\treturn "", "", false
\t}
\tall := []string{"true"}
\tfor g := range guards {
\t\tall = append(all, g)
\t}
\tsort.Strings(all)
\treturn where, strings.Join(all, " AND "), true
}

// ccOrder is an ORDER BY in MongoDB's order for documents whose sort fields are missing, null, strings (compared
// byte by byte) or dates, and the condition that a document is such.
func ccOrder(sortDoc *types.Document) (string, string, bool) {
\tif sortDoc.Len() == 0 {
\t\treturn "", "true", true
\t}
\tvar by, conds []string
\tseen := make(map[string]bool, sortDoc.Len())
\tfor _, k := range sortDoc.Keys() {
\t\tif !ccPlainField(k) || seen[k] {
\t\t\treturn "", "", false
\t\t}
\t\tseen[k] = true
\t\tvar dir string
\t\tswitch must.NotFail(sortDoc.Get(k)) {
\t\tcase int64(1):
\t\tcase int64(-1):
\t\t\tdir = " DESC"
\t\tdefault:
\t\t\treturn "", "", false
\t\t}
\t\tt, f, col := ccType(k), ccQuote(k), metadata.DefaultColumn
\t\tby = append(by,
\t\t\tfmt.Sprintf(`(CASE WHEN %[1]s IS NULL OR %[1]s = 'null' THEN 0 WHEN %[1]s = 'string' THEN 1 ELSE 2 END)%[2]s`,
\t\t\t\tt, dir),
\t\t\tfmt.Sprintf(`(CASE WHEN %[1]s = 'string' THEN %[3]s->>%[4]s END) COLLATE "C"%[2]s`, t, dir, col, f),
\t\t\tfmt.Sprintf(`(CASE WHEN %[1]s = 'date' THEN %[3]s->%[4]s END)%[2]s`, t, dir, col, f),
\t\t)
\t\tconds = append(conds, fmt.Sprintf(`COALESCE(%s, 'null') IN ('null', 'string', 'date')`, t))
\t}
\treturn " ORDER BY " + strings.Join(by, ", "), strings.Join(conds, " AND "), true
}

// ccTopN is a SELECT (selectClause: up to FROM) that returns the first n documents a filter matches in the sort's
// order: the matches are read once (a CTE, its WHERE planned once), then sorted, and the limit is lifted (NULL)
// when one of them is not plain, so that FerretDB filters and sorts them all as before. (An aggregate, not EXISTS:
// the planner plans EXISTS for its first row, a scan of the table.)
func ccTopN(selectClause string, filter, sortDoc *types.Document, n int64) (string, bool) {
\twhere, plain, ok := ccFilter(filter)
\tif !ok {
\t\treturn "", false
\t}
\torder, sorted, ok := ccOrder(sortDoc)
\tif !ok {
\t\treturn "", false
\t}
\treturn fmt.Sprintf(
\t\t`WITH m AS MATERIALIZED (%s WHERE %s) SELECT %s FROM m%s `+
\t\t\t`LIMIT (SELECT CASE WHEN bool_or((%s AND %s) IS NOT TRUE) THEN NULL ELSE %d END FROM m)`,
\t\tselectClause, where, metadata.DefaultColumn, order, plain, sorted, n,
\t), true
}

// ccPage is ccTopN for a find whose handler asked for a page (ccLimit), when FerretDB's own sort and limit are
// not pushed down and the collection is not capped.
func ccPage(sel string, filter, ccSort *types.Document, ccLimit int64, sortDoc *types.Document, limit int64,
\tcapped bool,
) (string, bool) {
\tif ccLimit <= 0 || sortDoc.Len() != 0 || limit != 0 || capped {
\t\treturn "", false
\t}
\treturn ccTopN(sel, filter, ccSort, ccLimit)
}

// ccCount counts the documents a filter matches; ok is false when the filter is not one ccExact takes or a
// selected document is not plain (FerretDB then counts as before).
func ccCount(ctx context.Context, p *pgxpool.Pool, table string, filter *types.Document) (int64, bool, error) {
\twhere, plain, ok := ccFilter(filter)
\tif !ok {
\t\treturn 0, false, nil
\t}
\tq := fmt.Sprintf(`SELECT count(*), COALESCE(bool_or((%s) IS NOT TRUE), false) FROM %s WHERE %s`,
\t\tplain, table, where)
\tvar n int64
\tvar odd bool
\tif err := p.QueryRow(ctx, q).Scan(&n, &odd); err != nil {
\t\treturn 0, false, err
\t}
\treturn n, !odd, nil
}
"""
_QP_OLD = "\tOnlyRecordIDs bool\n\tComment       string\n}\n"
_QP_NEW = """\tOnlyRecordIDs bool
\tComment       string

\t// complaint-center patch (docs/adr/0015): hints the handler gives when it filters, sorts, skips and limits
\t// what comes back anyway; the backend may use them only when the whole filter is pushed down exactly.
\tCCSort  *types.Document // the find's sort: the first CCLimit documents in this order suffice
\tCCLimit int64           // skip + limit of the find
\tCCCount bool            // a count: the number of matches suffices (QueryResult.CCCounted)
}
"""
_QR_OLD = "type QueryResult struct {\n\tIter types.DocumentsIterator\n}\n"
_QR_NEW = """type QueryResult struct {
\tIter types.DocumentsIterator

\tCCCount   int64 // complaint-center patch: the number of matches, when CCCounted
\tCCCounted bool
}
"""
_EP_OLD = "type ExplainParams struct {\n\tFilter *types.Document\n\tSort   *types.Document\n\tLimit  int64\n}\n"
_EP_NEW = """type ExplainParams struct {
\tFilter *types.Document
\tSort   *types.Document
\tLimit  int64

\tCCSort  *types.Document // complaint-center patch: as in QueryParams
\tCCLimit int64
}
"""
_PG_QUERY_OLD = "\tq += where\n\n\tsort, sortArgs := prepareOrderByClause(params.Sort)\n\n\tq += sort\n"
_PG_QUERY_NEW = """\tq += where

\t// complaint-center patch: a filter pushed down whole is counted, and paged, by PostgreSQL (docs/adr/0015)
\tif params.CCCount {
\t\tn, ok, err := ccCount(ctx, p, pgx.Identifier{c.dbName, meta.TableName}.Sanitize(), params.Filter)
\t\tif err != nil {
\t\t\treturn nil, lazyerrors.Error(err)
\t\t}
\t\tif ok {
\t\t\tempty := newQueryIterator(ctx, nil, params.OnlyRecordIDs)
\t\t\treturn &backends.QueryResult{Iter: empty, CCCount: n, CCCounted: true}, nil
\t\t}
\t}
\tsel := strings.TrimSuffix(q, where)
\ttop, ok := ccPage(sel, params.Filter, params.CCSort, params.CCLimit, params.Sort, params.Limit, meta.Capped())
\tif ok {
\t\tq, args = top, nil // the patch's SQL holds its values as literals
\t}

\tsort, sortArgs := prepareOrderByClause(params.Sort)

\tq += sort
"""
_PG_EXPLAIN_OLD = ("\tq += where\n\n\tsort, sortArgs := prepareOrderByClause(params.Sort)\n"
                   "\tres.SortPushdown = sort != \"\"\n")
_PG_EXPLAIN_NEW = """\tq += where

\tconst explain = `EXPLAIN (VERBOSE true, FORMAT JSON) ` // complaint-center patch (docs/adr/0015)
\tsel := strings.TrimSuffix(strings.TrimPrefix(q, explain), where)
\ttop, ok := ccPage(sel, params.Filter, params.CCSort, params.CCLimit, params.Sort, params.Limit, meta.Capped())
\tif ok {
\t\tq, args = explain+top, nil
\t\tres.SortPushdown, res.LimitPushdown = true, true
\t}

\tsort, sortArgs := prepareOrderByClause(params.Sort)
\tres.SortPushdown = res.SortPushdown || sort != ""
"""
_FIND_ANCHOR = "\t// Limit pushdown is not applied if:\n"
_FIND_HINT = """\t// complaint-center patch: the whole filter pushed down, PostgreSQL may return the sorted page
\t// (ADR 15); not a find without a sort (a find_one by key), whose statement with a placeholder is cached once
\tif !h.DisablePushdown && qp.Sort == nil && params.Sort.Len() > 0 && params.Limit > 0 && !cInfo.Capped() &&
\t\tqp.Filter.Len() == params.Filter.Len() {
\t\tqp.CCSort = params.Sort
\t\tqp.CCLimit = params.Skip + params.Limit
\t}

"""
_COUNT_OLD = "\tqueryRes, err := c.Query(connCtx, &qp)\n\tif err != nil {\n\t\treturn nil, lazyerrors.Error(err)\n\t}\n"
_COUNT_NEW = _COUNT_OLD + """
\tif queryRes.CCCounted { // complaint-center patch: counted by PostgreSQL (docs/adr/0015)
\t\tn := max(queryRes.CCCount-params.Skip, 0)
\t\tif params.Limit > 0 {
\t\t\tn = min(n, params.Limit)
\t\t}
\t\tqueryRes.Iter.Close()

\t\treturn documentOpMsg(must.NotFail(types.NewDocument("n", int32(n), "ok", float64(1))))
\t}
"""
_COUNT_HINT_OLD = "\tvar qp backends.QueryParams\n\tif !h.DisablePushdown {\n\t\tqp.Filter = params.Filter\n\t}\n"
_COUNT_HINT_NEW = _COUNT_HINT_OLD.replace(
    "\t\tqp.Filter = params.Filter\n", "\t\tqp.Filter = params.Filter\n\t\tqp.CCCount = true // complaint-center\n")


# Change 7: one statement, no transaction around it (docs/adr/0017).
_ONCE_GO = """// complaint-center patch: a write of one statement is not wrapped in BEGIN and COMMIT (docs/adr/0017).
package postgresql

import (
\t"context"

\t"github.com/jackc/pgx/v5"
\t"github.com/jackc/pgx/v5/pgconn"
\t"github.com/jackc/pgx/v5/pgxpool"

\t"github.com/FerretDB/FerretDB/internal/backends/postgresql/metadata/pool"
)

// ccExecer runs a statement: a transaction, or the pool (a statement on its own, atomic by itself).
type ccExecer interface {
\tExec(ctx context.Context, sql string, arguments ...any) (pgconn.CommandTag, error)
}

// ccInTransaction is pool.InTransaction, except that f running one statement runs it without a transaction.
func ccInTransaction(ctx context.Context, p *pgxpool.Pool, statements int, f func(tx ccExecer) error) error {
\tif statements == 1 {
\t\treturn f(p)
\t}

\treturn pool.InTransaction(ctx, p, func(tx pgx.Tx) error { return f(tx) })
}
"""
_TX_OLD = "\terr = pool.InTransaction(ctx, p, func(tx pgx.Tx) error {\n"
_TX_INSERT = ("\terr = ccInTransaction(ctx, p, (len(params.Docs)+max(c.r.BatchSize, 1)-1)/max(c.r.BatchSize, 1), "
              "func(tx ccExecer) error { // complaint-center patch\n")
_TX_UPDATE = "\terr = ccInTransaction(ctx, p, len(params.Docs), func(tx ccExecer) error { // complaint-center patch\n"
_INSERT_BODY = "\t\tbatchSize := c.r.BatchSize\n"  # the first line of InsertAll's transaction, then UpdateAll's
_UPDATE_BODY = "\t\tfor _, doc := range params.Docs {\n"
_POOL_IMPORT = '\t"github.com/FerretDB/FerretDB/internal/backends/postgresql/metadata/pool"\n'


# Changes 8 and 9 (docs/adr/0018): what the handler asks of the backend, carried by the call's context.
_REQUESTS_GO = """// complaint-center patch: what a handler asks of a backend beyond the interface (docs/adr/0018)
package backends

import (
\t"context"

\t"github.com/FerretDB/FerretDB/internal/types"
)

// CCUpsert, carried by InsertAll's context, asks a backend that knows it to replace the one document with the
// same _id if there is one; Handled says that it did, Inserted which of the two happened (change 8).
type CCUpsert struct {
\tHandled  bool
\tInserted bool
}

// CCEq is a plain top-level field that a request's document has: equal to Value, a string or an int64 (which
// an int, long or double of the same value is).
type CCEq struct {
\tName  string
\tValue any
}

// CCUnset, carried by UpdateAll's context, asks a backend that knows it to remove Paths (a top-level field, or
// a top-level field and one inside it) from the document whose _id is the string ID and which has the fields
// Eq; Handled says that it did, Updated how many documents it changed (change 9).
type CCUnset struct {
\tID      string
\tEq      []CCEq
\tPaths   [][]string
\tHandled bool
\tUpdated int32
}

// CCReplace, carried by UpdateAll's context, asks a backend that knows it to replace with Doc the document
// whose _id is the string ID and which has the fields Eq; Handled and Updated as for CCUnset (change 10).
type CCReplace struct {
\tID      string
\tEq      []CCEq
\tDoc     *types.Document
\tHandled bool
\tUpdated int32
}

type ccKey[T any] struct{}

// CCWith returns a context carrying the request r.
func CCWith[T any](ctx context.Context, r *T) context.Context {
\treturn context.WithValue(ctx, ccKey[T]{}, r)
}

// CCOf returns the request of type T the context carries, if any.
func CCOf[T any](ctx context.Context) (*T, bool) {
\tr, ok := ctx.Value(ccKey[T]{}).(*T)
\treturn r, ok
}
"""
# Change 8: a replacement by _id with upsert in one statement.
_UPSERT_COMMON_GO = """// complaint-center patch: the document a replacement by _id with upsert writes (docs/adr/0018).
package common

import (
\t"github.com/FerretDB/FerretDB/internal/types"
\t"github.com/FerretDB/FerretDB/internal/util/lazyerrors"
\t"github.com/FerretDB/FerretDB/internal/util/must"
)

// CCUpsertDoc returns the document written by an update that replaces one document found by its _id (a string
// or an ObjectID) with upsert, whatever was stored before; nil for any other update. It is built and checked as
// UpdateDocument builds an upserted one: the _id from the filter, then the replacement's fields.
func CCUpsertDoc(u *Update) (*types.Document, error) {
\tif !u.Upsert || u.Multi || u.HasUpdateOperators || u.Filter == nil || u.Update == nil || u.Filter.Len() != 1 {
\t\treturn nil, nil
\t}

\tid, err := u.Filter.Get("_id")
\tif err != nil {
\t\treturn nil, nil
\t}

\tswitch id.(type) {
\tcase string, types.ObjectID:
\tdefault:
\t\treturn nil, nil
\t}

\tdoc := must.NotFail(types.NewDocument("_id", id))
\tif _, err = processReplacementDoc("update", doc, u.Update); err != nil {
\t\treturn nil, lazyerrors.Error(err)
\t}

\tif err = doc.ValidateData(); err != nil {
\t\treturn nil, lazyerrors.Error(err)
\t}

\treturn doc, nil
}
"""
_UPSERT_ANCHOR = "\t\tvar qp backends.QueryParams\n\t\tif !h.DisablePushdown {\n\t\t\tqp.Filter = u.Filter\n\t\t}\n"
_UPSERT_HANDLER = """\t\t// complaint-center patch: a replacement by _id with upsert, in one statement (docs/adr/0018)
\t\tif doc, err := common.CCUpsertDoc(&u); err != nil {
\t\t\treturn 0, 0, nil, lazyerrors.Error(err)
\t\t} else if doc != nil {
\t\t\tup := new(backends.CCUpsert)
\t\t\t_, err = c.InsertAll(backends.CCWith(ctx, up), &backends.InsertAllParams{Docs: []*types.Document{doc}})
\t\t\tswitch {
\t\t\tcase err == nil && up.Handled:
\t\t\t\tmatched++
\t\t\t\tif up.Inserted {
\t\t\t\t\tupserted.Append(must.NotFail(types.NewDocument(
\t\t\t\t\t\t"index", int32(upserted.Len()),
\t\t\t\t\t\t"_id", must.NotFail(doc.Get("_id")),
\t\t\t\t\t)))
\t\t\t\t} else {
\t\t\t\t\tmodified++
\t\t\t\t}
\t\t\t\tcontinue
\t\t\tcase err == nil: // a backend without the change inserted it: there was none
\t\t\t\tmatched++
\t\t\t\tupserted.Append(must.NotFail(types.NewDocument(
\t\t\t\t\t"index", int32(upserted.Len()),
\t\t\t\t\t"_id", must.NotFail(doc.Get("_id")),
\t\t\t\t)))
\t\t\t\tcontinue
\t\t\tcase !up.Handled && backends.ErrorCodeIs(err, backends.ErrorCodeInsertDuplicateID):
\t\t\t\t// there is one, and this backend cannot replace it in one statement: FerretDB's own way below
\t\t\tdefault:
\t\t\t\treturn 0, 0, nil, lazyerrors.Error(err)
\t\t\t}
\t\t}

"""
# in InsertAll, after its metadata is read (anchored on change 7's line, which comes first)
_UPSERT_PG = """\t// complaint-center patch: a replacement by _id with upsert (change 8)
\tif up, ok := backends.CCOf[backends.CCUpsert](ctx); ok && len(params.Docs) == 1 && !meta.Capped() {
\t\tq, args, err := prepareInsertStatement(c.dbName, meta.TableName, false, params.Docs)
\t\tif err != nil {
\t\t\treturn nil, lazyerrors.Error(err)
\t\t}

\t\tq += fmt.Sprintf(` ON CONFLICT ((%[1]s->'_id')) DO UPDATE SET %[1]s = EXCLUDED.%[1]s RETURNING (xmax = 0)`,
\t\t\tmetadata.DefaultColumn)
\t\tif err = p.QueryRow(ctx, q, args...).Scan(&up.Inserted); err != nil {
\t\t\tvar pgErr *pgconn.PgError
\t\t\tif errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UniqueViolation { // another unique index
\t\t\t\treturn nil, backends.NewError(backends.ErrorCodeInsertDuplicateID, err)
\t\t\t}

\t\t\treturn nil, lazyerrors.Error(err)
\t\t}

\t\tup.Handled = true

\t\treturn new(backends.InsertAllResult), nil
\t}

"""


# Change 9: an update that only removes fields, in one statement (docs/adr/0018).
_UNSET_COMMON_GO = """// complaint-center patch: updates that only remove fields (adr 0018) and replacements (0019).
package common

import (
\t"strings"

\t"github.com/FerretDB/FerretDB/internal/backends"
\t"github.com/FerretDB/FerretDB/internal/types"
\t"github.com/FerretDB/FerretDB/internal/util/must"
)

func ccPlainName(s string) bool {
\treturn s != "" && !strings.ContainsAny(s, "$.") && !strings.HasPrefix(s, "_ferretdb_")
}

// CCUnsetOf returns the request for an update that only $unsets plain fields (top-level, or one level into a
// top-level field), found by a string _id and other top-level fields equal to strings; nil for any other.
func CCUnsetOf(u *Update) *backends.CCUnset {
\tif !u.HasUpdateOperators || u.Upsert || u.Multi || u.Filter == nil || u.Update == nil || u.Update.Len() != 1 {
\t\treturn nil
\t}

\tv, err := u.Update.Get("$unset")
\tif err != nil {
\t\treturn nil
\t}

\tunset, ok := v.(*types.Document)
\tif !ok || unset.Len() == 0 || unset.Len() > 32 {
\t\treturn nil
\t}

\tr := new(backends.CCUnset)
\ttops := map[string]bool{}    // removed whole
\tparents := map[string]bool{} // a field inside it removed
\tfor _, k := range unset.Keys() {
\t\tparts := strings.Split(k, ".")
\t\tif len(parts) > 2 || parts[0] == "_id" || parts[0] == "$s" {
\t\t\treturn nil
\t\t}

\t\tfor _, p := range parts {
\t\t\tif !ccPlainName(p) {
\t\t\t\treturn nil
\t\t\t}
\t\t}

\t\tif len(parts) == 1 {
\t\t\ttops[parts[0]] = true
\t\t} else {
\t\t\tparents[parts[0]] = true
\t\t}

\t\tr.Paths = append(r.Paths, parts)
\t}

\tfor p := range parents {
\t\tif tops[p] { // a conflict MongoDB refuses: FerretDB's own way answers it
\t\t\treturn nil
\t\t}
\t}

\tif r.ID, r.Eq, ok = ccMatchOf(u.Filter); !ok {
\t\treturn nil
\t}

\treturn r
}

// ccMatchOf reads a filter made of a string _id and other plain top-level fields each equal to a string or an
// integer; ok is false for any other.
func ccMatchOf(filter *types.Document) (id string, eq []backends.CCEq, ok bool) {
\tfor _, k := range filter.Keys() {
\t\tv, _ := filter.Get(k)
\t\tif k == "_id" {
\t\t\tif id, ok = v.(string); !ok {
\t\t\t\treturn "", nil, false
\t\t\t}

\t\t\tcontinue
\t\t}

\t\tif !ccPlainName(k) {
\t\t\treturn "", nil, false
\t\t}

\t\tswitch v := v.(type) {
\t\tcase string:
\t\t\teq = append(eq, backends.CCEq{Name: k, Value: v})
\t\tcase int32:
\t\t\teq = append(eq, backends.CCEq{Name: k, Value: int64(v)})
\t\tcase int64:
\t\t\teq = append(eq, backends.CCEq{Name: k, Value: v})
\t\tdefault:
\t\t\treturn "", nil, false
\t\t}
\t}

\treturn id, eq, ok
}

// CCReplaceOf returns the request for a replacement (no operators, neither upsert nor multi) of the document
// found by a string _id and plain top-level fields equal to strings or integers, with the document it writes
// built and checked as UpdateDocument builds it for a match; nil for any other update, and for a replacement
// that could not be written (FerretDB's own way then answers, with its error if a document matches).
func CCReplaceOf(u *Update) *backends.CCReplace {
\tif u.HasUpdateOperators || u.Upsert || u.Multi || u.Filter == nil || u.Update == nil {
\t\treturn nil
\t}

\tr := new(backends.CCReplace)
\tvar ok bool
\tif r.ID, r.Eq, ok = ccMatchOf(u.Filter); !ok {
\t\treturn nil
\t}

\tr.Doc = must.NotFail(types.NewDocument("_id", r.ID))
\tif _, err := processReplacementDoc("update", r.Doc, u.Update); err != nil {
\t\treturn nil
\t}

\tif err := r.Doc.ValidateData(); err != nil {
\t\treturn nil
\t}

\treturn r
}
"""
_ONE_STATEMENT_HANDLER = """\t\t// complaint-center patch: WHAT, in one statement (docs/adr/ADR)
\t\tif r := common.OF(&u); r != nil {
\t\t\tif _, err = c.UpdateAll(backends.CCWith(ctx, r), new(backends.UpdateAllParams)); err != nil {
\t\t\t\treturn 0, 0, nil, lazyerrors.Error(err)
\t\t\t}

\t\t\tif r.Handled && r.Updated > 0 {
\t\t\t\tmatched += r.Updated
\t\t\t\tmodified += r.Updated

\t\t\t\tcontinue
\t\t\t}
\t\t\t// none matched as written in SQL (or a backend without the change): FerretDB's own way below
\t\t}

"""


def _one_statement_handler(what: str, adr: str, of: str) -> str:
    """The handler's side of changes 9 and 10: the request `of` makes, sent to the backend in the context."""
    return _ONE_STATEMENT_HANDLER.replace("WHAT", what).replace("ADR", adr).replace("OF", of)


_UNSET_HANDLER = _one_statement_handler("an update that only removes fields", "0018", "CCUnsetOf")
_REPLACE_HANDLER = _one_statement_handler("a replacement by _id and equalities", "0019", "CCReplaceOf")
# in UpdateAll, after its metadata is read, before its own statement
_UNSET_PG_ANCHOR = "\tq := fmt.Sprintf(\n\t\t`UPDATE %s SET %s = $1 WHERE %s = $2`,\n"
_UNSET_PG = """\t// complaint-center patch: an update that only removes fields (change 9)
\tif un, ok := backends.CCOf[backends.CCUnset](ctx); ok {
\t\treturn &res, ccUnset(ctx, p, c.dbName, meta.TableName, un)
\t}

\t// complaint-center patch: a replacement by _id and equalities (change 10)
\tif rp, ok := backends.CCOf[backends.CCReplace](ctx); ok {
\t\treturn &res, ccReplace(ctx, p, c.dbName, meta.TableName, rp)
\t}

"""
_UNSET_PG_GO = """// complaint-center patch: an update that only removes fields (docs/adr/0018), a replacement
// (docs/adr/0019), each in one statement.
package postgresql

import (
\t"context"
\t"errors"
\t"fmt"
\t"strings"

\t"github.com/jackc/pgerrcode"
\t"github.com/jackc/pgx/v5"
\t"github.com/jackc/pgx/v5/pgconn"
\t"github.com/jackc/pgx/v5/pgxpool"

\t"github.com/FerretDB/FerretDB/internal/backends"
\t"github.com/FerretDB/FerretDB/internal/backends/postgresql/metadata"
\t"github.com/FerretDB/FerretDB/internal/handler/sjson"
\t"github.com/FerretDB/FerretDB/internal/util/lazyerrors"
\t"github.com/FerretDB/FerretDB/internal/util/must"
)

// ccArgs are a statement's arguments; add appends one and returns its placeholder, cast.
type ccArgs []any

func (a *ccArgs) add(v any, cast string) string {
\t*a = append(*a, v)
\treturn fmt.Sprintf("$%d::%s", len(*a), cast)
}

// ccUnset removes un.Paths from the matching document, and their entries in its type record ($s: the property
// p and the key in $k, at the top level and in the embedded document), in one UPDATE. Every path is removed
// from the document as stored, so the removals do not depend on each other.
func ccUnset(ctx context.Context, p *pgxpool.Pool, dbName, tableName string, un *backends.CCUnset) error {
\tvar args ccArgs
\targ := args.add

\td := metadata.DefaultColumn
\tcol := d

\tvar tops []string
\tnested := map[string][]string{}
\tvar parents []string
\tfor _, path := range un.Paths {
\t\tif len(path) == 1 {
\t\t\ttops = append(tops, arg(path[0], "text"))
\t\t\tcontinue
\t\t}

\t\tif _, seen := nested[path[0]]; !seen {
\t\t\tparents = append(parents, path[0])
\t\t}

\t\tnested[path[0]] = append(nested[path[0]], path[1])
\t}

\twhere := ccWhere(arg, un.ID, un.Eq)

\tfor _, parent := range parents {
\t\tt := arg(parent, "text")
\t\twhere = append(where, fmt.Sprintf(`jsonb_typeof(%s->%s) IS DISTINCT FROM 'array'`, d, t))

\t\tvar keys []string
\t\tfor _, name := range nested[parent] {
\t\t\tx := arg(name, "text")
\t\t\tkeys = append(keys, x)
\t\t\tcol = fmt.Sprintf(`(%s #- ARRAY[%s, %s] #- ARRAY['$s', 'p', %s, '$s', 'p', %s])`, col, t, x, t, x)
\t\t}

\t\tcol = fmt.Sprintf(`jsonb_set(%s, ARRAY['$s', 'p', %s, '$s', '$k'], `+
\t\t\t`COALESCE((%s->'$s'->'p'->%s->'$s'->'$k') - %s, '[]'), false)`, col, t, d, t, strings.Join(keys, " - "))
\t}

\tif len(tops) > 0 {
\t\tfor _, f := range tops {
\t\t\tcol = fmt.Sprintf(`(%s - %s #- ARRAY['$s', 'p', %s])`, col, f, f)
\t\t}

\t\tcol = fmt.Sprintf(`jsonb_set(%s, '{$s,$k}', COALESCE((%s->'$s'->'$k') - %s, '[]'), false)`,
\t\t\tcol, d, strings.Join(tops, " - "))
\t}

\tq := fmt.Sprintf(`UPDATE %s SET %s = %s WHERE %s`,
\t\tpgx.Identifier{dbName, tableName}.Sanitize(), d, col, strings.Join(where, " AND "))

\ttag, err := p.Exec(ctx, q, args...)
\tif err != nil {
\t\treturn lazyerrors.Error(err)
\t}

\tun.Handled = true
\tun.Updated = int32(tag.RowsAffected())

\treturn nil
}

// ccWhere is the condition that the document's _id is the string id and that it has the fields eq: each equal
// to its value and of a type that equals it (a string; an int, long or double for an integer), by FerretDB's
// type record. An array holding the value does not match here (MongoDB's equality matches it: the callers
// then take FerretDB's own way).
func ccWhere(arg func(any, string) string, id string, eq []backends.CCEq) []string {
\td := metadata.DefaultColumn
\twhere := []string{fmt.Sprintf(`%s->'_id' = %s AND %s->'$s'->'p'->'_id'->>'t' = 'string'`,
\t\td, arg(string(must.NotFail(sjson.MarshalSingleValue(id))), "jsonb"), d)}

\tfor _, e := range eq {
\t\tkinds := `= 'string'`
\t\tif _, ok := e.Value.(int64); ok {
\t\t\tkinds = `IN ('int', 'long', 'double')`
\t\t}

\t\twhere = append(where, fmt.Sprintf(`%[1]s->%[2]s = %[3]s AND %[1]s->'$s'->'p'->%[2]s->>'t' %[4]s`,
\t\t\td, arg(e.Name, "text"), arg(string(must.NotFail(sjson.MarshalSingleValue(e.Value))), "jsonb"), kinds))
\t}

\treturn where
}

// ccReplace writes rp.Doc over the matching document in one UPDATE. A unique index the new document breaks is
// answered as MongoDB does, with a duplicate key error (FerretDB's own update says InternalError).
func ccReplace(ctx context.Context, p *pgxpool.Pool, dbName, tableName string, rp *backends.CCReplace) error {
\tb, err := sjson.Marshal(rp.Doc)
\tif err != nil {
\t\treturn lazyerrors.Error(err)
\t}

\tvar args ccArgs
\targ := args.add

\td := metadata.DefaultColumn
\tset := arg(string(b), "jsonb")
\tq := fmt.Sprintf(`UPDATE %s SET %s = %s WHERE %s`,
\t\tpgx.Identifier{dbName, tableName}.Sanitize(), d, set, strings.Join(ccWhere(arg, rp.ID, rp.Eq), " AND "))

\ttag, err := p.Exec(ctx, q, args...)
\tif err != nil {
\t\tvar pgErr *pgconn.PgError
\t\tif errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UniqueViolation {
\t\t\treturn backends.NewError(backends.ErrorCodeInsertDuplicateID, err)
\t\t}

\t\treturn lazyerrors.Error(err)
\t}

\trp.Handled = true
\trp.Updated = int32(tag.RowsAffected())

\treturn nil
}
"""


def _replace(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    if text.count(old) != count:
        raise RuntimeError(f"FerretDB patch: {old!r} not found {count} time(s) in {path}")
    path.write_text(text.replace(old, new))


def _insert_before(path: Path, anchor: str, insert: str) -> None:
    text = path.read_text()
    if text.count(anchor) != 1:
        raise RuntimeError(f"FerretDB patch: anchor not found exactly once in {path}")
    path.write_text(text.replace(anchor, insert + anchor))


def apply(src: Path) -> None:
    """Edit the copied module source in place; refuse if the code it expects is not there exactly once."""
    pg = src / "internal" / "backends" / "postgresql"
    _insert_before(pg / "query.go", _ANCHOR, _INSERT)
    _replace(pg / "query.go", "filterEqual(p, key, v, keyOperator)", "ccFilterEqual(p, key, v, keyOperator)", 2)
    _replace(pg / "query.go", _IN_ANCHOR, _IN_CASE)
    (pg / "cc_pushdown.go").write_text(_PUSHDOWN_GO)
    (pg / "metadata" / "cc_gin.go").write_text(_GIN_GO)
    _replace(pg / "metadata" / "registry.go", _GIN_EXISTING, _GIN_EXISTING_NEW)
    _insert_before(pg / "metadata" / "registry.go", _GIN_ANCHOR, _GIN)
    resource = src / "internal" / "util" / "resource" / "resource.go"
    _replace(resource, _TRACK, _TRACK + "\n\treturn // patched: no lifetime tracking (docs/adr/0013)\n")
    _replace(resource, _UNTRACK, _UNTRACK + "\n\treturn // patched: no lifetime tracking (docs/adr/0013)\n")
    handler = src / "internal" / "handler"
    (pg / "cc_topn.go").write_text(_TOPN_GO)
    backends = src / "internal" / "backends" / "collection.go"
    _replace(backends, _QP_OLD, _QP_NEW)
    _replace(backends, _QR_OLD, _QR_NEW)
    _replace(backends, _EP_OLD, _EP_NEW)
    _replace(pg / "collection.go", _PG_QUERY_OLD, _PG_QUERY_NEW)
    _replace(pg / "collection.go", _PG_EXPLAIN_OLD, _PG_EXPLAIN_NEW)
    _insert_before(handler / "msg_find.go", _FIND_ANCHOR, _FIND_HINT)
    _insert_before(handler / "msg_explain.go", _FIND_ANCHOR, _FIND_HINT)
    _replace(handler / "msg_count.go", _COUNT_HINT_OLD, _COUNT_HINT_NEW)
    _replace(handler / "msg_count.go", _COUNT_OLD, _COUNT_NEW)
    (handler / "cc_locks.go").write_text(_LOCKS_GO)
    collection = pg / "collection.go"
    _replace(collection, _TX_OLD + _INSERT_BODY, _TX_INSERT + _INSERT_BODY)
    _replace(collection, _TX_OLD + _UPDATE_BODY, _TX_UPDATE + _UPDATE_BODY)
    _replace(collection, _POOL_IMPORT, "")  # only cc_once.go uses it now
    (pg / "cc_once.go").write_text(_ONCE_GO)
    _insert_before(collection, _TX_INSERT, _UPSERT_PG)
    (src / "internal" / "backends" / "cc_requests.go").write_text(_REQUESTS_GO)
    (handler / "common" / "cc_upsert.go").write_text(_UPSERT_COMMON_GO)
    _insert_before(handler / "msg_update.go", _UPSERT_ANCHOR, _UPSERT_HANDLER)
    (handler / "common" / "cc_unset.go").write_text(_UNSET_COMMON_GO)
    _insert_before(handler / "msg_update.go", _UPSERT_ANCHOR, _UNSET_HANDLER)
    _insert_before(handler / "msg_update.go", _UPSERT_ANCHOR, _REPLACE_HANDLER)
    _insert_before(collection, _UNSET_PG_ANCHOR, _UNSET_PG)
    (pg / "cc_unset.go").write_text(_UNSET_PG_GO)
    for name in _WRITERS:
        _insert_before(handler / name, _WRITE_ANCHOR, _WRITE_LOCK)
    swapped = 0
    for path in sorted((handler / "sjson").glob("*.go")):
        if not path.name.endswith("_test.go") and '"encoding/json"' in path.read_text():
            _replace(path, '"encoding/json"', 'json "github.com/goccy/go-json"')
            swapped += 1
    if swapped < 10:  # sjson.go, document.go, array.go and one file per scalar type
        raise RuntimeError(f"FerretDB patch: only {swapped} sjson files import encoding/json")
