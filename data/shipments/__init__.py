"""9710 shipments: the three-document schema and its fixed reference tables (channels, FX, credit grades, thresholds)."""

from data.shipments.schema import Shipment, error_details

__all__ = ["Shipment", "error_details"]
