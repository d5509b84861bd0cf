"""Fixtures of the console tests: one nomenclature per session, a hand-moved session clock."""

from __future__ import annotations

import pytest

from data.nomenclature import Nomenclature
from tests.serving.console.fakes import FakeClock


@pytest.fixture(scope="session")
def nomenclature() -> Nomenclature:
    return Nomenclature.default()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
