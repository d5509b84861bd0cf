"""``clearance risk train``: a spec-driven run needs its tables; --from-store needs none (training from the store is
tested in tests/training/test_store_history.py)."""

from __future__ import annotations

from data.errors import InvalidInputError


def test_train_without_tables_or_from_store_names_what_is_missing(cli):
    res = cli("risk", "train", "--spec", "data/specs/kcs-declarations.yaml")
    assert isinstance(res.exception, InvalidInputError) and "--from-store" in res.exception.message
    assert {d["field"] for d in res.exception.details} == {"train", "valid"}
