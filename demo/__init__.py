"""The demo world: seeded synthetic ruling libraries and shipment histories, for the demo, tests and benchmarks.

Its catalogues (carriers, ports, products, trading parties, ruling vocabularies) are data files in
``demo/catalogues/``. The product never depends on them: ``data/``, ``features/`` and ``models/`` do not import this
package; ``training/`` uses it to fill the demo world (``clearance train``), the CLI and the benchmarks to generate.
"""
