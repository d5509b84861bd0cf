"""Declarative advisory rules (YAML) and their validated schema."""
