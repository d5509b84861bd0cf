"""The demo world's trading parties: exporters (credit grade, error-proneness, platform) and repeat B2B consignees
with valid addresses, postcodes and phone numbers (``phonenumbers``' own example numbers, varied), and the broken
variants the generator injects as data errors. The shares are documented in :mod:`demo.shipments`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from demo import catalogue

PARTIES = catalogue.parties()
COUNTRY_SHARES = {"US": 0.40, "DE": 0.12, "GB": 0.12, "JP": 0.10, "AU": 0.08, "NL": 0.06, "CA": 0.06, "FR": 0.06}
CREDIT_SHARES = {"advanced_certified": 0.15, "general": 0.78, "discredited": 0.07}
N_EXPORTERS = 800
N_CONSIGNEES = 4000


def _postcode(rng: np.random.Generator, country: str) -> str:
    d = lambda k: "".join(str(x) for x in rng.integers(0, 10, k))  # noqa: E731
    L = lambda s: s[int(rng.integers(0, len(s)))]  # noqa: E731
    if country in ("US",):
        return str(int(rng.integers(10001, 99950))).zfill(5)
    if country == "DE":
        return str(int(rng.integers(1067, 99998))).zfill(5)
    if country == "FR":
        return str(int(rng.integers(1000, 95999))).zfill(5)
    if country == "NL":
        return f"{int(rng.integers(1000, 9999))} {L('ABCEGHJKLMNPRTVWXZ')}{L('ABCEGHJKLMNPRTVWXZ')}"
    if country == "JP":
        return f"{d(3)}-{d(4)}"
    if country == "AU":
        return str(int(rng.integers(2000, 7999)))
    if country == "GB":
        return f"{L(['SW', 'EC', 'M', 'B', 'LS', 'G', 'N', 'E'])}{int(rng.integers(1, 20))} {d(1)}{L('ABDEFGHJLNPQRSTUWXYZ')}" \
               f"{L('ABDEFGHJLNPQRSTUWXYZ')}"
    if country == "CA":
        first = "ABCEGHJKLMNPRSTVXY"
        rest = "ABCEGHJKLMNPRSTVWXYZ"
        return f"{L(first)}{d(1)}{L(rest)} {d(1)}{L(rest)}{d(1)}"
    raise ValueError(country)


@cache
def _example_number(country: str, kind: int) -> tuple[int, str]:
    import phonenumbers as pn

    ex = pn.example_number_for_type(country, (pn.PhoneNumberType.MOBILE, pn.PhoneNumberType.FIXED_LINE)[kind])
    return ex.country_code, pn.national_significant_number(ex)


def _phone(rng: np.random.Generator, country: str) -> str:
    import phonenumbers as pn

    for _ in range(200):
        cc, nsn = _example_number(country, int(rng.integers(0, 2)))
        tail = "".join(str(x) for x in rng.integers(0, 10, 4))
        num = pn.parse(f"+{cc}{nsn[:-4]}{tail}")
        if pn.is_valid_number(num) and pn.region_code_for_number(num) == country:
            fmt = pn.PhoneNumberFormat.INTERNATIONAL if rng.random() < 0.7 else pn.PhoneNumberFormat.NATIONAL
            return pn.format_number(num, fmt)
    raise RuntimeError(f"could not draw a valid phone for {country}")


def broken_phone(phone: str, country: str) -> str:
    import phonenumbers as pn

    digits = [c for c in phone]
    # drop digits from the end until the number is no longer valid for its country
    for cut in range(2, 6):
        cand = "".join(digits)[:-cut]
        try:
            if not pn.is_valid_number(pn.parse(cand, country)):
                return cand
        except pn.NumberParseException:
            return cand
    return phone[:4]


@dataclass
class Pools:
    exp_grade: np.ndarray
    exp_err: np.ndarray
    exp_name: list[str]
    exp_platform: np.ndarray
    con_country: np.ndarray
    con_name: list[str]
    con_addr: list[str]
    con_post: list[str]
    con_phone: list[str]


def draw_pools(rng: np.random.Generator) -> Pools:
    grades = np.array(list(CREDIT_SHARES))
    exp_grade = grades[rng.choice(len(grades), N_EXPORTERS, p=list(CREDIT_SHARES.values()))]
    exp_err = np.exp(rng.normal(-0.125, 0.5, N_EXPORTERS)) * np.where(exp_grade == "discredited", 1.6, 1.0)
    exp_name = [f"Exporter {i:04d}" for i in range(N_EXPORTERS)]
    exp_platform = rng.integers(0, len(PARTIES.platforms), N_EXPORTERS)
    countries = np.array(list(COUNTRY_SHARES))
    con_country = countries[rng.choice(len(countries), N_CONSIGNEES, p=list(COUNTRY_SHARES.values()))]
    names, addrs, posts, phones = [], [], [], []
    for i, c in enumerate(con_country.tolist()):
        a = PARTIES.name_first[int(rng.integers(0, len(PARTIES.name_first)))]
        b = PARTIES.name_second[int(rng.integers(0, len(PARTIES.name_second)))]
        suffixes, cities = PARTIES.countries[c].suffixes, PARTIES.countries[c].cities
        sfx = suffixes[int(rng.integers(0, len(suffixes)))]
        names.append(f"{a} {b} {sfx}" if i % 3 else f"{a} {b} {i % 997} {sfx}")
        city = cities[int(rng.integers(0, len(cities)))]
        number = int(rng.integers(1, 9999))
        street = PARTIES.streets[int(rng.integers(0, len(PARTIES.streets)))]
        addrs.append(f"{number} {street} Street, {city}")
        posts.append(_postcode(rng, c))
        phones.append(_phone(rng, c))
    return Pools(exp_grade, exp_err, exp_name, exp_platform, con_country, names, addrs, posts, phones)
