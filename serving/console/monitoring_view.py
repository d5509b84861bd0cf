"""What the Models page shows of each model: the few metrics that matter, and the monitoring panel's charts.

The monitoring figures come from ``serving.models_api.monitoring`` (the same report as ``GET /v1/models/monitoring``);
this module only turns them into labelled values and SVG charts (``serving.console.charts``) in the page language.
"""

from __future__ import annotations

from typing import Any

from models.names import DELAY, HS_SUGGESTER, RISK
from serving.console import charts

#: Per served model, the metrics a reader should see first: (metric key, en, zh, percent).
KEY_METRICS: dict[str, tuple[tuple[str, str, str, bool], ...]] = {
    HS_SUGGESTER: (("hs6_top1", "HS6 top-1 accuracy", "HS6 首选准确率", True),
                   ("hs6_top5", "HS6 top-5 accuracy", "HS6 前五准确率", True),
                   ("hs4_top1", "HS4 top-1 accuracy", "HS4 首选准确率", True),
                   ("ece", "Calibration error (ECE)", "校准误差（ECE）", False)),
    DELAY: (("test_pinball_p90", "P90 pinball loss (h, test)", "P90 分位损失（小时，测试期）", False),
            ("test_coverage_p90", "P90 coverage (test)", "P90 覆盖率（测试期）", True),
            ("test_mae", "P50 mean absolute error (h)", "P50 平均绝对误差（小时）", False)),
    RISK: (("test_macro_f1", "Macro F1 (test)", "宏平均 F1（测试期）", False),
           ("test_auc_ovr", "AUC (one-vs-rest)", "AUC（一对多）", False),
           ("test_precision_at_10pct", "Precision in the top 10 %", "前 10% 命中率", True),
           ("test_ece_high", "Calibration error of P(high)", "高风险概率校准误差", False)),
}
DRIFT_BARS = 12


def key_metrics(name: str, metrics: dict[str, float], lang: str) -> list[dict[str, Any]]:
    """The model's headline metrics that exist in ``metrics``; the first few raw ones when none is known."""
    found = [{"key": k, "label": zh if lang == "zh" else en, "value": metrics[k], "percent": pct}
             for k, en, zh, pct in KEY_METRICS.get(name, ()) if isinstance(metrics.get(k), (int, float))]
    if found:
        return found
    return [{"key": k, "label": k, "value": v, "percent": False}
            for k, v in list(metrics.items())[:4] if isinstance(v, (int, float))]


def _band(entry: dict[str, Any], figure: str) -> tuple[float, float] | None:
    r = entry["training_ranges"].get(figure)
    return (r[0], r[1]) if r else None


def monitoring_view(entry: dict[str, Any], t) -> dict[str, Any]:
    """Charts and statements of one model's monitoring entry."""
    weeks = entry["weeks"]
    chart_list = []
    for figure in entry["figures"]:
        label = t(f"mon_{figure}", rate=round(entry["review_rate"] * 100)) if figure == "precision_at_review_rate" \
            else t(f"mon_{figure}")
        points = [(w["week"], w[figure] if w.get("judged") else None) for w in weeks]
        chart_list.append({"figure": figure, "label": label, "svg": charts.line_chart(
            points, title=label, percent=figure.startswith(("coverage", "precision")), band=_band(entry, figure),
            testid="monitoring-chart")})
    if entry.get("reliability"):
        chart_list.append({"figure": "reliability", "label": t("mon_reliability"), "svg": charts.reliability_chart(
            entry["reliability"], title=t("mon_reliability"), testid="monitoring-chart")})
    drift_chart = None
    if entry["drift"]:
        top = entry["drift"][:DRIFT_BARS]
        drift_chart = charts.bar_chart([(d["feature"], d["psi"]) for d in top], title=t("mon_drift"),
                                       threshold=entry["drift_threshold"], testid="monitoring-chart")
    return {"charts": chart_list, "drift_chart": drift_chart,
            "drifted": [d for d in entry["drift"] if d["drifted"]]}
