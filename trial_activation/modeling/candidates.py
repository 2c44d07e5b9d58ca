"""The per-candidate figures of marts.candidate_goals, as plain functions on pandas frames: the
statistics of one population's candidates (with the degenerate ones left out of the correction), and the
seed row that would adopt a candidate as a goal."""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pandas as pd

from trial_activation.modeling.stats import benjamini_hochberg, compare_groups
from trial_activation.modeling.validation import degenerate_flags

# The columns of seeds/activation_goals.csv, in its order: seed_row is one line of that file.
SEED_COLUMNS = (
    "goal_id",
    "goal_order",
    "goal_name",
    "description",
    "goal_kind",
    "activity_pattern",
    "window_start_day",
    "window_end_day",
    "threshold_percentile",
    "fixed_threshold",
    "threshold_floor",
    "baseline_ratio",
    "baseline_start_day",
    "baseline_end_day",
    "fallback_start_day",
    "fallback_end_day",
)


def with_figures(counts: pd.DataFrame) -> pd.DataFrame:
    """One population's candidates, sorted by candidate_id, with marts.goal_conversion's figures, the
    degenerate flags (is_tested, duplicate_of: the first identical table by candidate_id is kept) and
    Benjamini-Hochberg q-values over the tested ones only (NaN for the rest)."""
    counts = counts.sort_values("candidate_id").reset_index(drop=True)
    figures = pd.DataFrame(
        [
            compare_groups(row.completed, row.completed_converted, row.not_completed, row.not_completed_converted)
            for row in counts.itertuples(index=False)
        ],
        index=counts.index,
        columns=list(compare_groups(0, 0, 0, 0)),  # the figures' names, also when the population is empty
    )
    result = pd.concat([counts, figures], axis=1)
    flags = degenerate_flags(result.set_index("candidate_id"))
    result["is_tested"] = flags.is_tested.to_numpy()
    result["duplicate_of"] = flags.duplicate_of.to_numpy()
    q_values = np.full(len(result), np.nan)
    tested = result.is_tested.to_numpy()
    if tested.any():
        q_values[tested] = benjamini_hochberg(result.p_value.to_numpy(dtype=float)[tested])
    result["q_value"] = q_values
    return result


def seed_row(candidate, goal_order: int) -> str:
    """The candidate as a window_count goal row of seeds/activation_goals.csv (threshold floor 0)."""
    pattern, start, end, rule = (
        candidate.activity_pattern,
        int(candidate.window_start_day),
        int(candidate.window_end_day),
        candidate.threshold_rule,
    )
    slug = re.sub(r"[^a-z0-9]+", "_", pattern.lower().replace("%", "any")).strip("_")
    is_percentile = not pd.isna(candidate.threshold_percentile)
    needed = (
        f"the {_number(candidate.threshold_percentile)}th percentile of converted organizations' counts"
        if is_percentile
        else f"{_number(candidate.fixed_threshold)}"
    )
    values = {
        "goal_id": f"{slug}_days_{start}_{end}_{re.sub(r'[^a-z0-9]+', '_', rule.lower())}",
        "goal_order": goal_order,
        "goal_name": f"{pattern} days {start}-{end} ({rule})",
        "description": f"Events matching {pattern} in trial days {start}-{end} at least {needed}",
        "goal_kind": "window_count",
        "activity_pattern": pattern,
        "window_start_day": start,
        "window_end_day": end,
        "threshold_percentile": _number(candidate.threshold_percentile) if is_percentile else "",
        "fixed_threshold": "" if is_percentile else _number(candidate.fixed_threshold),
        "threshold_floor": 0,
    }
    line = io.StringIO()
    csv.writer(line, lineterminator="").writerow([values.get(column, "") for column in SEED_COLUMNS])
    return line.getvalue()


def _number(value) -> str:
    """75.0 -> '75', 0.5 -> '0.5'."""
    return f"{float(value):g}" if not (value is None or (isinstance(value, float) and np.isnan(value))) else ""
