"""The demo catalogues: data files that load into typed entries, fail loudly on a bad row, and agree with the product's
reference tables where the two meet."""

from __future__ import annotations

import math

import pytest

from data.errors import InvalidInputError
from data.shipments.reference import REFERENCE_UNIT_PRICE_USD, US_WEST_COAST_PORTS
from demo import catalogue
from demo.catalogue import Product, RulingCatalogue, read_csv, read_yaml


def test_catalogues_load_as_typed_entries():
    products, ports, carriers, parties = (catalogue.products(), catalogue.ports(), catalogue.carriers(),
                                          catalogue.parties())
    assert len(products) == 49 and len(ports) == 27 and len(carriers) == 16
    battery = next(p for p in products if p.hs6 == "850760")
    assert battery.dangerous_goods == {"lithium"} and battery.chapter == "85"
    assert ports["USLAX"].modes == {"sea", "air"} and ports["DEDUI"].modes == {"rail"}
    assert {c.mode for c in carriers} == {"express", "air", "sea", "rail"}
    assert set(parties.countries) == {"US", "CA", "GB", "DE", "FR", "NL", "JP", "AU"}
    rulings = catalogue.ruling_catalogue()
    assert len(rulings.codes) >= 150 and all(len(noun) == 3 for spec in rulings.codes for noun in spec.nouns)
    assert next(s for s in rulings.codes if s.hs6 == "940141").nouns[2] == ("皮面木沙发床", "leather wooden sofa bed",
                                                                            "10")  # its own national line


def test_a_bad_csv_row_names_the_file_line_and_field(tmp_path):
    path = tmp_path / "products.csv"
    path.write_text("hs6,en,zh,unit,usd,kg,dangerous_goods\n"
                    "850760,Battery,电池,PCS,180.0,6.0,lithium\n"
                    "85076,Battery,电池,PCS,-1,6.0,explosive\n", encoding="utf-8")
    with pytest.raises(InvalidInputError) as err:
        read_csv(path, Product)
    fields = {d["field"] for d in err.value.details}
    assert {"products.csv:3.hs6", "products.csv:3.usd"} <= fields
    assert any(f.startswith("products.csv:3.dangerous_goods") for f in fields)
    assert not any(f.startswith("products.csv:2") for f in fields)


def test_a_ruling_code_with_an_unknown_family_fails_on_load(tmp_path):
    path = tmp_path / "rulings.yaml"
    path.write_text("materials: {wood: [[实木, solid wood]]}\n"
                    "families: {}\nsize_fields: {}\nelement_values: {}\nfillers: {zh: [], en: []}\n"
                    "codes:\n  - {hs6: '940360', family: furniture, material: wood, nouns: [[书架, bookshelf]]}\n",
                    encoding="utf-8")
    with pytest.raises(InvalidInputError) as err:
        read_yaml(path, RulingCatalogue)
    assert "codes.0 (940360): unknown family 'furniture'" in str(err.value.details)


def test_demo_goods_are_priced_on_the_product_reference_prices():
    """The unit-price check compares against the product's reference list; the demo world prices its goods on it, so
    the check flags exactly the injected undervaluations."""
    by_code: dict[str, list[float]] = {}
    for p in catalogue.products():
        by_code.setdefault(p.hs6, []).append(p.usd)
    assert set(by_code) <= set(REFERENCE_UNIT_PRICE_USD)
    for code, prices in by_code.items():
        middle = math.exp(sum(map(math.log, prices)) / len(prices))
        assert REFERENCE_UNIT_PRICE_USD[code] == pytest.approx(middle, rel=1e-9), code


def test_the_congesting_ports_are_in_the_demo_port_network():
    assert US_WEST_COAST_PORTS <= set(catalogue.ports())
