"""Plots and tables for the risk/delay runs: calibration, feature importance, SHAP-style summary, markdown tables."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from training.plotting import pyplot, save_figure


def calibration_plot(p: np.ndarray, y: np.ndarray, path: Path, title: str, bins: int = 10) -> Path:
    """Reliability diagram: mean predicted probability vs observed frequency per equal-width bin."""
    plt = pyplot()
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    xs, ys, ns = [], [], []
    for b in range(bins):
        m = idx == b
        if m.any():
            xs.append(p[m].mean())
            ys.append(np.asarray(y)[m].mean())
            ns.append(int(m.sum()))
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1)
    ax.plot(xs, ys, "o-")
    for x, yv, n in zip(xs, ys, ns):
        ax.annotate(str(n), (x, yv), fontsize=6, xytext=(2, -8), textcoords="offset points")
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed frequency")
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


def importance_plot(names: Sequence[str], gains: np.ndarray, path: Path, title: str, top: int = 25) -> Path:
    plt = pyplot()
    order = np.argsort(gains)[::-1][:top][::-1]
    fig, ax = plt.subplots(figsize=(6, 0.25 * len(order) + 1))
    ax.barh([names[i] for i in order], gains[order])
    ax.set_xlabel("total gain")
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


def contribution_summary_plot(contrib: np.ndarray, x: np.ndarray, names: Sequence[str], path: Path, title: str,
                              top: int = 20) -> Path:
    """SHAP-style summary from ``pred_contrib``: one row per feature, points = rows, colour = feature value rank."""
    plt = pyplot()
    c = contrib[:, : len(names)]
    order = np.argsort(np.abs(c).mean(axis=0))[::-1][:top][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(order) + 1.2))
    rng = np.random.default_rng(0)
    for row, j in enumerate(order):
        v = x[:, j]
        finite = np.isfinite(v)
        colour = np.full(len(v), 0.5)
        if finite.sum() > 1:
            ranks = np.argsort(np.argsort(v[finite]))
            colour[finite] = ranks / max(1, finite.sum() - 1)
        ax.scatter(c[:, j], row + rng.uniform(-0.3, 0.3, len(v)), c=colour, cmap="coolwarm", s=3, alpha=0.5,
                   linewidths=0)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(range(len(order)), [names[j] for j in order], fontsize=7)
    ax.set_xlabel("contribution (raw score)")
    ax.set_title(title + " (colour: feature value, low→high)", fontsize=9)
    return save_figure(fig, path)


def markdown_table(rows: dict[str, dict[str, float]], metrics: Sequence[str], title: str) -> str:
    """Models as rows, metrics as columns."""
    head = "| model | " + " | ".join(metrics) + " |"
    sep = "|---|" + "---|" * len(metrics)
    lines = [f"### {title}", "", head, sep]
    for name, m in rows.items():
        cells = []
        for k in metrics:
            v: Any = m.get(k)
            cells.append("—" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.4f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
