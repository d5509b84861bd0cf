"""Checks of a declaration against the tariff facts of its national lines (issue 11).

Run by :func:`features.checks.run_checks` after the code checks, with the same nomenclature: only a nomenclature
loaded from a store with imported facts (``Nomenclature.tariff_facts``) has any, so without them nothing is found and
nothing is guessed. For each declaration line whose code has facts valid on the declaration date:

* supervision conditions (and export inspection categories) that need a document the line does not present
  (``declaration.lines.N.documents``) → ``SUPERVISION_DOCUMENT_MISSING``; condition 8 → ``EXPORT_PROHIBITED``;
* an exporter's rebate ledger rate (``declaration.lines.N.ledger_rebate_rate``) that differs from the tariff's →
  ``REBATE_LEDGER_MISMATCH``; an unknown tariff rebate is said so (``REBATE_UNKNOWN``), never read as 0 %;
* facts that exist but are not valid on the declaration date → ``TARIFF_LINE_NOT_IN_FORCE``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from data.shipments.schema import Shipment
from data.tariff import SUPERVISION_CODES, TariffFacts

#: Rates are compared to a hundredth of a point: ledgers write 13, 13.0 or 13.00.
REBATE_TOLERANCE = 0.005


def line_facts(nomenclature: Any, code: str | None) -> TariffFacts | None:
    """Facts of the declared line itself, or of its 8-digit line when only that one was imported."""
    lookup = getattr(nomenclature, "tariff_facts", None)
    if not code or lookup is None or len(code) < 8:
        return None
    return lookup(code) or (lookup(code[:8]) if len(code) == 10 else None)


def _presented(documents: list[str]) -> set[str]:
    return {d.split(":", 1)[0] for d in documents}


def tariff_checks(s: Shipment, nomenclature: Any, out: list, finding: Callable[..., Any]) -> None:
    if not getattr(nomenclature, "facts", None):
        return
    day = s.declaration.declared_at.date()
    for i, ln in enumerate(s.declaration.lines):
        facts = line_facts(nomenclature, ln.hs_code)
        if facts is None:
            continue
        base = f"declaration.lines.{i}"
        kw = {"line": i + 1, "hs": ln.hs_code}
        if not facts.valid_on(day):
            validity = f"{facts.valid_from or '…'} – {facts.valid_to or '…'}"
            out.append(finding("TARIFF_LINE_NOT_IN_FORCE", [f"{base}.hs_code", "declaration.declared_at"],
                               validity=validity, day=day.isoformat(), **kw))
            continue
        if "8" in (facts.supervision or ""):
            out.append(finding("EXPORT_PROHIBITED", [f"{base}.hs_code"], **kw))
        missing = [c for c in facts.export_documents() if c != "8" and c not in _presented(ln.documents)]
        if missing:
            conditions = facts.supervision or "-"
            if facts.inspection:
                conditions += f" / {facts.inspection}"
            out.append(finding(
                "SUPERVISION_DOCUMENT_MISSING", [f"{base}.hs_code", f"{base}.documents"], conditions=conditions,
                documents=", ".join(f"{c} ({SUPERVISION_CODES[c].en})" for c in missing),
                documents_zh="、".join(f"{c}（{SUPERVISION_CODES[c].zh}）" for c in missing), **kw))
        ledger = ln.ledger_rebate_rate
        if ledger is None:
            continue
        if facts.rebate_rate is None:
            out.append(finding("REBATE_UNKNOWN", [f"{base}.ledger_rebate_rate"], ledger=f"{ledger:g}", **kw))
        elif abs(facts.rebate_rate - ledger) > REBATE_TOLERANCE:
            out.append(finding("REBATE_LEDGER_MISMATCH", [f"{base}.ledger_rebate_rate", f"{base}.hs_code"],
                               ledger=f"{ledger:g}", tariff=f"{facts.rebate_rate:g}",
                               version=facts.version or getattr(nomenclature, "version", "tariff"), **kw))
