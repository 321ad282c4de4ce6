"""Costwatch's plain-Python parts (no Dagster)."""

import os

# Costwatch does no linear algebra, yet importing numpy (pandas, for a few small frames) starts
# OpenBLAS's pool of threads, one per further core. Threads that are not Python's keep a run from
# forking dbt (sources/dbt_process.py), so OpenBLAS gets none unless the environment says otherwise.
# It must be set before numpy is imported: every entry point imports this package first.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# pyarrow (imported by pandas wherever it is installed) starts the background thread of the
# jemalloc it bundles on import, with the same effect: a run would start dbt anew. Arrow's jemalloc
# reads its options from JE_ARROW_MALLOC_CONF; its allocations are the same without the thread
# (it returns freed memory to the system on later calls instead).
os.environ.setdefault("JE_ARROW_MALLOC_CONF", "background_thread:false")
