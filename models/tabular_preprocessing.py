"""Tables to one float matrix for LightGBM, as the spec describes them: the preprocessing half of
:mod:`models.tabular`.

Categorical columns become integer codes from levels *stored in the model* (unseen or missing -> NaN), so predictions
never depend on pandas category order at load time -- the known pyfunc pitfall. High-cardinality keys (ids, wide HS
levels, crossed keys) get a smoothed target encoding, out-of-fold on the training split, plus a frequency encoding;
both are fitted on train only. Derived columns (HS hierarchy, ratios, logs, calendar parts) come from the spec. The
dict-row path exists so the serving path can score one shipment without building a DataFrame.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from data.errors import InvalidInputError, field_error
from data.specs.schema import Cross, DatasetSpec, DatePart, Equal, HSPrefix, Log, Ratio

_NAN = float("nan")

def category_key(v: Any) -> str | None:
    """Canonical string for a categorical value: ``30``, ``30.0`` and ``"30"`` are the same level; missing is None."""
    if v is None:
        return None
    if isinstance(v, float):
        if math.isnan(v):
            return None
        if v.is_integer():
            return str(int(v))
        return repr(v)
    if isinstance(v, (np.floating,)):
        return category_key(float(v))
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (np.integer,)):
        return str(int(v))
    if v is pd.NA or v is pd.NaT:
        return None
    s = str(v)
    return s if s != "" else None


def _to_float(v: Any) -> float:
    if v is None:
        return _NAN
    try:
        return float(v)
    except (TypeError, ValueError):
        return _NAN


@dataclass
class _KeyEncoding:
    """Smoothed target encoding (one column per target statistic) and log frequency of one high-cardinality key."""

    means: dict[str, np.ndarray]
    counts: dict[str, int]
    prior: np.ndarray

    def transform(self, keys: Sequence[str | None]) -> np.ndarray:
        k = len(self.prior)
        out = np.empty((len(keys), k + 1))
        means, counts, prior = self.means, self.counts, self.prior
        for i, key in enumerate(keys):
            m = means.get(key) if key is not None else None
            if m is None:
                out[i, :k] = prior
                out[i, k] = 0.0
            else:
                out[i, :k] = m
                out[i, k] = math.log1p(counts[key])
        return out


def _encode_fit(keys: np.ndarray, targets: np.ndarray, smoothing: float, min_frequency: int) -> _KeyEncoding:
    """Per-level smoothed means: (sum + m * prior) / (n + m)."""
    prior = targets.mean(axis=0)
    codes, uniques = pd.factorize(pd.Series(keys, dtype=object), use_na_sentinel=True)
    ok = codes >= 0
    n_levels = len(uniques)
    counts = np.bincount(codes[ok], minlength=n_levels)
    sums = np.zeros((n_levels, targets.shape[1]))
    np.add.at(sums, codes[ok], targets[ok])
    means = (sums + smoothing * prior) / (counts[:, None] + smoothing)
    keep = counts >= min_frequency
    return _KeyEncoding(
        means={uniques[i]: means[i] for i in np.flatnonzero(keep)},
        counts={uniques[i]: int(counts[i]) for i in np.flatnonzero(keep)},
        prior=prior,
    )


@dataclass
class TabularPreprocessor:
    """Fitted transformation from raw columns to the model matrix. Build with :meth:`fit`."""

    spec: DatasetSpec
    levels: dict[str, dict[str, int]] = field(default_factory=dict)
    encodings: dict[str, _KeyEncoding] = field(default_factory=dict)
    feature_names: list[str] = field(default_factory=list)
    # For each matrix column, the business feature (spec column or derived name) it comes from.
    feature_sources: list[str] = field(default_factory=list)
    categorical_indices: list[int] = field(default_factory=list)

    # ---- column plumbing ---------------------------------------------------------------------------------------
    def _cat_columns(self) -> list[str]:
        return [*self.spec.categorical, *[d.name for d in self.spec.derived if isinstance(d, HSPrefix)]]

    def _encoded_columns(self) -> list[str]:
        cols = list(self.spec.encoded_ids)
        cols += [d.name for d in self.spec.derived if isinstance(d, HSPrefix) and d.encode]
        cols += [d.name for d in self.spec.derived if isinstance(d, Cross)]
        return cols

    def _numeric_derived(self) -> list[str]:
        return [d.name for d in self.spec.derived if isinstance(d, (Ratio, Log, DatePart, Equal))]

    def _raw_columns(self, get: Any, n: int) -> dict[str, np.ndarray]:
        """Raw + derived columns as numpy arrays; ``get(name)`` returns the raw column as a sequence."""
        cols: dict[str, np.ndarray] = {}
        for c in self.spec.required_columns():
            cols[c] = get(c)
        for d in self.spec.derived:
            if isinstance(d, HSPrefix):
                src = cols[d.source]
                out = np.empty(n, dtype=object)
                for i, v in enumerate(src):
                    k = category_key(v)
                    out[i] = None if k is None else k.zfill(d.width)[: d.digits]
                cols[d.name] = out
            elif isinstance(d, Ratio):
                num = _float_array(cols[d.numerator])
                den = _float_array(cols[d.denominator])
                with np.errstate(divide="ignore", invalid="ignore"):
                    r = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
                    cols[d.name] = np.log1p(np.clip(r, 0, None)) if d.log else r
            elif isinstance(d, Log):
                v = _float_array(cols[d.source])
                with np.errstate(invalid="ignore"):
                    cols[d.name] = np.log1p(np.clip(v, 0, None))
            elif isinstance(d, DatePart):
                ts = pd.to_datetime(pd.Series(cols[d.source]), errors="coerce")
                attr = {"month": ts.dt.month, "dayofweek": ts.dt.dayofweek, "dayofyear": ts.dt.dayofyear,
                        "day": ts.dt.day, "hour": ts.dt.hour}[d.part]
                cols[d.name] = attr.to_numpy(dtype=float, na_value=np.nan)
            elif isinstance(d, Equal):
                left, right = cols[d.left], cols[d.right]
                out = np.empty(n)
                for i in range(n):
                    a, b = category_key(left[i]), category_key(right[i])
                    out[i] = np.nan if a is None or b is None else float(a == b)
                cols[d.name] = out
            elif isinstance(d, Cross):
                parts = [cols[s] for s in d.sources]
                out = np.empty(n, dtype=object)
                for i in range(n):
                    ks = [category_key(p[i]) for p in parts]
                    out[i] = None if any(k is None for k in ks) else "|".join(ks)
                cols[d.name] = out
        return cols

    @staticmethod
    def _frame_getter(df: pd.DataFrame) -> Any:
        def get(c: str) -> np.ndarray:
            if c not in df.columns:
                raise InvalidInputError(f"column '{c}' is missing from the table",
                                        details=[field_error(c, "missing column")])
            return df[c].to_numpy(dtype=object, na_value=None)

        return get

    @staticmethod
    def _records_getter(records: Sequence[dict]) -> Any:
        def get(c: str) -> np.ndarray:
            out = np.empty(len(records), dtype=object)
            for i, r in enumerate(records):
                out[i] = r.get(c)
            return out

        return get

    # ---- fit / transform ---------------------------------------------------------------------------------------
    @classmethod
    def fit(cls, spec: DatasetSpec, df: pd.DataFrame, targets: np.ndarray, *, seed: int = 0) -> tuple[
            TabularPreprocessor, np.ndarray]:
        """Fit on the training table and return (preprocessor, training matrix with out-of-fold encodings).

        ``targets`` is a (n, k) float array of the statistics to encode (class indicators or the target value).
        """
        self = cls(spec=spec)
        n = len(df)
        cols = self._raw_columns(self._frame_getter(df), n)
        for c in self._cat_columns():
            keys = pd.Series([category_key(v) for v in cols[c]], dtype=object)
            vc = keys.value_counts(dropna=True)
            # Most frequent first: the code order is stored, never taken from pandas at predict time.
            self.levels[c] = {k: i for i, k in enumerate(vc.index)}
        enc = spec.encoding
        train_oof: dict[str, np.ndarray] = {}
        rng = np.random.default_rng(seed)
        fold_of = rng.integers(0, enc.folds, size=n)
        for c in self._encoded_columns():
            keys = np.array([category_key(v) for v in cols[c]], dtype=object)
            self.encodings[c] = full = _encode_fit(keys, targets, enc.smoothing, enc.min_frequency)
            # Out-of-fold on train: a row never sees its own label, so the booster cannot learn the leak.
            oof = np.empty((n, targets.shape[1] + 1))
            for f in range(enc.folds):
                inside = fold_of == f
                part = _encode_fit(keys[~inside], targets[~inside], enc.smoothing, enc.min_frequency)
                oof[inside] = part.transform(list(keys[inside]))
            # Frequencies are not labels: use the full-train counts so train and predict see the same scale.
            oof[:, -1] = full.transform(list(keys))[:, -1]
            train_oof[c] = oof
        self._build_names()
        return self, self._assemble(cols, n, train_oof)

    def _build_names(self) -> None:
        names, sources, cats = [], [], []
        for c in self._cat_columns():
            cats.append(len(names))
            names.append(c)
            sources.append(c)
        for c in [*self.spec.numeric, *self._numeric_derived()]:
            names.append(c)
            sources.append(c)
        for c in self._encoded_columns():
            k = len(self.encodings[c].prior)
            for j in range(k):
                names.append(f"{c}__te{j}" if k > 1 else f"{c}__te")
                sources.append(self._source_of(c))
            names.append(f"{c}__freq")
            sources.append(self._source_of(c))
        self.feature_names, self.feature_sources, self.categorical_indices = names, sources, cats

    def _source_of(self, name: str) -> str:
        """Business feature of a derived/crossed column: a cross belongs to its first source (e.g. the importer)."""
        for d in self.spec.derived:
            if d.name == name and isinstance(d, Cross):
                return self._source_of(d.sources[0])
        return name

    def _assemble(self, cols: dict[str, np.ndarray], n: int, encoded: dict[str, np.ndarray] | None = None) -> np.ndarray:
        x = np.empty((n, len(self.feature_names)))
        j = 0
        for c in self._cat_columns():
            lv = self.levels[c]
            col = x[:, j]
            for i, v in enumerate(cols[c]):
                code = lv.get(category_key(v))
                col[i] = _NAN if code is None else code
            j += 1
        for c in [*self.spec.numeric, *self._numeric_derived()]:
            x[:, j] = _float_array(cols[c])
            j += 1
        for c in self._encoded_columns():
            block = encoded[c] if encoded is not None and c in encoded else \
                self.encodings[c].transform([category_key(v) for v in cols[c]])
            x[:, j: j + block.shape[1]] = block
            j += block.shape[1]
        return x

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        return self._assemble(self._raw_columns(self._frame_getter(df), len(df)), len(df))

    def transform_records(self, records: Sequence[dict]) -> np.ndarray:
        """Same matrix from plain dict rows (serving path: no DataFrame)."""
        n = len(records)
        if not self.spec.derived and not self.encodings:
            return self._direct(records)
        return self._assemble(self._raw_columns(self._records_getter(records), n), n)

    def _direct(self, records: Sequence[dict]) -> np.ndarray:
        """Row-major fill for specs without derived or encoded columns: plain lists, one numpy conversion.

        This is the serving hot path (one shipment, or a batch of feature rows): no per-column arrays, no per-cell
        numpy writes.
        """
        cats = [(c, self.levels[c]) for c in self._cat_columns()]
        nums = self.spec.numeric
        nan, key, num = _NAN, category_key, _to_float
        if len(records) >= 32:
            return self._direct_columns(records, cats, nums)
        out = []
        for r in records:
            vals = []
            for c, lv in cats:
                v = r.get(c)
                code = lv.get(v if type(v) is str else key(v))
                vals.append(nan if code is None else code)
            for c in nums:
                v = r.get(c)
                vals.append(v if type(v) is float else num(v))
            out.append(vals)
        return np.array(out, dtype=float).reshape(len(records), len(cats) + len(nums))

    @staticmethod
    def _direct_columns(records: Sequence[dict], cats: list, nums: list[str]) -> np.ndarray:
        """Column-major variant for batches: one list comprehension and one C-level conversion per column."""
        x = np.empty((len(records), len(cats) + len(nums)))
        key = category_key
        for j, (c, lv) in enumerate(cats):
            codes = [lv.get(v if type(v) is str else key(v)) for v in [r.get(c) for r in records]]
            x[:, j] = np.array(codes, dtype=float)  # None -> nan
        k = len(cats)
        if len(nums) > 1:
            # Every numeric cell in one C-level conversion (rows of tuples -> float block); a row missing a column or
            # holding a non-number takes the per-column path below, which maps those to NaN like _to_float.
            get = operator.itemgetter(*nums)
            try:
                x[:, k:] = np.array([get(r) for r in records], dtype=float)  # None -> nan
                return x
            except (KeyError, TypeError, ValueError):
                pass
        for j, c in enumerate(nums, start=k):
            col = [r.get(c) for r in records]
            try:
                x[:, j] = np.array(col, dtype=float)  # None -> nan
            except (TypeError, ValueError):
                x[:, j] = [_to_float(v) for v in col]
        return x


def _float_array(values: Iterable[Any]) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind in "fiub":
        return arr.astype(float)
    return np.fromiter((_to_float(v) for v in arr), dtype=float, count=len(arr))
