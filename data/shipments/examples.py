"""A clean example shipment document: for API docs, the console's sample button and tests.

It passes the schema and raises no error or warning finding; each call returns a fresh deep copy to mutate.
"""

from __future__ import annotations

import copy

_EXAMPLE: dict = {
    "shipment_id": "EX-0001",
    "order": {
        "order_id": "PO-2025-0001",
        "platform": "Alibaba.com",
        "buyer": "Pacific Trading LLC",
        "consignee": {
            "name": "Pacific Trading LLC",
            "address": "1200 Harbor Street, Los Angeles, CA",
            "postcode": "90021",
            "phone": "+1 213-555-0142",
            "country": "US",
        },
        "lines": [
            {"description": "Cotton T-shirt, knitted", "hs_code": "610910", "quantity": 1200, "unit": "PCS",
             "unit_price": 2.6, "currency": "USD", "net_weight_kg": 216.0},
            {"description": "Plastic storage box", "hs_code": "392310", "quantity": 300, "unit": "PCS",
             "unit_price": 2.2, "currency": "USD", "net_weight_kg": 240.0},
        ],
    },
    "waybill": {
        "waybill_no": "COSU6123456780",
        "carrier": "COSCO",
        "channel": "sea_lcl",
        "export_port": "CNSZX",
        "destination_port": "USNYC",
        "consignee_name": "Pacific Trading LLC",
        "gross_weight_kg": 520.0,
        "packages": 38,
        "dangerous_goods": {"lithium_battery": False, "liquid": False, "magnetic": False, "powder": False},
        "battery_certified_channel": False,
    },
    "declaration": {
        "declaration_no": "530120250000123456",
        "mode": "declaration_form",
        "declared_value": 3780.0,
        "currency": "USD",
        "lines": [
            {"hs_code": "6109100000", "description": "针织棉质T恤", "quantity": 1200, "unit": "PCS", "value": 3120.0},
            {"hs_code": "3923100000", "description": "塑料收纳箱", "quantity": 300, "unit": "PCS", "value": 660.0},
        ],
        "credit_grade": "general",
        "consignee_name": "PACIFIC TRADING, LLC",
        "destination_country": "US",
        "gross_weight_kg": 520.0,
        "declared_at": "2025-06-10T10:00:00+08:00",
    },
    "timestamps": {
        "order_created": "2025-06-02T09:30:00+08:00",
        "data_ready": "2025-06-09T16:00:00+08:00",
        "predeclared": "2025-06-09T18:00:00+08:00",
        "declared": "2025-06-10T10:00:00+08:00",
    },
}


def example_shipment() -> dict:
    """A fresh copy of a clean two-line sea shipment to the US (JSON-able dict)."""
    return copy.deepcopy(_EXAMPLE)
