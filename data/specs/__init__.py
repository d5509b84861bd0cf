"""Dataset specs (YAML) for spec-driven training: the same pipeline runs on any table."""

from data.specs.schema import DatasetSpec, builtin_spec, load_spec, parse_spec

__all__ = ["DatasetSpec", "builtin_spec", "load_spec", "parse_spec"]
