"""The trial-activation project's own Python code: sample generator, build helpers, summaries."""
