"""Reasons behind a delay or risk prediction, from LightGBM ``pred_contrib``, grouped into business features.

Units and the conversion, so that every reason is read the same way:

* **Delay** explains the P90 booster. A quantile booster has an identity link, so its contributions are already
  hours; a reason's ``impact`` is the group's summed contribution in hours (positive = longer).
* **Risk** explains the probability of the ``high`` class. Contributions live in raw multiclass scores (one logit
  per class). For each group g we take its push on the high logit relative to the classes' mean
  ``d_g = c_g[high] - mean_k c_g[k]`` (softmax ignores a common shift), then scale all ``d_g`` by one factor so
  they sum to ``p_high - p_high_baseline``, where the baseline is the calibrated probability at the model's bias
  (no feature known). Impacts are therefore in probability (0.12 = +12 points) and add up to the change from the
  baseline. When the raw sum and the probability change disagree in sign or the sum is ~0 (rare, from the
  other classes' interplay), the local slope ``p(1-p)/T`` converts instead, which keeps each sign.

Groups and their en/zh names come from ``features.shipment_features`` (``FEATURES[*].group``, ``GROUPS``), so the
words match the feature code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel

from features.shipment_features import FEATURES, GROUPS
from models.tabular import softmax

_FEATURE = {f.name: f for f in FEATURES}


class Reason(BaseModel):
    feature: str  # business group key, e.g. "port_congestion_season"
    en: str
    zh: str
    impact: float
    unit: Literal["hours", "probability", "value"]


class GroupMap:
    """Sums matrix-column contributions into business groups (one matrix product per batch).

    Groups default to the shipment features' (``FEATURES[*].group`` with ``GROUPS`` words); a spec-trained model
    passes its spec's ``feature_groups`` / ``group_labels`` instead, and any other column is its own group.
    """

    def __init__(self, feature_sources: Sequence[str], group_of: dict[str, str] | None = None,
                 labels: dict[str, tuple[str, str]] | None = None):
        # What a probability impact is about: the risk model explains P(high); a spec model its positive class.
        self.probability_words = ("high-risk probability", "高风险概率")
        if group_of is None:
            group_of = {f.name: f.group for f in FEATURES}
            labels = {**GROUPS, **(labels or {})}
        else:
            self.probability_words = ("predicted probability", "预测概率")
        self.labels = labels or {}
        groups: list[str] = []
        for src in feature_sources:
            g = group_of.get(src, src)
            if g not in groups:
                groups.append(g)
        self.groups = groups
        self.matrix = np.zeros((len(feature_sources), len(groups)))
        for i, src in enumerate(feature_sources):
            self.matrix[i, groups.index(group_of.get(src, src))] = 1.0
        self.members: dict[str, list[str]] = {g: [] for g in groups}
        for src in feature_sources:
            g = group_of.get(src, src)
            if src not in self.members[g]:
                self.members[g].append(src)

    @classmethod
    def for_spec(cls, spec: Any, feature_sources: Sequence[str]) -> GroupMap:
        group_of = {f: g.group for f, g in spec.feature_groups.items()}
        labels = {g: (lab.en, lab.zh) for g, lab in spec.group_labels.items()}
        for g in spec.feature_groups.values():
            labels.setdefault(g.group, (g.en, g.zh))
        return cls(feature_sources, group_of, labels)

    def __call__(self, contrib_without_bias: np.ndarray) -> np.ndarray:
        return contrib_without_bias @ self.matrix


def delay_group_impacts(contrib: np.ndarray, gmap: GroupMap) -> np.ndarray:
    """(n, groups) hour impacts from P90 contributions (n, columns + 1)."""
    return gmap(contrib[:, :-1])


def risk_group_impacts(contrib: np.ndarray, gmap: GroupMap, temperature: float, high: int) -> tuple[
        np.ndarray, np.ndarray, np.ndarray]:
    """(impacts (n, groups) in probability of ``high``, p_high (n,), baseline p_high (n,))."""
    feats = contrib[:, :, :-1]  # (n, k, columns)
    bias = contrib[:, :, -1]  # (n, k)
    raw = feats.sum(axis=2) + bias
    p = softmax(raw / temperature)[:, high]
    p0 = softmax(bias / temperature)[:, high]
    d_cols = feats[:, high, :] - feats.mean(axis=1)  # push on the high logit relative to the mean logit
    d = gmap(d_cols)
    return d * _scale(d, p, p0, p * (1 - p) / temperature)[:, None], p, p0


def _scale(d: np.ndarray, p: np.ndarray, p0: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """Per-row factor from raw-score impacts to probability impacts.

    Proportional (impacts add up to p - p0) when the raw sum agrees in sign with the probability change and is not
    mostly cancelled out by opposing groups (|sum| >= 1/4 of the summed magnitudes; otherwise a tiny sum would
    inflate every impact); else the local slope of the probability, which keeps each sign and size honest.
    """
    total = d.sum(axis=1)
    mass = np.abs(d).sum(axis=1)
    ok = (np.abs(total) >= 0.25 * mass) & (np.abs(total) > 1e-9)
    scale = np.where(ok, (p - p0) / np.where(ok, total, 1.0), 0.0)
    return np.where(ok & (scale > 0), scale, slope)


def _fmt_value(name: str, v: object) -> tuple[str, str] | None:
    f = _FEATURE.get(name)
    if v is None:
        return None
    if f is None:
        text = f"{name} {v:.4g}" if isinstance(v, float) else f"{name} {v}"
        return text, text
    if f.kind == "categorical":
        return f"{f.en} {v}", f"{f.zh} {v}"
    x = float(v)  # type: ignore[arg-type]
    if x != x or x == 0:
        return None  # an absent flag or a zero count reads better as the group name alone
    if name.startswith(("f_", "is_", "us_west_coast", "lithium", "over_", "destination_us", "predeclared",
                        "after_policy", "battery_certified")):
        return (f.en, f.zh) if x else None
    if name.startswith("log_"):
        return None  # the raw value of the same group says it better
    if name == "days_since_policy_change":
        return None
    return f"{f.en} {x:,.0f}" if abs(x) >= 100 or x == int(x) else f"{f.en} {x:.2f}", \
        (f"{f.zh} {x:,.0f}" if abs(x) >= 100 or x == int(x) else f"{f.zh} {x:.2f}")


def phrase(group: str, impact: float, unit: str, row: dict | None, gmap: GroupMap) -> Reason:
    prob_en, prob_zh = gmap.probability_words
    g_en, g_zh = gmap.labels.get(group, (group, group))
    details = []
    members = gmap.members.get(group, [])
    if row is not None and len(members) == 1 and _FEATURE.get(members[0]) is not None \
            and _FEATURE[members[0]].kind == "categorical":
        v = row.get(members[0])  # "Carrier (COSCO)", not "Carrier (Carrier COSCO)"
        if v is not None:
            details.append((str(v), str(v)))
    elif row is not None:
        for name in members:
            d = _fmt_value(name, row.get(name))
            if d is not None:
                details.append(d)
    det_en = "; ".join(d[0] for d in details[:3])
    det_zh = "；".join(d[1] for d in details[:3])
    if row is not None and not details and members:
        # Every flag/count of the group is off: the reason is that the factor is absent.
        det_en, det_zh = "none", "无"
    if unit == "value":
        en_eff = f"{'raises' if impact > 0 else 'lowers'} the prediction by {abs(impact):.3g}"
        zh_eff = f"预测值{'提高' if impact > 0 else '降低'} {abs(impact):.3g}"
    elif unit == "hours":
        en_eff = f"{'raises' if impact > 0 else 'lowers'} the P90 delay by {abs(impact):.1f} h"
        zh_eff = f"P90 通关时长{'增加' if impact > 0 else '减少'} {abs(impact):.1f} 小时"
    else:
        en_eff = f"{'raises' if impact > 0 else 'lowers'} the {prob_en} by {abs(impact) * 100:.1f} points"
        zh_eff = f"{prob_zh}{'提高' if impact > 0 else '降低'} {abs(impact) * 100:.1f} 个百分点"
    en = f"{g_en} ({det_en}) {en_eff}" if det_en else f"{g_en} {en_eff}"
    zh = f"{g_zh}（{det_zh}）：{zh_eff}" if det_zh else f"{g_zh}：{zh_eff}"
    return Reason(feature=group, en=en, zh=zh, impact=round(float(impact), 4), unit=unit)  # type: ignore[arg-type]


def top_reasons(impacts: np.ndarray, unit: str, row: dict | None, gmap: GroupMap, *, top_k: int = 5,
                min_abs: float | None = None) -> list[Reason]:
    """Reasons for one row, sorted by |impact|; tiny impacts (below ``min_abs``) are left out as noise."""
    if min_abs is None:
        min_abs = 0.5 if unit == "hours" else 0.005
    order = np.argsort(-np.abs(impacts), kind="stable")
    out = []
    for j in order[:top_k]:
        if abs(impacts[j]) < min_abs:
            break
        out.append(phrase(gmap.groups[j], float(impacts[j]), unit, row, gmap))
    return out


def explain_tabular(model: Any, data: Any, *, top_k: int = 5) -> list[list[Reason]]:
    """Reasons for any spec-trained :class:`~models.tabular.TabularModel`, grouped by the spec's ``feature_groups``.

    Binary: impacts in (calibrated) probability of the positive class, scaled like the risk model's. Multiclass: the
    last class. Quantile/regression: the first booster's contributions in target units (``unit="value"``).
    """
    import pandas as pd

    spec = model.spec
    x = model.matrix(data)
    records = data.to_dict("records") if isinstance(data, pd.DataFrame) else list(data)
    gmap = GroupMap.for_spec(spec, model.preprocessor_.feature_sources)
    if spec.task == "multiclass":
        impacts, _, _ = risk_group_impacts(model.contributions(x), gmap, model.temperature_, len(spec.classes) - 1)
        unit = "probability"
    elif spec.task == "binary":
        c = model.contributions(x)
        raw = c.sum(axis=1)
        cal = model.calibrator_ if model.calibrator_ is not None else (lambda p: p)
        p = cal(1 / (1 + np.exp(-raw)))
        p0 = cal(1 / (1 + np.exp(-c[:, -1])))
        d = gmap(c[:, :-1])
        impacts, unit = d * _scale(d, p, p0, p * (1 - p))[:, None], "probability"
    else:
        impacts, unit = gmap(model.contributions(x)[:, :-1]), "value"
    min_abs = 1e-3 if unit == "value" else None
    return [top_reasons(impacts[i], unit, _raw_row(records[i], gmap), gmap, top_k=top_k, min_abs=min_abs)
            for i in range(len(records))]


def _raw_row(record: dict, gmap: GroupMap) -> dict:
    return {k: v for k, v in record.items() if isinstance(v, (str, int, float)) and not isinstance(v, bool)}
