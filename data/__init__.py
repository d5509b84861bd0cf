"""Schemas, readers, stores, generators and specs: what comes into clearance and where it is kept.

Importing any clearance package imports this one first, so the process-wide thread caps live here: on a 2-core
machine an uncapped BLAS/OpenMP/torch pool per library oversubscribes the cores and makes everything many times
slower. ``CLEARANCE_THREADS`` overrides the cap; explicit environment settings always win.
"""

import os

_threads = os.environ.get("CLEARANCE_THREADS", "2")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ.setdefault(_var, _threads)
# Tokenizers spawn their own pool and warn on fork; models never come from a hub at run time.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
