"""Plots of an HS evaluation report: reliability diagram and accuracy by chapter (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from models.suggester.calibration import reliability_table
from training.plotting import pyplot, save_figure


def reliability_diagram(report: dict[str, Any], path: Path) -> Path:
    plt = pyplot()
    rel = report.get("reliability", {})
    table = reliability_table(np.array(rel.get("confidence", [])), np.array(rel.get("correct", [])))
    fig, ax = plt.subplots(figsize=(5, 5))
    xs = [r["confidence"] for r in table if r["n"]]
    ys = [r["accuracy"] for r in table if r["n"]]
    ns = [r["n"] for r in table if r["n"]]
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.plot(xs, ys, "o-", label="HS6 top-1")
    for x, y, n in zip(xs, ys, ns):
        ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(f"Reliability (ECE {report.get('ece', float('nan')):.3f})")
    ax.legend(loc="upper left")
    return save_figure(fig, path)


def accuracy_by_chapter(report: dict[str, Any], path: Path, max_chapters: int = 40) -> Path:
    plt = pyplot()
    chapters = sorted(report.get("by_chapter", {}).items(), key=lambda kv: -kv[1]["n"])[:max_chapters]
    chapters.sort(key=lambda kv: kv[0])
    fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(chapters) + 2), 4))
    names = [c for c, _ in chapters]
    x = np.arange(len(names))
    ax.bar(x - 0.2, [v["hs4_top1"] for _, v in chapters], width=0.4, label="HS4 top-1")
    ax.bar(x + 0.2, [v["hs6_top1"] for _, v in chapters], width=0.4, label="HS6 top-1")
    ax.set_xticks(x, names, rotation=90, fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_xlabel("chapter (gold)")
    ax.set_ylabel("accuracy")
    ax.legend(loc="lower right")
    return save_figure(fig, path)


def write_plots(report: dict[str, Any], directory: Path) -> list[Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return [reliability_diagram(report, directory / "reliability.png"),
            accuracy_by_chapter(report, directory / "accuracy_by_chapter.png")]
