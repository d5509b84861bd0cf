"""Estimators (suggester, delay, risk, advisories) and their MLflow wrappers."""

import data  # noqa: F401  (thread caps first)
