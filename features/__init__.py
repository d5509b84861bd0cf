"""Turns records into what models consume: text normalisation, checks and findings, shipment feature rows.

The only place that does so: training and serving both call it, so the two can never disagree.
"""

import data  # noqa: F401  (thread caps first)
