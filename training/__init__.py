"""Pipelines that build, evaluate, register and promote the models."""

import data  # noqa: F401  (thread caps first)
