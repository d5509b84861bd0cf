"""The reliability suite (bench/reliability.py) in its smallest size: every phase runs against a real server process
and every target is 0. The full size runs in `make bench` (figures in bench/results/reliability.json)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_reliability_suite_meets_its_targets_in_small(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_reliability", ROOT / "bench" / "reliability.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.run(size="tiny", out=None, workdir=tmp_path)
    assert result["fuzz_requests"] > 0 and result["bad_inputs_tried"] > 50
    assert result["kill9_acknowledged"] > 0 and result["swap_requests"] > 0 and result["shutdown_in_flight"] > 0
    assert result["auth_failures_before_429"] == 20  # the default per-address limit
    assert {k: result[k] for k in bench.TARGETS} == dict.fromkeys(bench.TARGETS, 0)
