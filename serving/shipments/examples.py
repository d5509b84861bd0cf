"""A realistic shipment document for OpenAPI examples and tests (valid against the schema)."""

SHIPMENT_EXAMPLE = {
    "shipment_id": "SHP-2026-000123",
    "order": {"order_id": "ORD-88123", "platform": "alibaba.com", "buyer": "Acme Home Goods LLC",
              "consignee": {"name": "Acme Home Goods LLC", "address": "1200 Harbor Blvd, Long Beach, CA",
                            "postcode": "90802", "phone": "+1 562 555 0147", "country": "US"},
              "lines": [{"description": "不锈钢真空保温杯 500ml / stainless steel vacuum flask", "hs_code": "9617001900",
                         "quantity": 1200, "unit": "pcs", "unit_price": 3.2, "currency": "USD"}]},
    "waybill": {"waybill_no": "MAEU123456789", "carrier": "Maersk", "channel": "sea_fcl", "export_port": "CNNGB",
                "destination_port": "USLGB", "consignee_name": "Acme Home Goods LLC", "gross_weight_kg": 540.0,
                "packages": 50, "dangerous_goods": {"lithium_battery": False}},
    "declaration": {"mode": "declaration_form", "declared_value": 3840.0, "currency": "USD",
                    "lines": [{"hs_code": "9617001900", "quantity": 1200, "unit": "pcs", "value": 3840.0}],
                    "credit_grade": "general", "consignee_name": "Acme Home Goods LLC",
                    "destination_country": "US", "declared_at": "2026-11-20T09:30:00+08:00"},
    "timestamps": {"order_created": "2026-11-18T10:00:00+08:00", "data_ready": "2026-11-19T16:00:00+08:00",
                   "declared": "2026-11-20T09:30:00+08:00"},
}
