"""Notebooks run top to bottom (nbclient, the venv's ipykernel) and produce sane numbers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

pytestmark = pytest.mark.slow


def _run(path: Path) -> list[str]:
    import nbformat
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute(env={**os.environ, "MPLBACKEND": "Agg"})
    except NoSuchKernel:  # pragma: no cover - a setup problem, not a notebook problem
        pytest.fail("no 'python3' kernel: run `python -m ipykernel install --sys-prefix --name python3`")
    return [out.get("text", "") for cell in nb.cells if cell.cell_type == "code"
            for out in cell.get("outputs", []) if out.get("output_type") == "stream"]


def test_every_notebook_is_listed_here():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == ["evaluate_models.ipynb"]


def test_evaluate_models_notebook_runs_and_reports_both_models():
    streams = _run(NOTEBOOKS / "evaluate_models.ipynb")
    summary = json.loads(next(line for text in reversed(streams) for line in reversed(text.splitlines())
                              if line.startswith("{")))
    hs = summary["suggester"]
    assert hs["n"] >= 100
    # Small generated data, so loose bounds: they catch a broken pipeline, not a slightly weaker model.
    assert 0.3 < hs["hs6_top1"] <= hs["hs6_top5"] <= 1.0
    assert hs["confident_accuracy"] >= hs["hs6_top1"]  # "needs review" must gather the errors
    assert 0.0 <= hs["ece"] < 0.3
    risk = summary["risk"]
    assert risk["n_test"] >= 1000
    assert 0.5 < risk["roc_auc_high"] <= 1.0 and 0.0 < risk["macro_f1"] <= 1.0
    assert set(risk["errors_by_reason"]) and all(0.0 <= v <= 1.0 for v in risk["errors_by_reason"].values())
