"""Idempotency keys: the work and its key commit together; a resend answers the stored response."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from data.errors import ConflictError, InvalidInputError
from data.store.db import init_db, make_engine
from data.store.idempotency import IdempotencyRow, check_key, fingerprint, run_once
from data.store.reviews import ReviewEntry, ReviewRow, add_review


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    init_db(engine)
    return engine


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _work(engine, calls):
    def work(session):
        calls.append(1)
        review = add_review(engine, ReviewEntry(reviewer="a", query_text="t", final_code="961700", action="accept",
                                                ruling_id="r"), session=session)
        return {"review_id": review.id}
    return work


def test_a_resend_is_answered_from_the_store_without_running_again(engine):
    calls: list[int] = []
    h = fingerprint({"x": 1})
    first, replayed1 = run_once(engine, "test", "alice", "k1", h, _work(engine, calls))
    again, replayed2 = run_once(engine, "test", "alice", "k1", h, _work(engine, calls))
    assert (replayed1, replayed2) == (False, True) and first == again and len(calls) == 1
    assert _count(engine, ReviewRow.__table__) == 1
    other, _ = run_once(engine, "test", "bob", "k1", h, _work(engine, calls))  # keys are per owner
    assert other != first and _count(engine, ReviewRow.__table__) == 2


def test_the_same_key_with_another_body_is_a_conflict(engine):
    run_once(engine, "test", "alice", "k1", fingerprint({"x": 1}), _work(engine, []))
    with pytest.raises(ConflictError) as err:
        run_once(engine, "test", "alice", "k1", fingerprint({"x": 2}), _work(engine, []))
    assert err.value.code == "idempotency_key_reused" and _count(engine, ReviewRow.__table__) == 1


def test_work_and_key_roll_back_together(engine):
    def failing(session):
        _work(engine, [])(session)
        raise RuntimeError("crash before the commit")

    with pytest.raises(RuntimeError):
        run_once(engine, "test", "alice", "k1", "h", failing)
    assert _count(engine, ReviewRow.__table__) == 0 and _count(engine, IdempotencyRow.__table__) == 0
    _, replayed = run_once(engine, "test", "alice", "k1", "h", _work(engine, []))  # the resend does the work once
    assert not replayed and _count(engine, ReviewRow.__table__) == 1


def test_a_racing_resend_rolls_back_and_answers_the_winner(engine):
    calls: list[int] = []

    def racing(session):
        # While this request works, the same request (another connection) commits first.
        if not calls:
            calls.append(0)
            run_once(engine, "test", "alice", "k1", "h", _work(engine, calls))
        return _work(engine, calls)(session)

    response, replayed = run_once(engine, "test", "alice", "k1", "h", racing)
    assert replayed and _count(engine, ReviewRow.__table__) == 1 and response["review_id"] == 1


@pytest.mark.parametrize("key", ["", "x" * 201, "ключ", "a\nb"])
def test_malformed_keys_are_refused_naming_the_field(key):
    with pytest.raises(InvalidInputError) as err:
        check_key(key, "header.Idempotency-Key")
    assert err.value.details[0]["field"] == "header.Idempotency-Key"
