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


# --- H1b: HS suggester -------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def demo_library():
    """A few hundred generated rulings (zh/en/mixed, ~160 HS6 codes), the same for every suggester test."""
    from demo.rulings import generate_demo_rulings

    return generate_demo_rulings(700, seed=3)


@pytest.fixture(scope="session")
def suggester(demo_library, use_encoder):
    """The suggester built once per session from ``demo_library`` (all but the last 100 rulings, kept as queries)."""
    from data.nomenclature import Nomenclature
    from training.hs import build_suggester

    return build_suggester(demo_library[:600], encoder=use_encoder, nomenclature=Nomenclature.default(),
                           progress=False, seed=0)
