"""The system of record, through SQLAlchemy: rulings, imports, reviewer decisions, API keys, alias history."""
