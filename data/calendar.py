"""Weeks and months as the customs team counts them: calendar periods in China time (UTC+8), vectorised.

The dashboard and model monitoring group instants (epoch seconds) by these keys, so a Monday-morning declaration in
Shanghai belongs to that week even though it is still Sunday in UTC.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from data.shipments.reference import CHINA_TZ

LOCAL_OFFSET_S = int(CHINA_TZ.utcoffset(None).total_seconds())


def week_start_days(seconds: np.ndarray) -> np.ndarray:
    """The Monday (days since 1970-01-01, China time) of each instant's ISO week; 1970-01-01 was a Thursday."""
    days = np.floor((np.asarray(seconds, float) + LOCAL_OFFSET_S) / 86400.0).astype(np.int64)
    return days - (days + 3) % 7


def week_label(monday_days: int) -> str:
    year, week, _ = (date(1970, 1, 1) + timedelta(days=int(monday_days))).isocalendar()
    return f"{year}-W{week:02d}"


def month_index(seconds: np.ndarray) -> np.ndarray:
    """Months since 1970-01 (China time) of each instant."""
    local = (np.asarray(seconds, float) + LOCAL_OFFSET_S).astype("int64").astype("datetime64[s]")
    return local.astype("datetime64[M]").astype(np.int64)


def month_label(index: int) -> str:
    return f"{1970 + int(index) // 12}-{int(index) % 12 + 1:02d}"
