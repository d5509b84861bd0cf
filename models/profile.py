"""A compact profile of a model's training frame, and feature drift (PSI) of live rows against it.

At fit time each feature of the spec is reduced to bins and the training shares in them: numeric features to (at
most) ten quantile bins, categorical ones to their most frequent levels plus "other", each with a "missing" share.
That is a few kilobytes stored with the model (``TabularModel.profile_``), so drift can be measured wherever the
model is loaded, without the training frame. The population stability index of live rows against those shares is
``sum((live - train) * ln(live / train))`` over the bins: under 0.1 the distribution is stable, 0.1-0.2 it moved,
above 0.2 it changed enough to check the model (the threshold is a setting of the service).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

NUMERIC_BINS = 10
TOP_LEVELS = 20
#: Floor of a bin's share in the PSI: an empty bin would make the logarithm infinite.
_EPS = 1e-4


@dataclass
class FeatureBins:
    """One feature's training distribution: ``shares`` per bin, then "other" (categorical only), then missing."""

    name: str
    kind: str  # "numeric" | "categorical"
    edges: list[float] = field(default_factory=list)  # numeric: interior cut points, bins (-inf, e0), [e0, e1) …
    levels: list[str] = field(default_factory=list)  # categorical: the most frequent training levels
    shares: list[float] = field(default_factory=list)

    def bin_labels(self) -> list[str]:
        if self.kind == "categorical":
            return [*self.levels, "(other)", "(missing)"]
        cuts = [f"{e:g}" for e in self.edges]
        inner = [f"[{a}, {b})" for a, b in zip(cuts, cuts[1:])]
        return ([f"< {cuts[0]}", *inner, f">= {cuts[-1]}"] if cuts else ["all"]) + ["(missing)"]

    def counts(self, values: Sequence[Any] | pd.Series) -> np.ndarray:
        """How many of ``values`` fall in each bin (same order as ``shares``)."""
        if self.kind == "categorical":
            keys = pd.Series(values, dtype=object).map(_key)
            index = {level: i for i, level in enumerate(self.levels)}
            missing = keys.isna().to_numpy()
            codes = keys.map(lambda k: index.get(k, len(self.levels))).to_numpy()
            codes = np.where(missing, len(self.levels) + 1, codes).astype(int)
            return np.bincount(codes, minlength=len(self.levels) + 2)
        x = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
        missing = np.isnan(x)
        codes = np.searchsorted(np.asarray(self.edges, float), x[~missing], side="right")
        counts = np.bincount(codes, minlength=len(self.edges) + 1)
        return np.append(counts, missing.sum())


def _key(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return None
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    s = str(v)
    return s or None


def _shares(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return [float(c / total) if total else 0.0 for c in counts]


def fit_bins(name: str, kind: str, values: pd.Series) -> FeatureBins:
    if kind == "categorical":
        keys = values.astype(object).map(_key).dropna()
        levels = [str(k) for k in keys.value_counts().index[:TOP_LEVELS]]
        bins = FeatureBins(name, "categorical", levels=levels)
    else:
        x = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
        qs = np.quantile(x, np.linspace(0, 1, NUMERIC_BINS + 1)[1:-1]) if len(x) else np.array([])
        # Few distinct values (flags, counts): cut between them, so each value is its own bin.
        distinct = np.unique(x)
        edges = distinct[1:] if len(distinct) <= NUMERIC_BINS else np.unique(qs)
        bins = FeatureBins(name, "numeric", edges=[float(e) for e in edges])
    bins.shares = _shares(bins.counts(values))
    return bins


def psi(train_shares: Sequence[float], live_counts: np.ndarray) -> float:
    """Population stability index of live counts against training shares (bins in the same order)."""
    expected = np.clip(np.asarray(train_shares, float), _EPS, None)
    total = live_counts.sum()
    actual = np.clip(live_counts / total if total else np.zeros_like(expected), _EPS, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


@dataclass
class TrainingProfile:
    """What the model saw at fit time: feature bins, rows and period; weekly figure ranges on the validation
    weeks (``models.monitoring``), the review rate those were measured at."""

    features: dict[str, FeatureBins]
    n_rows: int
    time_from: str | None = None
    time_until: str | None = None
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    review_rate: float | None = None

    @classmethod
    def fit(cls, frame: pd.DataFrame, categorical: Sequence[str], numeric: Sequence[str],
            time_column: str | None = None) -> TrainingProfile:
        features = {c: fit_bins(c, "categorical", frame[c]) for c in categorical if c in frame}
        features.update({c: fit_bins(c, "numeric", frame[c]) for c in numeric if c in frame})
        lo = hi = None
        if time_column and time_column in frame and len(frame):
            ts = pd.to_datetime(frame[time_column], utc=True)
            lo, hi = ts.min().isoformat(), ts.max().isoformat()
        return cls(features=features, n_rows=len(frame), time_from=lo, time_until=hi)

    def drift(self, live: pd.DataFrame, threshold: float) -> list[dict[str, Any]]:
        """PSI per profiled feature present in ``live``, most drifted first; ``drifted`` when above ``threshold``.

        Each entry also carries the bins' training and live shares, so a page can show where the mass moved.
        """
        out = []
        for name, bins in self.features.items():
            if name not in live:
                continue
            counts = bins.counts(live[name])
            value = psi(bins.shares, counts)
            out.append({"feature": name, "psi": value, "drifted": value > threshold, "n": int(counts.sum()),
                        "bins": bins.bin_labels(), "train_shares": list(bins.shares),
                        "live_shares": _shares(counts)})
        return sorted(out, key=lambda d: -d["psi"])
