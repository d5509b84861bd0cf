"""Schemas, readers, stores, reference tables and specs: what comes into clearance and where it is kept.

Importing any clearance package imports this one first, so the process-wide thread caps live here: on a 2-core
machine an uncapped BLAS/OpenMP/torch pool per library oversubscribes the cores and makes everything many times
slower. ``CLEARANCE_THREADS`` overrides the cap; explicit environment settings always win.
"""

import os

_threads = os.environ.get("CLEARANCE_THREADS", "2")
os.environ.setdefault("OMP_NUM_THREADS", _threads)  # faiss and LightGBM parallelise inside one call
# BLAS stays single-threaded: the service runs many small matmuls (one per query) from several threads at once, and
# OpenBLAS pools fighting over 2 cores measured 30x slower (8 concurrent queries: 6/s at 2 threads, 199/s at 1).
for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ.setdefault(_var, "1")
# Tokenizers spawn their own pool and warn on fork; models never come from a hub at run time.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
