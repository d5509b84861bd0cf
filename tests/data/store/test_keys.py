"""API keys on both engines: create, verify, revoke; a name raced by two replicas is given once (409 for the other)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from data.errors import ConflictError
from data.store.db import open_store
from data.store.keys import create_key, list_keys, revoke_key, verify_key


def test_keys_are_created_verified_and_revoked(store_url):
    engine = open_store(store_url)
    record, key = create_key(engine, "erp", ["score", "suggest"])
    assert verify_key(engine, key).scopes == ("score", "suggest")
    assert verify_key(engine, key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert revoke_key(engine, "erp").revoked_at is not None
    assert verify_key(engine, key) is None and [k.name for k in list_keys(engine)] == ["erp"]
    with pytest.raises(ConflictError):
        create_key(engine, "erp", ["score"])


def test_a_key_name_created_by_several_replicas_at_once_is_given_once(store_url):
    engine = open_store(store_url)

    def attempt(_: int):
        try:
            return create_key(engine, "shared-name", ["suggest"])[1]
        except ConflictError as exc:
            return exc

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(attempt, range(6)))
    keys = [o for o in outcomes if isinstance(o, str)]
    assert len(keys) == 1 and all(isinstance(o, ConflictError) for o in outcomes if o not in keys)
    assert verify_key(engine, keys[0]).name == "shared-name" and len(list_keys(engine)) == 1
