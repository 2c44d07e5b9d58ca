"""How a Python process that loads this project collects garbage. Not a macro: SQLMesh imports every
file in macros/ whenever it loads the project (the sqlmesh CLI, the UI, the trial-activation CLI and
the tests alike), so this is the one place of the project that runs in all of them.

By the time the project loads, the process holds a few hundred thousand long-lived objects (SQLMesh,
sqlglot, pandas, the parsed models), and Python's cyclic garbage collector, with its default
thresholds, scans them again and again while a plan renders models and runs the unit tests, then once
more at exit: a fifth of a plan with no change (benchmarks/loop.py measures it). So: freeze what
exists (kept, and never scanned again), collect the young generation less often, and skip the last
full collection at exit. Reference counting still frees every object that is not in a cycle.
"""

import atexit
import gc

if not gc.get_freeze_count():
    # Once per process: a process that loads the project again (the tests, the UI) would otherwise
    # freeze the garbage of its earlier loads too, and never free it.
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)
    atexit.register(gc.freeze)
