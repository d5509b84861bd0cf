"""Repository and import service: idempotent upserts, reads, timestamps, import summary and batch record."""

from __future__ import annotations

import csv
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from data.errors import ConflictError, NotFoundError
from data.rulings.importer import import_rulings, write_errors
from data.rulings.readers import ColumnMapping
from data.rulings.repository import RulingRepository
from data.rulings.schema import Ruling
from data.store.db import init_db, make_engine
from data.store.rulings import ImportBatchRow
from demo.rulings import generate_demo_rulings, write_demo_rulings


@pytest.fixture
def engine(store_url):
    """A fresh store on SQLite, then on PostgreSQL: every test here runs on both."""
    eng = make_engine(store_url)
    init_db(eng)
    yield eng
    eng.dispose()


def test_two_replicas_importing_overlapping_rulings_at_once_insert_each_once(engine):
    """Two imports of overlapping files at the same moment: every ruling stored once, and the two summaries add up
    to one set of inserts (neither claims a row the other inserted)."""
    import threading

    repo = RulingRepository(engine)
    rulings = generate_demo_rulings(300, seed=4)
    parts = [rulings[:200], rulings[100:]]
    barrier = threading.Barrier(2)
    results = [None, None]

    def run(i: int) -> None:
        barrier.wait()
        results[i] = repo.upsert_many(parts[i], chunk_size=50)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(r.inserted for r in results) == 300
    assert sum(r.duplicates for r in results) == 100
    assert repo.count() == 300


def test_upsert_is_idempotent_and_counts_exact(engine):
    repo = RulingRepository(engine)
    rulings = generate_demo_rulings(300, seed=1)
    first = repo.upsert_many(rulings + rulings[:10])  # repeats inside one call count as duplicates
    assert (first.inserted, first.duplicates) == (300, 10)
    second = repo.upsert_many(rulings)
    assert (second.inserted, second.duplicates) == (0, 300)
    assert repo.count() == 300


def test_round_trip_keeps_every_field(engine):
    repo = RulingRepository(engine)
    r = Ruling(product_name="不锈钢真空保温杯", description="双层", declared_elements={"品名": "保温杯"},
               hs_code="9617001900", source="reviewer", ruling_date="2024-03-05", notes="n",
               reviewer="li.wei", model_version="clearance-hs-suggester/3")
    stored = repo.add(r)
    assert stored.model_dump() == r.model_dump()
    assert repo.get(r.ruling_id).model_dump() == r.model_dump()
    assert repo.add(r).ruling_id == r.ruling_id  # same content again: idempotent
    clash = r.model_copy(update={"hs_code": "9617009000"})
    with pytest.raises(ConflictError):
        repo.add(clash)
    with pytest.raises(NotFoundError):
        repo.get("nope")


def test_iter_all_pages_and_created_since(engine):
    repo = RulingRepository(engine)
    rulings = generate_demo_rulings(250, seed=2)
    repo.upsert_many(rulings)
    seen = list(repo.iter_all(batch_size=40))
    assert len(seen) == 250 and len({r.ruling_id for r in seen}) == 250
    assert [r.ruling_id for r in seen] == sorted(r.ruling_id for r in seen)
    cut = datetime.now(UTC)
    time.sleep(0.01)
    fresh = Ruling(product_name="new ruling", hs_code="851671", source="reviewer")
    repo.add(fresh)
    assert [r.ruling_id for r in repo.created_since(cut)] == [fresh.ruling_id]
    naive = cut.replace(tzinfo=None) - timedelta(seconds=0)  # naive means UTC
    assert [r.ruling_id for r in repo.created_since(naive)] == [fresh.ruling_id]
    assert repo.stats()["rulings"] == 251


def test_import_twice_no_duplicates_and_batch_recorded(engine, tmp_path):
    path = write_demo_rulings(tmp_path / "demo.csv", n=120, seed=3)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(",,,,8516.7,,customs_ruling,,,,,,\n")  # a bad row at the end: line 122
    s1 = import_rulings(engine, path, progress=False)
    assert (s1.rows_read, s1.inserted, s1.duplicates, s1.rejected) == (121, 120, 0, 1)
    assert {(e.line, e.field) for e in s1.errors} == {(122, "product_name"), (122, "hs_code")}
    s2 = import_rulings(engine, path, progress=False)
    assert (s2.inserted, s2.duplicates, s2.rejected) == (0, 120, 1)
    assert RulingRepository(engine).count() == 120
    with engine.connect() as conn:
        batches = conn.execute(select(ImportBatchRow)).all()
    assert len(batches) == 2 and batches[0].inserted == 120 and batches[1].duplicates == 120
    assert batches[0].errors_sample[0]["line"] == 122
    out = write_errors(s1.errors, tmp_path / "errors.csv")
    assert list(csv.reader(out.open(encoding="utf-8")))[0] == ["line", "field", "reason"]


def test_import_jsonl_export_round_trip(engine, tmp_path):
    path = write_demo_rulings(tmp_path / "demo.jsonl", n=80, seed=4)
    summary = import_rulings(engine, path, progress=False)
    assert summary.inserted == 80 and not summary.errors
    originals = {r.ruling_id: r for r in generate_demo_rulings(80, seed=4)}
    for stored in RulingRepository(engine).iter_all():
        assert stored.model_dump(exclude={"created_at"}) == originals[stored.ruling_id].model_dump(exclude={"created_at"})


def test_unknown_column_leaves_store_untouched(engine, tmp_path):
    path = write_demo_rulings(tmp_path / "demo.csv", n=10, seed=5)
    from data.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="'title'"):
        import_rulings(engine, path, ColumnMapping(text_col="title"), progress=False)
    assert RulingRepository(engine).count() == 0
