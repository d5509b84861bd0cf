"""The registered names of the served models: the one place they are spelled out.

Training registers versions under these names, serving loads their ``champion`` aliases, and every response names
them in ``model_versions``.
"""

from __future__ import annotations

HS_SUGGESTER = "clearance-hs-suggester"
DELAY = "clearance-delay"
RISK = "clearance-risk"

#: Every model the service serves, in the order it loads them.
SERVED_MODELS: tuple[str, ...] = (HS_SUGGESTER, DELAY, RISK)
