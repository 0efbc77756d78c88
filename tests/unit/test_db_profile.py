"""The database profile names FerretDB's tables by their collections and keeps statements short."""

from benchmarks.db_profile import shorten


def test_tables_are_named_by_their_collection_and_the_column_is_shortened():
    names = {"cc_triage.recent_1a2b3c4d": "cc_triage.recent"}
    q = 'SELECT _jsonb FROM "cc_triage"."recent_1a2b3c4d"\n  WHERE _jsonb->$1 @> $2'
    assert shorten(q, names) == "SELECT j FROM cc_triage.recent WHERE j->$1 @> $2"


def test_an_unknown_table_is_left_as_written_and_long_statements_are_cut():
    q = 'SELECT _jsonb FROM "x"."y" WHERE ' + "a AND " * 100
    out = shorten(q, {})
    assert out.startswith('SELECT j FROM "x"."y" WHERE') and len(out) == 150
