"""The trial-activation project's own Python code: sample generator, build helpers, summaries."""

import os

# SQLMesh loads a project's models in a pool of forked worker processes (one per CPU) unless
# MAX_FORK_WORKERS is 1, read once when sqlmesh is imported. A process killed while loading leaves
# those workers behind; this project has a dozen models, which load as fast in one process.
os.environ.setdefault("MAX_FORK_WORKERS", "1")
