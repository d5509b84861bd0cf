"""Fixtures shared by the model tests. Encoders take seconds to load, so each is loaded once per test session.

Owners append fixtures here (H1a: encoders; H1b: suggester); keep each fixture's scope as wide as its cost needs.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def use_encoder():
    from models.encoders import load_encoder

    return load_encoder("use", threads=2)


@pytest.fixture(scope="session")
def minilm_encoder():
    from models.encoders import load_encoder

    return load_encoder("minilm", threads=2)
