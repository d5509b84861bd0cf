"""Training-frame profile and drift: stable rows are not drifted, a shifted fixture is, per feature; old models."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from models.profile import TrainingProfile, fit_bins, psi


def _frame(n: int, seed: int, shift: float = 0.0, sea_share: float = 0.3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "declared_value_usd": rng.lognormal(8 + shift, 1.0, n),
        "lithium_battery": (rng.random(n) < 0.2).astype(float),
        "channel": np.where(rng.random(n) < sea_share, "sea_fcl", np.where(rng.random(n) < 0.5, "air", "express")),
        "declared_at": pd.date_range("2026-01-01", periods=n, freq="h", tz="UTC"),
    })


@pytest.fixture(scope="module")
def profile() -> TrainingProfile:
    return TrainingProfile.fit(_frame(5000, 1), ["channel"], ["declared_value_usd", "lithium_battery"],
                               "declared_at")


def test_profile_is_compact_bins_with_shares(profile):
    value = profile.features["declared_value_usd"]
    assert len(value.edges) == 9 and sum(value.shares) == pytest.approx(1.0)
    assert profile.features["lithium_battery"].edges == [1.0]  # a flag: one bin per value, plus missing
    assert set(profile.features["channel"].levels) == {"sea_fcl", "air", "express"}
    assert profile.time_from.startswith("2026-01-01") and profile.n_rows == 5000
    assert len(pickle.dumps(profile)) < 5000


def test_same_distribution_is_not_drift(profile):
    drift = {d["feature"]: d for d in profile.drift(_frame(3000, 2), threshold=0.2)}
    assert all(d["psi"] < 0.05 and not d["drifted"] for d in drift.values())


def test_shifted_features_are_marked_and_ranked_first(profile):
    drift = profile.drift(_frame(3000, 3, shift=1.0, sea_share=0.8), threshold=0.2)
    assert [d["feature"] for d in drift[:2]] == sorted(["declared_value_usd", "channel"], key=lambda f: -next(
        d["psi"] for d in drift if d["feature"] == f))
    marked = {d["feature"] for d in drift if d["drifted"]}
    assert marked == {"declared_value_usd", "channel"}  # the flag kept its share
    value = next(d for d in drift if d["feature"] == "declared_value_usd")
    assert value["live_shares"][-2] > 0.25 > value["train_shares"][-2]  # the mass moved into the top bin


def test_unseen_levels_and_missing_values_have_their_bins():
    bins = fit_bins("carrier", "categorical", pd.Series(["SF", "SF", "YTO", None]))
    assert bins.bin_labels() == ["SF", "YTO", "(other)", "(missing)"]
    assert bins.counts(["SF", "DHL", None, None]).tolist() == [1, 0, 1, 2]
    assert psi(bins.shares, bins.counts(["SF", "SF", "YTO", None])) == pytest.approx(0.0)


def test_fitted_models_carry_a_profile_and_training_ranges():
    from tests.models.shipment_models import small_models

    delay, risk = small_models()
    profile = delay.model_.profile
    assert "carrier" in profile.features and "declared_value_usd" in profile.features
    lo, hi = profile.ranges["coverage_p90"]
    assert 0.6 < lo <= hi <= 1.0
    assert set(risk.model_.profile.ranges) == {"precision_at_review_rate", "ece_high"}
    assert risk.model_.profile.review_rate == 0.10


def test_a_model_pickled_before_profiles_loads_without_one():
    from tests.models.shipment_models import small_models

    delay, _ = small_models()
    old = pickle.loads(pickle.dumps(delay.model_))
    del old.profile_  # what a model trained before this change looks like
    restored = pickle.loads(pickle.dumps(old))
    assert restored.profile is None and restored.quantiles_from_matrix(restored.matrix([{}])).shape == (1, 2)
