"""MLflow pyfunc wrapper shared by the tabular, delay and risk models (contract 8: ``.native`` after load).

The native object is pickled whole (preprocessor levels, encodings, boosters, calibration), so a loaded model maps
categories exactly as the trained one did -- no reliance on pandas category codes, which differ between the frame a
model was trained on and the frame it is asked to score.
"""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd


class NativePyfunc(mlflow.pyfunc.PythonModel):
    """Pyfunc around any object with ``predict_frame(df) -> DataFrame``; the object is ``.native`` once loaded."""

    native: Any = None

    def load_context(self, context: Any) -> None:
        with open(context.artifacts["native"], "rb") as fh:
            self.native = pickle.load(fh)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        if not isinstance(model_input, pd.DataFrame):
            model_input = pd.DataFrame(model_input)
        return self.native.predict_frame(model_input)


class TabularPredictor:
    """Native object for a spec-trained :class:`~models.tabular.TabularModel`: frames in, named columns out."""

    def __init__(self, model: Any):
        self.model = model

    @property
    def spec(self) -> Any:
        return self.model.spec

    def predict_frame(self, df: pd.DataFrame) -> pd.DataFrame:
        spec = self.model.spec
        x = self.model.matrix(df)
        if spec.task == "binary":
            return pd.DataFrame({"probability": self.model.proba_from_matrix(x)}, index=df.index)
        if spec.task == "multiclass":
            return pd.DataFrame(self.model.proba_from_matrix(x), columns=list(spec.classes or []), index=df.index)
        q = self.model.quantiles_from_matrix(x)
        names = [f"p{int(round(v * 100))}" for v in (spec.quantiles or [])] or ["prediction"]
        return pd.DataFrame(q, columns=names, index=df.index)


def log_native(native: Any, name: str, input_example: pd.DataFrame) -> Any:
    """Log ``native`` as a pyfunc model under the active run, with signature and input example; returns ModelInfo."""
    from mlflow.models import infer_signature

    example = input_example.head(5).copy()
    # Signatures cannot describe pandas categoricals or mixed objects; the model takes plain values anyway.
    for c in example.columns:
        if isinstance(example[c].dtype, pd.CategoricalDtype) or example[c].dtype == object:
            example[c] = example[c].astype(object).where(example[c].notna(), None).map(
                lambda v: None if v is None else str(v))
    signature = infer_signature(example, native.predict_frame(example))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "native.pkl"
        with open(path, "wb") as fh:
            pickle.dump(native, fh, protocol=pickle.HIGHEST_PROTOCOL)
        # pip_requirements=[] as for the suggester: the models are loaded in clearance's own environment
        # (requirements.txt), and inferring requirements costs MLflow a model load in a subprocess (~4 s a model).
        return mlflow.pyfunc.log_model(name=name, python_model=NativePyfunc(), artifacts={"native": str(path)},
                                       signature=signature, input_example=example, pip_requirements=[])
