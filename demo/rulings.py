"""Demo ruling library: seeded synthetic rulings that look like a 9710 exporter's classification history.

What it makes
    ``generate_demo_rulings(n=3600, seed=7)`` returns ``n`` :class:`~data.rulings.schema.Ruling` objects over the
    ~180 HS6 subheadings of ``demo/catalogues/rulings.yaml``: the goods Chinese factories export B2B under mode 9710 —
    furniture (9401/9403/9404), lighting (9405, 8539, torches 8513), small appliances (8509, 8516, 8510, fans 8414),
    lithium batteries and battery-powered goods (8507.60 batteries and power banks, 8506 primary cells, e-scooters
    8711.60), garments and home textiles (61xx/62xx/63xx), toys and games (95xx), kitchenware (7323, 7615, 3924,
    6911/6912, 8211/8215, 9617 vacuum flasks), tools (8203-8207, 8467) and phone accessories (8517.62/8517.79,
    8518.30, 8544.42 cables, 8504.40 chargers, 3926/4202 cases), plus small consumer goods common in the same trade.

How a ruling is built
    Each HS6 has product nouns (zh/en pairs), a family (furniture, lighting, appliance, battery, garment, …) and a
    material pool that *decides* the code where the tariff does (metal vs wooden furniture, cotton vs synthetic and
    knitted vs woven garments, stainless steel vs aluminium vs plastic kitchenware). The family supplies invented
    brands, model numbers ("XR-2031"), uses, attributes, sizes and the declaration-element keys (申报要素: 品名, 用途,
    材质, 品牌, 型号, 规格 …). A title takes a random subset of those slots in a language-typical order; about half the
    titles are Chinese, a third English and the rest mixed ("Nordic 实木书架 solid wood bookshelf"). A quarter get
    spelling noise: dropped, swapped or doubled letters, FULL-WIDTH characters, random case, marketing fillers
    ("2024新款", "厂家直销"). Neighbouring codes share nouns on purpose (a "bookshelf" sits under 9403.20 when it is
    steel and under 9403.60 when it is wood), so a suggester has to read the material, not just the noun.

Codes, sources, dates
    Sources mix customs rulings (mostly HS6/8 digits), pre-classifications (8/10) and declarations (mostly China's
    10-digit codes: the national 8-digit line, chosen per product where the tariff splits the HS6, plus "00").
    Ruling dates spread over 2022-2025; ``created_at`` follows the ruling date, so the output is fully reproducible
    for a seed. Ids are content hashes and unique within one output.

Every HS6 in the catalogue is checked against the default nomenclature (HS2022) when the catalogue is first used.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path

from data.errors import InvalidInputError, field_error
from data.rulings.schema import Ruling, RulingSource
from demo.catalogue import CodeSpec, Family, Fillers, RulingCatalogue, ruling_catalogue

# ---------------------------------------------------------------------------------------------------------------------
# How a ruling is drawn (the vocabularies it is drawn from are in demo/catalogues/rulings.yaml)

_SOURCE_WEIGHTS = ((RulingSource.customs_ruling, 0.3), (RulingSource.pre_classification, 0.2),
                   (RulingSource.declaration, 0.5))
_CODE_LENGTHS = {RulingSource.customs_ruling: ((6, 0.6), (8, 0.4)),
                 RulingSource.pre_classification: ((8, 0.5), (10, 0.5)),
                 RulingSource.declaration: ((10, 0.7), (8, 0.3))}
_FIRST_DAY = date(2022, 1, 1)
_DAYS = (date(2025, 12, 31) - _FIRST_DAY).days


@lru_cache(maxsize=1)
def checked_catalog() -> RulingCatalogue:
    """The catalogue (``demo/catalogues/rulings.yaml``), after checking every HS6 against the default nomenclature.

    The loader already checks the structure (families and material pools resolve, no HS6 twice); the nomenclature is
    a separate, slower check, so it runs once, when the first library is generated.
    """
    from data.nomenclature import Nomenclature

    catalogue = ruling_catalogue()
    nom = Nomenclature.default()
    unknown = [spec.hs6 for spec in catalogue.codes if nom.describe(spec.hs6) is None]
    if unknown:
        raise InvalidInputError(f"demo catalogue HS6 codes not in {nom.version}: {unknown}",
                                details=[field_error(f"rulings.yaml.codes ({code})", f"not in {nom.version}")
                                         for code in unknown])
    return catalogue


# ---------------------------------------------------------------------------------------------------------------------
# Text assembly


def _size(rng: random.Random, family: Family, lang: str, fields: dict[str, tuple[int, int]]) -> str:
    formats = [f for f in family.sizes if f.isascii()] if lang == "en" else list(family.sizes)
    fmt = rng.choice(formats or family.sizes)
    values = {k: rng.randint(*bounds) for k, bounds in fields.items()}
    values["w"] = rng.choice((5, 9, 12, 18, 20, 24, 36, 45, 60, 100, 300, 800, 1200, 1500, 2000))
    values["mah"] = rng.choice((1200, 2000, 2600, 3000, 5000, 10000, 20000, 30000))
    values["ml"] = rng.choice((300, 350, 400, 500, 600, 750, 1000))
    return fmt.format(**values)


def _model(rng: random.Random, family: Family) -> str:
    prefix = rng.choice(family.model_prefixes)
    number = rng.randint(100, 9999)
    style = rng.random()
    if style < 0.5:
        return f"{prefix}-{number}"
    if style < 0.8:
        return f"{prefix}{number}{rng.choice('ABCDEFGHKLMPRSTX')}"
    return f"{prefix}-{number}-{rng.choice(('PRO', 'MAX', 'S', 'Plus', 'V2'))}"


def _typo(rng: random.Random, text: str) -> str:
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha() and w.isascii()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    w = words[i]
    j = rng.randrange(1, len(w) - 1)
    op = rng.random()
    if op < 0.4:
        w = w[:j] + w[j + 1:]  # dropped letter
    elif op < 0.75:
        w = w[:j - 1] + w[j] + w[j - 1] + w[j + 1:]  # swapped letters
    else:
        w = w[:j] + w[j] + w[j:]  # doubled letter
    words[i] = w
    return " ".join(words)


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in text)


def _noise(rng: random.Random, title: str, lang: str, fillers: Fillers) -> str:
    op = rng.random()
    if op < 0.3 and lang != "zh":
        return _typo(rng, title)
    if op < 0.45:
        parts = title.split(" ")
        k = rng.randrange(len(parts))
        parts[k] = _full_width(parts[k])
        return " ".join(parts)
    if op < 0.6 and lang != "zh":
        return rng.choice((str.upper, str.lower, str.title))(title)
    if op < 0.85:
        filler = rng.choice(fillers.zh if lang != "en" else fillers.en)
        return f"{filler} {title}" if rng.random() < 0.6 else f"【{filler}】{title}"
    return title.replace(" ", rng.choice(("  ", " / ", "-", "，" if lang != "en" else ", ")), 2)


@dataclass
class _Slots:
    noun: tuple[str, str, str]
    material: tuple[str, str] | None
    use: tuple[str, str]
    attrs: list[tuple[str, str]]
    brand: str
    model: str
    size: str


def _title(rng: random.Random, s: _Slots, lang: str) -> str:
    zh_noun, en_noun, _ = s.noun
    mat_zh, mat_en = s.material if s.material else ("", "")
    show_mat = s.material is not None and rng.random() < 0.8
    brand = s.brand if rng.random() < 0.55 else ""
    model = s.model if rng.random() < 0.5 else ""
    size = s.size if rng.random() < 0.6 else ""
    if lang == "zh":
        noun = zh_noun if not show_mat or mat_zh in zh_noun else f"{mat_zh}{zh_noun}"
        attrs = "".join(a[0] for a in s.attrs)
        use = s.use[0] if rng.random() < 0.35 else ""
        parts = [brand, use + attrs, noun, model, size]
    elif lang == "en":
        noun = en_noun if not show_mat or mat_en.lower().split()[-1] in en_noun.lower() else f"{mat_en} {en_noun}"
        attrs = " ".join(a[1] for a in s.attrs)
        use = f"for {s.use[1]}" if rng.random() < 0.3 else ""
        brand = brand if brand.isascii() else ""
        parts = [brand, attrs, noun, model, size, use]
    else:  # mixed: Chinese title with the English noun or English modifiers around a Chinese noun
        noun_zh = zh_noun if not show_mat or mat_zh in zh_noun else f"{mat_zh}{zh_noun}"
        if rng.random() < 0.5:
            parts = [brand, noun_zh, en_noun, model, size]
        else:
            parts = [" ".join(a[1] for a in s.attrs) or s.use[1], noun_zh, model, en_noun if rng.random() < 0.5 else size]
    return " ".join(p for p in parts if p)


def _description(rng: random.Random, s: _Slots, lang: str) -> str:
    if rng.random() < 0.35:
        return ""
    zh_noun, en_noun, _ = s.noun
    if lang == "en":
        bits = [f"{en_noun.capitalize()} for {s.use[1]} use"]
        if s.material:
            bits.append(f"made of {s.material[1]}")
        bits += [a[1] for a in s.attrs]
        if rng.random() < 0.5:
            bits.append(f"size {s.size}")
        return ", ".join(bits) + "."
    bits = [f"{s.use[0]}{zh_noun}"]
    if s.material:
        bits.append(f"材质为{s.material[0]}")
    bits += [a[0] for a in s.attrs]
    if rng.random() < 0.5:
        bits.append(f"规格{s.size}")
    text = "，".join(bits) + "。"
    if lang == "mixed":
        text += f" {en_noun}."
    return text


def _elements(rng: random.Random, s: _Slots, family_name: str, family: Family, lang: str,
              element_values: dict[str, tuple[tuple[str, str], ...]]) -> dict[str, str]:
    zh = lang != "en"
    out: dict[str, str] = {}
    for key in family.elements:
        if key == "品名":
            value = s.noun[0] if zh else s.noun[1]
        elif key in ("用途",):
            value = s.use[0] if zh else s.use[1]
        elif key in ("材质", "成分含量"):
            if not s.material:
                continue
            value = s.material[0] if zh else s.material[1]
            if key == "成分含量":
                value = f"{value}100%" if zh else f"100% {value}"
        elif key == "品牌":
            value = s.brand if rng.random() < 0.8 else ("无品牌" if zh else "no brand")
        elif key in ("型号", "货号"):
            value = s.model
        elif key == "规格":
            value = s.size
        elif key in ("功率", "电机功率"):
            value = f"{rng.choice((5, 9, 12, 20, 36, 60, 250, 350, 500, 800, 1200, 1500, 2000))}W"
        elif key == "电压":
            value = rng.choice(("220V", "110-240V", "5V", "3.7V", "12V", "36V", "48V"))
        elif key == "容量":
            value = rng.choice(("2000mAh", "5000mAh", "10000mAh", "20000mAh", "10Ah", "100Wh"))
        elif key == "织造方法":
            knit = family_name == "garment_knit"
            value = ("针织" if knit else "梭织") if zh else ("knitted" if knit else "woven")
        else:
            choices = element_values.get(key)
            if not choices:
                continue
            pick = rng.choice(choices)
            value = pick[0] if zh else pick[1]
        if rng.random() < 0.9:  # real declarations skip elements now and then
            out[key] = value
    return out


def _allocate(rng: random.Random, n: int, k: int) -> list[int]:
    """Rulings per code: skewed like real libraries (a few codes carry many rulings), at least 6 each when n allows."""
    weights = [rng.lognormvariate(0.0, 0.6) for _ in range(k)]
    floor = 6 if n >= 6 * k else 0
    rest = n - floor * k
    total = sum(weights)
    counts = [floor + int(rest * w / total) for w in weights]
    short = n - sum(counts)
    order = sorted(range(k), key=lambda i: -weights[i])
    for i in range(short):
        counts[order[i % k]] += 1
    return counts


def _one(rng: random.Random, spec: CodeSpec, catalogue: RulingCatalogue) -> Ruling:
    family = catalogue.families[spec.family]
    noun = rng.choice(spec.nouns)
    pool = spec.material or family.material
    materials = catalogue.materials[pool] if pool else ()
    material = rng.choice(materials) if materials else None
    lang = rng.choices(("zh", "en", "mixed"), weights=(0.5, 0.35, 0.15))[0]
    slots = _Slots(noun=noun, material=material, use=rng.choice(family.uses),
                   attrs=rng.sample(family.attrs, k=rng.choice((0, 1, 1, 2))), brand=rng.choice(family.brands),
                   model=_model(rng, family), size=_size(rng, family, lang, catalogue.size_fields))
    title = _title(rng, slots, lang)
    if rng.random() < 0.25:
        title = _noise(rng, title, lang, catalogue.fillers)
    source = rng.choices([s for s, _ in _SOURCE_WEIGHTS], weights=[w for _, w in _SOURCE_WEIGHTS])[0]
    lengths = _CODE_LENGTHS[source]
    length = rng.choices([n for n, _ in lengths], weights=[w for _, w in lengths])[0]
    code8 = spec.hs6 + noun[2]
    code = {6: spec.hs6, 8: code8, 10: code8 + "00"}[length]
    p_elements = 0.2 if source is RulingSource.customs_ruling else 0.6
    elements = (_elements(rng, slots, spec.family, family, lang, catalogue.element_values)
                if rng.random() < p_elements else {})
    ruling_date = _FIRST_DAY + timedelta(days=rng.randrange(_DAYS + 1))
    created = datetime.combine(ruling_date, time(0), tzinfo=UTC) + timedelta(
        days=rng.randint(0, 20), seconds=rng.randrange(86_400))
    notes = ""
    if source is RulingSource.customs_ruling and rng.random() < 0.3:
        notes = rng.choice(("依据归类总规则一及六归类", "GRI 1 and 6", "按材质归类", "classified by material",
                            "按功能归类", "classified by principal function"))
    return Ruling(product_name=title, description=_description(rng, slots, lang), declared_elements=elements,
                  hs_code=code, source=source, ruling_date=ruling_date, notes=notes, created_at=created)


def generate_demo_rulings(n: int = 3600, seed: int = 7) -> list[Ruling]:
    """``n`` reproducible demo rulings (see the module docstring); unique ids, shuffled order."""
    if n < 0:
        raise ValueError("n must be >= 0")
    catalogue = checked_catalog()
    rng = random.Random(seed)
    specs = list(catalogue.codes)
    if n >= len(specs):
        plan = [spec for spec, count in zip(specs, _allocate(rng, n, len(specs))) for _ in range(count)]
    else:
        plan = rng.sample(specs, n)
    rulings: list[Ruling] = []
    seen: set[str] = set()
    for spec in plan:
        for _attempt in range(50):
            ruling = _one(rng, spec, catalogue)
            if ruling.ruling_id not in seen:
                break
        seen.add(ruling.ruling_id)
        rulings.append(ruling)
    rng.shuffle(rulings)
    return rulings


def ruling_to_json(ruling: Ruling) -> dict:
    """The library's export shape (the readers' default column mapping reads it back unchanged)."""
    return ruling.model_dump(mode="json")


def write_demo_rulings(path: str | Path, n: int = 3600, seed: int = 7) -> Path:
    """Write ``generate_demo_rulings(n, seed)`` to ``path``: CSV for a ``.csv`` suffix, JSON Lines otherwise."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rulings = generate_demo_rulings(n, seed)
    if path.suffix.lower() == ".csv":
        import csv

        fields = list(Ruling.model_fields)
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            for r in rulings:
                row = ruling_to_json(r)
                row["declared_elements"] = json.dumps(row["declared_elements"], ensure_ascii=False) \
                    if row["declared_elements"] else ""
                writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    else:
        with path.open("w", encoding="utf-8") as fh:
            for r in rulings:
                fh.write(json.dumps(ruling_to_json(r), ensure_ascii=False) + "\n")
    return path
