"""The HS suggester's training: build (``build``, with ``tune``), evaluate (``evaluate``, ``baseline``), log (``log``).

The names callers use are re-exported here, so ``from training.hs import build_suggester`` keeps working whichever
module a function lives in.
"""

from training.hs.baseline import BaselineClassifier
from training.hs.build import build_suggester, grouped_split
from training.hs.evaluate import (
    EvaluationRun,
    evaluate_baseline,
    evaluate_files,
    evaluate_suggester,
    flat_metrics,
    public_report,
    score_answers,
    topk_table,
)
from training.hs.log import TrainResult, log_evaluation, train_and_log

__all__ = [
    "BaselineClassifier", "EvaluationRun", "TrainResult", "build_suggester", "evaluate_baseline", "evaluate_files",
    "evaluate_suggester", "flat_metrics", "grouped_split", "log_evaluation", "public_report", "score_answers",
    "topk_table", "train_and_log",
]
