"""The trial-activation project's own Python code, one package per job:

- `trial_activation.modeling`: what the models and macros import (engine, thresholds, stats, raw_files);
- `trial_activation` itself: the CLI (`trial-activation`, `python -m trial_activation`) and what it runs:
  project, compare, report (+ templates/), export, alerts;
- `trial_activation.generator`: the synthetic trial event log generator (`trial-activation generate`);
- `trial_activation.testing`: the logs' paths and a copy of the project, shared by the tests and benchmarks.
"""
