"""The trial-activation project's own Python code: sample generator, build helpers, summaries."""

import atexit
import gc
import os

# SQLMesh loads a project's models in a pool of forked worker processes (one per CPU) unless
# MAX_FORK_WORKERS is 1, read once when sqlmesh is imported. A process killed while loading leaves
# those workers behind; this project has a dozen models, which load as fast in one process.
os.environ.setdefault("MAX_FORK_WORKERS", "1")

# Every sqlmesh command loads this package (the project's macros import it). By then the process
# holds a few hundred thousand long-lived objects (SQLMesh, sqlglot, pandas, the parsed project), and
# Python's cyclic garbage collector, with its default thresholds, re-scans them over and over while a
# plan renders models and runs tests, then once more at exit; a fifth of a no-change plan's time on
# this project (benchmarks/README.md, "Where a plan's time goes"). So: freeze what exists (never
# collected, and never scanned again), collect the young generation less often, and skip the final
# collection at exit. Reference counting still frees everything that is not in a cycle.
gc.freeze()
gc.set_threshold(10_000, 50, 100)
atexit.register(gc.freeze)
