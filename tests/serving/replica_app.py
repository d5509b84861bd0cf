"""One service replica over fake models, for the two-replica test: ``uvicorn tests.serving.replica_app:create
--factory``. Settings come from the environment (``CLEARANCE_*``), as in a deployment; only the models are fakes
(no encoder to load), with a suggester that takes reviewer rulings like the real one so a reload can replay them.
"""

from __future__ import annotations


class _GrowingSuggester:
    """The fake suggester plus the overlay calls the feedback path and the replay use (``add_rulings``)."""

    def __init__(self, inner):
        self._inner = inner
        self._overlay: list = []

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def add_rulings(self, rulings) -> None:
        self._overlay = [*self._overlay, *rulings]  # copy-on-write, as the real overlay

    def overlay_rulings(self) -> list:
        return list(self._overlay)


def _compose(natives):
    from tests.serving.fakes import compose_fakes

    suggester, scorer = compose_fakes(natives)
    return _GrowingSuggester(suggester), scorer


def create():
    from data.settings import Settings
    from serving.app import create_app
    from serving.holder import ModelHolder
    from serving.served import ServedLoader

    settings = Settings()
    return create_app(settings, holder=ModelHolder(settings, loader=ServedLoader(settings, compose=_compose)))
