"""What the project's models and macros import: the engine's dialect and Ibis SQL (engine), the goals'
percentile (thresholds), the statistics (stats) and the raw files a glob reads (raw_files).

Kept apart from the CLI, report and export (the rest of `trial_activation`) and from the generator
(`trial_activation.generator`): SQLMesh serializes what a Python model or macro imports from here into
its snapshot, so a change here is a change of those models.
"""
