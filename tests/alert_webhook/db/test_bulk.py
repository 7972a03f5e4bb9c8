"""db/bulk.py: fixed statements over many rows, on the driver, in chunks."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    select,
    update,
)

from alert_webhook.db.bulk import CHUNK, Bulk, Returning, Statement, dumps_str_map

meta = MetaData()
things = Table(
    "things",
    meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(50), nullable=False),
    Column("size", Integer, nullable=False),
)


@pytest.fixture
def conn(store):
    meta.create_all(store.engine)
    with store.engine.begin() as connection:
        yield connection


def _rows(conn) -> list[tuple]:
    return [tuple(r) for r in conn.execute(things.select().order_by(things.c.id))]


def test_bulk_insert_takes_tuples_or_mappings_across_chunks(conn) -> None:
    stmt = Bulk(insert(things), conn.dialect, ("size", "name"))  # keys in another order
    many = [(i, f"n{i}") for i in range(CHUNK + 7)]
    assert stmt(conn, many) == CHUNK + 7
    stmt(conn, [{"name": "last", "size": -1}])
    rows = _rows(conn)
    assert len(rows) == CHUNK + 8
    assert rows[0][1:] == ("n0", 0) and rows[-1][1:] == ("last", -1)


def test_bulk_update_reports_the_rows_it_changed(conn) -> None:
    Bulk(insert(things), conn.dialect, ("name", "size"))(conn, [("a", 1), ("b", 2)])
    grow = Bulk(
        update(things).where(things.c.name == bindparam("b_name")).values(size=bindparam("b_size")),
        conn.dialect,
        ("b_name", "b_size"),
    )
    assert grow(conn, [("a", 10), ("zzz", 0)]) == 1
    assert [r[2] for r in _rows(conn)] == [10, 2]


def test_ordered_returning_gives_ids_in_the_order_of_the_rows(conn) -> None:
    stmt = Returning(
        insert(things).returning(things.c.id, sort_by_parameter_order=True),
        conn.dialect,
        ("name", "size"),
        ordered=True,
    )
    ids = [r[0] for r in stmt(conn, [(f"n{i}", i) for i in range(CHUNK * 2 + 3)])]
    assert ids == sorted(ids) and len(set(ids)) == CHUNK * 2 + 3
    by_id = {r[0]: r[2] for r in _rows(conn)}
    assert [by_id[i] for i in ids] == list(range(CHUNK * 2 + 3))


def test_statement_binds_named_parameters_and_its_own_literals(conn) -> None:
    Bulk(insert(things), conn.dialect, ("name", "size"))(conn, [("a", 1), ("b", 5)])
    big = Statement(
        things.select().where(things.c.size >= bindparam("least"), things.c.name != "zzz"),
        conn.dialect,
    )
    assert [r["name"] for r in big.mappings(conn, {"least": 2})] == ["b"]


@pytest.fixture
def any_conn(any_store):
    meta.create_all(any_store.engine)
    try:
        with any_store.engine.begin() as connection:
            yield connection
    finally:
        meta.drop_all(any_store.engine)


def test_statement_spells_out_in_lists_of_every_length(any_conn) -> None:
    """An IN list used twice, beside other parameters, of lengths that come and go
    (the text is kept per length) and empty; the same answers on both engines."""
    Bulk(insert(things), any_conn.dialect, ("name", "size"))(
        any_conn, [("a", 1), ("b", 5), ("c", 9)]
    )
    names = bindparam("names", expanding=True)
    stmt = Statement(
        select(things.c.name)
        .where(things.c.name.in_(names), things.c.size >= bindparam("least"))
        .union(select(things.c.name).where(things.c.name.in_(names), things.c.size == 1)),
        any_conn.dialect,
    )
    for asked, least, found in [
        (["a", "b", "c"], 5, {"a", "b", "c"}),
        (["c"], 0, {"c"}),
        (["a", "zzz"], 5, {"a"}),
        ([], 0, set()),
        (["b", "c", "a"], 6, {"a", "c"}),
    ]:
        assert {r[0] for r in stmt.rows(any_conn, {"names": asked, "least": least})} == found


@given(st.dictionaries(st.text(max_size=8), st.text(max_size=12), max_size=6))
def test_label_maps_are_written_as_json_dumps_writes_them(value: dict[str, str]) -> None:
    assert dumps_str_map(value) == json.dumps(value, sort_keys=True, separators=(",", ":"))


def test_a_label_map_seen_lately_is_not_written_again_and_order_does_not_matter() -> None:
    # Alertmanager repeats the same label sets in every notification of a group.
    from alert_webhook.db.bulk import _dumps_items

    first = {"alertname": "Repeat", "instance": "h1:9100", "severity": "low"}
    text = dumps_str_map(first)
    hits = _dumps_items.cache_info().hits
    assert dumps_str_map(dict(first)) == text
    assert _dumps_items.cache_info().hits == hits + 1
    reordered = dict(reversed(list(first.items())))
    assert (
        dumps_str_map(reordered) == text == json.dumps(first, sort_keys=True, separators=(",", ":"))
    )


def test_the_kept_label_maps_can_be_forgotten_after_a_burst() -> None:
    # Issue 27: a storm's label sets (~1 KB each, up to KEPT_MAPS) must not stay.
    from alert_webhook.db.bulk import _dumps_items, forget_kept_maps, kept_maps_used

    used = kept_maps_used()
    dumps_str_map({"alertname": "Storm", "instance": "h9:9100"})
    assert kept_maps_used() == used + 1
    forget_kept_maps()
    assert _dumps_items.cache_info().currsize == 0
    assert dumps_str_map({"instance": "h9:9100", "alertname": "Storm"}) == (
        '{"alertname":"Storm","instance":"h9:9100"}'
    )
