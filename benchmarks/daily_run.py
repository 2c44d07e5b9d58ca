"""One daily run as a scheduler makes it, just after its day has ended: `sqlmesh run --end DAY` with the
execution time at the next midnight. (The sqlmesh CLI's `run` always runs at the current time, which
for a replayed day years ago would make every weekly interval up to DAY look complete; Context.run
takes the execution time.) Run from the project folder; prints SQLMesh's progress as the CLI does.

    python benchmarks/daily_run.py 2024-04-13 2024-04-14
"""

import sys

from sqlmesh import Context
from sqlmesh.core.console import configure_console

day, execution_time = sys.argv[1:3]
configure_console()
Context(paths=".").run(end=day, execution_time=execution_time)
