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

from typing import Literal, Sequence

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
    unit: Literal["hours", "probability"]


class GroupMap:
    """Sums matrix-column contributions into business groups (one matrix product per batch)."""

    def __init__(self, feature_sources: Sequence[str]):
        groups: list[str] = []
        for src in feature_sources:
            f = _FEATURE.get(src)
            g = f.group if f is not None else src
            if g not in groups:
                groups.append(g)
        self.groups = groups
        self.matrix = np.zeros((len(feature_sources), len(groups)))
        for i, src in enumerate(feature_sources):
            f = _FEATURE.get(src)
            self.matrix[i, groups.index(f.group if f is not None else src)] = 1.0
        self.members = {g: [s for s in feature_sources if (_FEATURE[s].group if s in _FEATURE else s) == g]
                        for g in groups}

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
    total = d.sum(axis=1)
    delta = p - p0
    scale = np.where(np.abs(total) > 1e-9, delta / np.where(np.abs(total) > 1e-9, total, 1.0), 0.0)
    slope = p * (1 - p) / temperature
    use_slope = (scale <= 0) | (np.abs(total) < 1e-6)
    scale = np.where(use_slope, slope, scale)
    return d * scale[:, None], p, p0


def _fmt_value(name: str, v: object) -> tuple[str, str] | None:
    f = _FEATURE.get(name)
    if f is None or v is None:
        return None
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
    g_en, g_zh = GROUPS.get(group, (group, group))
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
    if unit == "hours":
        en_eff = f"{'raises' if impact > 0 else 'lowers'} the P90 delay by {abs(impact):.1f} h"
        zh_eff = f"P90 通关时长{'增加' if impact > 0 else '减少'} {abs(impact):.1f} 小时"
    else:
        en_eff = f"{'raises' if impact > 0 else 'lowers'} the high-risk probability by {abs(impact) * 100:.1f} points"
        zh_eff = f"高风险概率{'提高' if impact > 0 else '降低'} {abs(impact) * 100:.1f} 个百分点"
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
