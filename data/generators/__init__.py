"""Seeded synthetic data: demo rulings and shipment histories for demos, tests and benchmarks."""
