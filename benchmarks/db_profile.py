"""Which statements the MongoDB-wire server's PostgreSQL spends its rows and time on (`make db-profile`).

FerretDB v1 decodes in Go every row PostgreSQL returns, so the rows a statement returns are a measure of the
server's work, not only PostgreSQL's. Start the stack with CC_PG_STATS=1 (`CC_PG_STATS=1 make up`, or before
a benchmark), drive it, then run this: the statements with the most rows and the most time, per collection
(FerretDB's table names carry a hash; the collection is read from the metadata table). `--reset` zeroes the
counters first.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

from deploy.native import stack

PG_PORT = stack.default_stack().pg_port


def psql(sql: str) -> list[list[str]]:
    """Rows of a query to the stack's PostgreSQL, through the psql beside the server `make up` runs."""
    bindir = stack.postgres_bin_dir()
    if bindir is None:
        sys.exit("no PostgreSQL here: the stack runs FerretDB on PostgreSQL (make up installs it)")
    out = subprocess.run([str(bindir / "psql"), "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres",
                          "-d", "postgres", "-AtF", "\t", "-c", sql], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"psql failed: {out.stderr.strip()} (was the stack started with CC_PG_STATS=1?)")
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def table_names() -> dict[str, str]:
    """FerretDB table → database.collection, from each schema's _ferretdb_database_metadata."""
    names: dict[str, str] = {}
    for (schema,) in psql("SELECT DISTINCT table_schema FROM information_schema.tables "
                          "WHERE table_name = '_ferretdb_database_metadata'"):
        meta = f'"{schema}"._ferretdb_database_metadata'
        for coll, table in psql(f"SELECT _jsonb->>'_id', _jsonb->>'table' FROM {meta}"):
            names[f"{schema}.{table}"] = f"{schema}.{coll}"
    return names


def shorten(query: str, names: dict[str, str]) -> str:
    def name(m: re.Match[str]) -> str:
        return names.get(f"{m.group(1)}.{m.group(2)}", m.group(0))

    query = re.sub(r'"([^"]+)"\."([^"]+)"', name, " ".join(query.split()))
    return query.replace("_jsonb", "j")[:150]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reset", action="store_true", help="zero the counters and exit")
    ap.add_argument("--top", type=int, default=20)
    args = ap.parse_args()
    psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    if args.reset:
        psql("SELECT pg_stat_statements_reset()")
        print("counters reset")
        return
    names = table_names()
    rows = psql("SELECT calls, rows, round(total_exec_time)::bigint, query FROM pg_stat_statements "
                "WHERE query NOT LIKE '%pg_stat_statements%'")
    stats = [(int(c), int(r), int(t), q) for c, r, t, q in rows]
    total_rows = sum(s[1] for s in stats) or 1
    total_ms = sum(s[2] for s in stats) or 1
    for title, key in (("rows returned", 1), ("time (ms)", 2)):
        print(f"\n== by {title}: total rows {total_rows:,}, total time {total_ms:,} ms")
        print(f"{'calls':>9} {'rows':>11} {'rows/call':>9} {'ms':>8} {'share':>6}  statement")
        for calls, nrows, ms, query in sorted(stats, key=lambda s: -s[key])[:args.top]:
            share = (nrows / total_rows) if key == 1 else (ms / total_ms)
            print(f"{calls:>9,} {nrows:>11,} {nrows / max(calls, 1):>9.1f} {ms:>8,} {share:>6.1%}  "
                  f"{shorten(query, names)}")


if __name__ == "__main__":
    main()
