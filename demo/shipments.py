"""Seeded synthetic 9710 shipment history: three documents per shipment plus clearance labels.

The causal model is vectorised numpy over all shipments; only the final JSON documents are built in a Python loop.
Every effect below is a number in this module (the ``EFFECTS`` section) or, per carrier, in the demo catalogue
``demo/catalogues/carriers.csv``, and is repeated in ``docs/shipment-generator.md``; the tests in
``tests/demo/test_shipments.py`` check each one appears in the labels. The goods, ports and trading parties
come from the other demo catalogues (``products.csv``, ``ports.csv``, ``parties.yaml``).

Time and volume
    24 months from 2024-01-01 (China time, UTC+8); monthly volume grows 1%/month and is 30% higher in Sep–Dec.

Documents and injected errors
    Exporters (800) have a China Customs credit grade: advanced_certified 15%, general 78%, discredited 7%, and an
    error-proneness factor (lognormal, sigma 0.5; x1.6 for discredited). Consignees (4,000) are repeat B2B buyers in
    US 40%, DE 12%, GB 12%, JP 10%, AU 8%, NL 6%, CA 6%, FR 6%, each with a valid phone and postcode.
    Errors are injected into the documents (base rate per shipment x exporter factor); the checks in
    ``features.checks`` find them, and only what the checks find reaches the model:
    phone missing 1.2%, phone invalid 2%, postcode missing 1%, postcode invalid 2%, address missing 0.6%, HS missing
    1%, HS code not in the nomenclature 1%, order/declaration HS mismatch 2%, quantity mismatch 2%, undervalued
    declaration (value mismatch) 2%, currency mismatch 1%, consignee-name mismatch 1.5%, gross-weight mismatch 1.5%,
    declaration line dropped 0.5%, unit price undervalued 20x on both documents 1.5%, list mode above RMB 5,000 (of
    those above it) 3%, lithium-battery line without the waybill flag (of shipments with 850760 lines) 20%, waybill
    without consignee name 3% (no outcome effect).

Outcome (released | inspected | held | returned)
    Held first, from independent causes combined as 1 - prod(1 - p):
      base 1%; lithium-battery goods to the US on a channel that is not battery-certified 60%; each three-document
      mismatch 35%; each data error (missing/invalid mandatory data, invalid HS, list mode over limit) 12% (20% after
      the policy change); lithium battery undeclared 50%.
    A held shipment is returned instead with 35% when its HS code is invalid, 30% for value/currency mismatches, 20%
    for the lithium cause, 10% otherwise.
    Otherwise inspected with probability sigmoid(logit):
      logit = -2.4 + chapter effect (85: +0.6, 95: +0.7, 61: +0.5, 62: +0.5, 33: +0.4, 39: +0.3, else 0; the main
      chapter is the chapter of the highest-value line) + 1.1 if declared value > 50,000 USD + credit grade
      (advanced_certified -1.2, general 0, discredited +1.2) + 1.0 if a unit price is undervalued + 0.3 if liquid,
      powder or magnetic goods + policy change from 2025-03-01 (chapters 61/62 +1.0, chapter 85 +0.4).

Delay (hours from declaration to release; for returned shipments, to the return decision)
    base = channel base (express 6, air 14, sea_fcl 30, sea_lcl 44, rail 26) x carrier factor x lognormal(0, 0.35),
    x 0.8 when pre-declared (提前申报), x 1.1 for discredited exporters;
    + carrier late event (probability per carrier, 3%–14%): gamma(2, 18) (mean 36 h);
    + Los Angeles / Long Beach (USLAX/USLGB) in November–December: sea gamma(3, 16) (mean 48 h), air/express gamma(2, 8) (16 h);
    + inspected: gamma(2, 12) (mean 24 h; x1.5 for sea);  + held: 72 + gamma(2, 36) (mean 144 h);
    returned: 48 + gamma(2, 24) (mean 96 h).
    Carriers (factor, late probability; carriers.csv): express SF Express 0.85/3%, DHL Express 0.9/4%, FedEx 1.0/6%, UPS 1.0/6%,
    Cainiao 1.15/10%, YunExpress 1.3/14%; air Cathay Cargo 0.9/4%, Air China Cargo 0.95/5%, China Southern Cargo
    1.0/6%; sea Maersk 0.9/4%, COSCO 1.0/6%, Evergreen 1.0/7%, ONE 1.05/8%, MSC 1.1/9%; rail China Railway Express
    1.0/8%, DB Cargo Eurasia 0.95/6%.

Risk level (documented rule)
    high = held or returned or delay > 120 h; medium = inspected or delay > 48 h; low otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd

from data.shipments.reference import (
    CHANNEL_MODE,
    CHINA_TZ,
    FX_USD_PER_UNIT,
    LIST_MODE_MAX_CNY,
    POLICY_CHANGE_AT,
    SPLIT_ADVISORY_USD,
    US_WEST_COAST_PORTS,
)
from demo import catalogue
from demo.documents import build_documents
from demo.parties import COUNTRY_SHARES, N_CONSIGNEES, N_EXPORTERS, draw_pools

# The demo world's catalogues (demo/catalogues/): its goods, port network, carriers and trading parties.
PRODUCTS = catalogue.products()
PORTS = catalogue.ports()
CARRIERS = catalogue.carriers()

#: Bump when the generated data changes for the same seed (cached demo history frames are keyed on it).
GENERATOR_REVISION = 2
#: The demo history starts here (China time); 24 months from it put the policy change in month 15.
HISTORY_START = date(2024, 1, 1)
#: Real-looking 6-digit codes that do not exist in the HS nomenclature: what a typo or an invented code looks like.
INVALID_HS6 = ("850799", "851899", "610999", "950399", "392699", "851839", "871199")

# ================================================================================================ EFFECTS
CHANNEL_PROBS = {"express": 0.30, "air": 0.20, "sea_fcl": 0.18, "sea_lcl": 0.22, "rail": 0.10}
RAIL_COUNTRIES = ("DE", "NL", "FR")  # China–Europe rail; rail elsewhere is redrawn as sea_lcl
CHANNEL_BASE_HOURS = {"express": 6.0, "air": 14.0, "sea_fcl": 30.0, "sea_lcl": 44.0, "rail": 26.0}
BASE_NOISE_SIGMA = 0.35
PREDECLARED_SHARE = 0.35
PREDECLARED_FACTOR = 0.8
DISCREDITED_DELAY_FACTOR = 1.1
# Carriers: delay factor, late probability, share of their mode and battery-certified share in carriers.csv.
LATE_GAMMA = (2.0, 18.0)
CONGESTION_MONTHS = (11, 12)
CONGESTION_GAMMA_SEA = (3.0, 16.0)
CONGESTION_GAMMA_AIR = (2.0, 8.0)
INSPECTION_GAMMA = (2.0, 12.0)
INSPECTION_SEA_FACTOR = 1.5
HOLD_DELAY = (72.0, 2.0, 36.0)  # offset, gamma shape, scale
RETURN_DELAY = (48.0, 2.0, 24.0)

INSPECT_INTERCEPT = -2.4
CHAPTER_INSPECTION = {"85": 0.6, "95": 0.7, "61": 0.5, "62": 0.5, "33": 0.4, "39": 0.3}
OVER_50K_INSPECTION = 1.1
CREDIT_INSPECTION = {"advanced_certified": -1.2, "general": 0.0, "discredited": 1.2}
UNDERVALUED_INSPECTION = 1.0
OTHER_DG_INSPECTION = 0.3
POLICY_CHAPTER_INSPECTION = {"61": 1.0, "62": 1.0, "85": 0.4}

HOLD_BASE = 0.01
HOLD_LITHIUM_US_UNCERTIFIED = 0.60
HOLD_PER_DOC_MISMATCH = 0.35
HOLD_PER_DATA_ERROR = 0.12
HOLD_PER_DATA_ERROR_AFTER_POLICY = 0.20
HOLD_LITHIUM_UNDECLARED = 0.50
RETURN_GIVEN_HELD = {"hs_invalid": 0.35, "value": 0.30, "lithium": 0.20, "other": 0.10}

RISK_HIGH_HOURS = 120.0
RISK_MEDIUM_HOURS = 48.0

# Injected document errors: base probability per shipment (multiplied by the exporter's error factor).
ERROR_RATES = {
    "phone_missing": 0.012, "phone_invalid": 0.02, "postcode_missing": 0.01, "postcode_invalid": 0.02,
    "address_missing": 0.006, "hs_missing": 0.01, "hs_invalid": 0.01, "hs_mismatch": 0.02, "qty_mismatch": 0.02,
    "value_mismatch": 0.02, "currency_mismatch": 0.01, "consignee_mismatch": 0.015, "weight_mismatch": 0.015,
    "line_dropped": 0.005, "price_undervalued": 0.015, "waybill_name_missing": 0.03,
}
LIST_OVER_LIMIT_RATE = 0.03
LITHIUM_UNDECLARED_RATE = 0.20
DATA_ERRORS = ("phone_missing", "phone_invalid", "postcode_missing", "postcode_invalid", "address_missing",
               "hs_missing", "hs_invalid", "list_over_limit")
DOC_MISMATCHES = ("hs_mismatch", "qty_mismatch", "value_mismatch", "currency_mismatch", "consignee_mismatch",
                  "weight_mismatch", "line_dropped")

# Local currencies an invoice may use besides USD (share of invoices in the local currency); CNY is used anywhere 8%.
LOCAL_CURRENCY = {"DE": ("EUR", 0.5), "NL": ("EUR", 0.5), "FR": ("EUR", 0.5), "GB": ("GBP", 0.4),
                  "JP": ("JPY", 0.3), "AU": ("AUD", 0.3), "CA": ("CAD", 0.3)}
CNY_INVOICE_SHARE = 0.08
# per-line quantity medians by channel (lognormal, sigma 0.8)
QTY_MEDIAN = {"express": 20.0, "air": 120.0, "sea_fcl": 1500.0, "sea_lcl": 400.0, "rail": 600.0}


def risk_level(outcome: np.ndarray, delay: np.ndarray) -> np.ndarray:
    """The documented rule: high = held/returned or > 120 h; medium = inspected or > 48 h; low otherwise."""
    high = np.isin(outcome, ["held", "returned"]) | (delay > RISK_HIGH_HOURS)
    medium = (outcome == "inspected") | (delay > RISK_MEDIUM_HOURS)
    return np.where(high, "high", np.where(medium, "medium", "low"))


# ================================================================================================ history
@dataclass
class ShipmentHistory:
    """Generated documents and their labels, row-aligned. ``latent`` holds the generator's hidden variables (injected
    errors, causes) for tests and docs only — never a model feature: the model sees what the checks find."""

    shipments: list[dict]
    labels: pd.DataFrame
    latent: pd.DataFrame = field(repr=False)


def _month_starts(months: int) -> list[datetime]:
    out = []
    y, m = HISTORY_START.year, HISTORY_START.month
    for _ in range(months + 1):
        out.append(datetime(y, m, 1, tzinfo=CHINA_TZ))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _iso(seconds: np.ndarray) -> np.ndarray:
    """UTC epoch seconds -> ISO strings in China time (+08:00)."""
    local = (seconds + 8 * 3600).astype("datetime64[s]")
    return np.char.add(np.datetime_as_string(local, unit="s").astype(str), "+08:00")


@dataclass(frozen=True)
class RegimeChange:
    """A port that becomes congested in the last months of the history (the closed-loop benchmark's test case):
    shipments leaving ``export_port`` and declared in the last ``months`` months wait ``gamma(shape, scale)`` extra
    hours (mean ``shape * scale``). Drawn from a generator of its own, so everything else stays as without it."""

    export_port: str = "CNNGB"
    months: int = 3
    shape: float = 3.0
    scale: float = 20.0


def generate_shipments(n: int = 200_000, months: int = 24, seed: int = 42, *,
                       progress: bool = False, regime: RegimeChange | None = None) -> ShipmentHistory:
    """``n`` shipments declared over ``months`` months from 2024-01-01, reproducible for a given seed; ``regime``
    adds a congested port at the end (:class:`RegimeChange`)."""
    if n < 1 or months < 1:
        raise ValueError("n and months must be positive")
    rng = np.random.default_rng(seed)
    pools = draw_pools(rng)

    # ---- time: month by volume weight, uniform inside the month, sorted so ids are chronological
    starts = _month_starts(months)
    weights = np.array([(1.01 ** k) * (1.3 if s.month >= 9 else 1.0) for k, s in enumerate(starts[:-1])])
    month_idx = rng.choice(months, n, p=weights / weights.sum())
    start_s = np.array([s.timestamp() for s in starts], dtype=np.int64)
    declared_s = np.sort(start_s[month_idx] + (rng.random(n) * (start_s[month_idx + 1] - start_s[month_idx]))
                         .astype(np.int64))
    local_month = ((declared_s + 8 * 3600).astype("datetime64[s]").astype("datetime64[M]").astype(int) % 12) + 1
    after_policy = declared_s >= int(POLICY_CHANGE_AT.timestamp())

    # ---- parties
    # heavy-tailed volume per exporter (a few large factories, many small ones); wrapping the tail rather than
    # capping it avoids piling every tail draw onto one exporter
    exporter = np.minimum(rng.pareto(1.2, n) * 40, 1e9).astype(np.int64) % N_EXPORTERS
    exporter = rng.permutation(N_EXPORTERS)[exporter]
    grade = pools.exp_grade[exporter]
    err_factor = pools.exp_err[exporter]
    consignee = rng.integers(0, N_CONSIGNEES, n)
    country = pools.con_country[consignee]

    # ---- channel, ports, carrier
    ch_names = np.array(list(CHANNEL_PROBS))
    channel = ch_names[rng.choice(len(ch_names), n, p=list(CHANNEL_PROBS.values()))]
    channel = np.where((channel == "rail") & ~np.isin(country, RAIL_COUNTRIES), "sea_lcl", channel)
    mode = np.vectorize(CHANNEL_MODE.get)(channel)
    dest_port = np.empty(n, dtype=object)
    export_port = np.empty(n, dtype=object)
    carrier = np.empty(n, dtype=object)
    carrier_factor = np.ones(n)
    carrier_late = np.zeros(n)
    certified_p = np.zeros(n)
    for m in ("sea", "air", "rail"):
        exp_ports = [p.locode for p in PORTS.values() if p.country == "CN" and m in p.modes]
        sel = mode == m
        export_port[sel] = np.array(exp_ports)[rng.integers(0, len(exp_ports), sel.sum())]
        for c in COUNTRY_SHARES:
            sc = sel & (country == c)
            ports = [p.locode for p in PORTS.values() if p.country == c and m in p.modes]
            if sc.any():
                if c == "US" and m == "sea":  # LA/Long Beach carry most transpacific volume
                    probs = np.array([0.35 if p == "USLAX" else 0.25 if p == "USLGB" else 0.2 for p in ports])
                else:
                    probs = np.ones(len(ports))
                dest_port[sc] = np.array(ports)[rng.choice(len(ports), sc.sum(), p=probs / probs.sum())]
    for ch in CHANNEL_PROBS:
        sel = channel == ch
        table = [c for c in CARRIERS if c.mode == ("sea" if ch.startswith("sea") else ch)]
        shares = np.array([c.share for c in table])
        pick = rng.choice(len(table), sel.sum(), p=shares / shares.sum())
        carrier[sel] = np.array([c.carrier for c in table])[pick]
        carrier_factor[sel] = np.array([c.delay_factor for c in table])[pick]
        carrier_late[sel] = np.array([c.late_probability for c in table])[pick]
        certified_p[sel] = np.array([c.battery_certified_share for c in table])[pick]
    certified = rng.random(n) < certified_p

    # ---- lines (flattened), products, quantities, prices
    n_lines = np.minimum(1 + rng.poisson(0.8, n), 6)
    offsets = np.concatenate([[0], np.cumsum(n_lines)[:-1]])
    total = int(n_lines.sum())
    line_ship = np.repeat(np.arange(n), n_lines)
    prod = rng.integers(0, len(PRODUCTS), total)
    p_usd = np.array([p.usd for p in PRODUCTS])[prod]
    p_kg = np.array([p.kg for p in PRODUCTS])[prod]
    p_unit = np.array([p.unit for p in PRODUCTS])[prod]
    weighed = p_unit == "KG"
    qty_med = np.vectorize(QTY_MEDIAN.get)(channel)[line_ship]
    qty = np.maximum(1.0, qty_med * np.exp(rng.normal(0, 0.8, total)) / np.maximum(p_kg, 0.2) ** 0.5)
    qty = np.where(weighed, np.round(qty, 1), np.round(qty))
    # invoice currency per shipment
    local = np.array([LOCAL_CURRENCY.get(c, ("USD", 0.0))[0] for c in country.tolist()], dtype=object)
    local_p = np.array([LOCAL_CURRENCY.get(c, ("USD", 0.0))[1] for c in country.tolist()])
    u = rng.random(n)
    currency = np.where(u < CNY_INVOICE_SHARE, "CNY", np.where(u < CNY_INVOICE_SHARE + local_p, local, "USD"))
    rate = np.vectorize(FX_USD_PER_UNIT.get)(currency)
    price_undervalued = rng.random(n) < ERROR_RATES["price_undervalued"] * err_factor
    price_usd = p_usd * np.exp(rng.normal(0, 0.25, total)) / np.where(price_undervalued[line_ship], 20.0, 1.0)
    decimals = np.where(currency[line_ship] == "JPY", 0, 2)
    price = np.round(price_usd / rate[line_ship], 2)
    price = np.where(decimals == 0, np.round(price), price)
    price = np.maximum(price, 0.01)
    line_value = np.round(qty * price, 2)
    value = np.add.reduceat(line_value, offsets)
    value_usd = value * rate
    net_kg = qty * p_kg
    gross = np.round(np.add.reduceat(net_kg, offsets) * rng.uniform(1.08, 1.25, n) + 0.3, 2)
    packages = np.maximum(1, np.ceil(gross / rng.uniform(8, 25, n))).astype(int)
    # main chapter = chapter of the highest-value line
    order_by_value = np.lexsort((-line_value, line_ship))
    main_prod = prod[order_by_value[offsets]]
    chapters = np.array([p.chapter for p in PRODUCTS])
    main_chapter = chapters[main_prod]
    flags = {k: np.logical_or.reduceat(np.array([k in p.dangerous_goods for p in PRODUCTS])[prod], offsets)
             for k in ("lithium", "liquid", "magnetic", "powder")}
    battery_line = np.array([p.hs6 == "850760" for p in PRODUCTS])[prod]
    has_battery_line = np.logical_or.reduceat(battery_line, offsets)

    # ---- declaration mode; injected errors
    over_list_limit = value_usd / FX_USD_PER_UNIT["CNY"] > LIST_MODE_MAX_CNY
    list_over_limit = over_list_limit & (rng.random(n) < LIST_OVER_LIMIT_RATE * err_factor)
    decl_mode = np.where(over_list_limit & ~list_over_limit, "declaration_form",
                         np.where(rng.random(n) < 0.9, "9710_list", "declaration_form"))
    err = {k: rng.random(n) < r * err_factor for k, r in ERROR_RATES.items() if k != "price_undervalued"}
    err["price_undervalued"] = price_undervalued
    err["list_over_limit"] = list_over_limit
    err["line_dropped"] &= n_lines >= 2
    err["phone_invalid"] &= ~err["phone_missing"]
    err["postcode_invalid"] &= ~err["postcode_missing"]
    err["lithium_undeclared"] = has_battery_line & (rng.random(n) < LITHIUM_UNDECLARED_RATE)
    lithium_flag = flags["lithium"] & ~err["lithium_undeclared"]
    n_data = sum(err[k].astype(int) for k in DATA_ERRORS)
    n_doc = sum(err[k].astype(int) for k in DOC_MISMATCHES)

    # ---- outcome
    is_us = country == "US"
    lithium_cause = flags["lithium"] & is_us & ~certified
    over_50k = value_usd > SPLIT_ADVISORY_USD
    per_data = np.where(after_policy, HOLD_PER_DATA_ERROR_AFTER_POLICY, HOLD_PER_DATA_ERROR)
    p_not_held = ((1 - HOLD_BASE) * np.where(lithium_cause, 1 - HOLD_LITHIUM_US_UNCERTIFIED, 1.0)
                  * (1 - HOLD_PER_DOC_MISMATCH) ** n_doc * (1 - per_data) ** n_data
                  * np.where(err["lithium_undeclared"], 1 - HOLD_LITHIUM_UNDECLARED, 1.0))
    held = rng.random(n) >= p_not_held
    p_return = np.where(err["hs_invalid"], RETURN_GIVEN_HELD["hs_invalid"],
                        np.where(err["value_mismatch"] | err["currency_mismatch"], RETURN_GIVEN_HELD["value"],
                                 np.where(lithium_cause | err["lithium_undeclared"], RETURN_GIVEN_HELD["lithium"],
                                          RETURN_GIVEN_HELD["other"])))
    returned = held & (rng.random(n) < p_return)
    logit = (INSPECT_INTERCEPT + np.vectorize(lambda c: CHAPTER_INSPECTION.get(c, 0.0))(main_chapter)
             + OVER_50K_INSPECTION * over_50k + np.vectorize(CREDIT_INSPECTION.get)(grade)
             + UNDERVALUED_INSPECTION * price_undervalued
             + OTHER_DG_INSPECTION * (flags["liquid"] | flags["powder"] | flags["magnetic"])
             + after_policy * np.vectorize(lambda c: POLICY_CHAPTER_INSPECTION.get(c, 0.0))(main_chapter))
    inspected = ~held & (rng.random(n) < 1 / (1 + np.exp(-logit)))
    outcome = np.where(returned, "returned", np.where(held, "held", np.where(inspected, "inspected", "released")))

    # ---- delay
    predeclared = rng.random(n) < PREDECLARED_SHARE
    sea = mode == "sea"
    base = (np.vectorize(CHANNEL_BASE_HOURS.get)(channel) * carrier_factor * np.exp(rng.normal(0, BASE_NOISE_SIGMA, n))
            * np.where(predeclared, PREDECLARED_FACTOR, 1.0) * np.where(grade == "discredited", DISCREDITED_DELAY_FACTOR,
                                                                         1.0))
    late = (rng.random(n) < carrier_late) * rng.gamma(*LATE_GAMMA, n)
    congested = np.isin(dest_port.astype(str), list(US_WEST_COAST_PORTS)) & np.isin(local_month, CONGESTION_MONTHS)
    congestion = congested * np.where(sea, rng.gamma(*CONGESTION_GAMMA_SEA, n), rng.gamma(*CONGESTION_GAMMA_AIR, n))
    inspect_delay = inspected * rng.gamma(*INSPECTION_GAMMA, n) * np.where(sea, INSPECTION_SEA_FACTOR, 1.0)
    hold_delay = (held & ~returned) * (HOLD_DELAY[0] + rng.gamma(HOLD_DELAY[1], HOLD_DELAY[2], n))
    delay = base + late + congestion + inspect_delay + hold_delay
    delay = np.where(returned, RETURN_DELAY[0] + rng.gamma(RETURN_DELAY[1], RETURN_DELAY[2], n) + congestion, delay)
    if regime is not None:
        regime_from = start_s[max(0, months - regime.months)]
        hit = (export_port.astype(str) == regime.export_port) & (declared_s >= regime_from)
        delay = delay + hit * np.random.default_rng(seed + 7_919).gamma(regime.shape, regime.scale, n)
    delay = np.round(delay, 1)
    risk = risk_level(outcome, delay)

    # ---- timestamps (seconds)
    order_created_s = declared_s - (rng.uniform(24, 240, n) * 3600).astype(np.int64)
    data_ready_s = declared_s - (rng.uniform(2, 20, n) * 3600).astype(np.int64)
    predeclared_s = declared_s - (rng.uniform(1, 24, n) * 3600).astype(np.int64)
    predeclared_s = np.maximum(predeclared_s, data_ready_s)
    released_s = declared_s + np.round(delay * 3600).astype(np.int64)
    iso_decl, iso_order, iso_ready, iso_pre, iso_rel = (_iso(x) for x in (declared_s, order_created_s, data_ready_s,
                                                                          predeclared_s, released_s))

    # ---- error details drawn up front (vectorised), applied while building documents
    bad_line = offsets + (rng.random(n) * n_lines).astype(int)  # the line an error lands on
    other_prod = rng.integers(0, len(PRODUCTS), n)
    qty_factor = rng.choice([-1.0, 1.0], n) * rng.uniform(0.1, 0.5, n) + 1.0
    value_factor = rng.uniform(0.5, 0.8, n)
    weight_factor = rng.uniform(1.15, 1.6, n)
    invalid_hs = np.array(INVALID_HS6)[rng.integers(0, len(INVALID_HS6), n)]
    other_consignee = rng.integers(0, N_CONSIGNEES, n)
    other_currency = np.where(currency == "USD", "EUR", "USD")
    has_net = rng.random(n) < 0.6
    has_decl_gross = (rng.random(n) < 0.7) | err["weight_mismatch"]

    docs = build_documents(
        n, seed, pools, exporter, consignee, country, channel, carrier, export_port, dest_port, certified,
        offsets, n_lines, prod, qty, price, line_value, net_kg, gross, packages, currency, decl_mode, grade, flags,
        lithium_flag, err, bad_line, other_prod, qty_factor, value_factor, weight_factor, invalid_hs, other_consignee,
        other_currency, has_net, has_decl_gross, predeclared, outcome, iso_decl, iso_order, iso_ready, iso_pre, iso_rel,
        progress)

    ids = [d["shipment_id"] for d in docs]
    declared_at = pd.to_datetime(declared_s, unit="s", utc=True)
    labels = pd.DataFrame({"shipment_id": ids, "declared_at": declared_at, "delay_hours": delay,
                           "outcome": outcome, "risk_level": risk})
    latent = pd.DataFrame({"shipment_id": ids, "month": local_month, "after_policy": after_policy,
                           "main_chapter": main_chapter, "value_usd": value_usd, "over_50k": over_50k,
                           "credit_grade": grade, "channel": channel, "carrier": carrier.astype(str),
                           "destination_port": dest_port.astype(str), "lithium": flags["lithium"],
                           "certified": certified, "us": is_us, "lithium_cause": lithium_cause,
                           "congested": congested, "predeclared": predeclared, "n_data_errors": n_data,
                           "n_doc_mismatches": n_doc, **{f"err_{k}": v for k, v in err.items()}})
    return ShipmentHistory(shipments=docs, labels=labels, latent=latent)
