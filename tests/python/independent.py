"""An independent computation of the marts from the raw event file, to check the project against.

It reads the raw CSV (or Parquet) and a list of goals in the format of seeds/activation_goals.csv,
and never reads the project's models or warehouse: plain DuckDB only types, validates and
deduplicates the raw rows (so that timestamp parsing is DuckDB's own, as in the project), and
pandas/numpy (scipy and statsmodels for the statistics) compute everything else straight from the
rules in docs/goals.md and docs/insight.md, with config.yaml's settings as configured
(conversion_window_days, holdout_fraction, candidate_min_support); no function of the project is used:

- a raw row is used when every column parses (ids blank or spelled NULL are missing; times are UTC
  instants, offsets applied, and finite), trial_end >= trial_start, converted agrees with
  converted_at, and the event is within `far_outside_trial_days` of the trial (the rest are
  quarantined); exact duplicates (all seven typed columns equal) count once; events before
  `start` (TRIAL_EVENTS_START) are not loaded, nor those after today + 1 + future_event_margin_days;
- trial_day = floor(seconds since the row's trial_start / 86400); only in-trial events
  (trial_start <= event_at <= trial_end) count toward goals;
- an organization's trial_start is its earliest, trial_end its latest, converted = any row
  converted (conflicting rows resolved as in intermediate.trial_organizations);
- window_count: metric = matching events in trial days [window_start_day, window_end_day];
  threshold = fixed_threshold, or numpy.percentile of the converted organizations' metrics
  (inactive ones count 0), never below threshold_floor;
- active_days: metric = trial days of the window with at least one matching event, threshold as
  for window_count; completed_at = the first matching event of the ceil(threshold)-th such day;
- steadiness: threshold = max(threshold_floor, baseline_ratio x events in the baseline window,
  or in the fallback window when the baseline window has none);
- completion_pct = min(100, 100 x metric / threshold), 100 when threshold <= 0;
  completed_at = time of the ceil(threshold)-th matching in-window event, in time order (the
  window's start when ceil(threshold) <= 0);
- is_activated = every goal completed; activated_at = the last completed_at;
  days_to_activation = floor(seconds from trial_start to activated_at / 86400);
  activation_score = mean completion_pct (each to 6 decimals) over the goals that have one,
  rounded to 6 decimals (0 when none has);
- as_of = midnight UTC after the latest loaded timestamp, an event's or a converted_at (trial_end
  does not count); everything below is judged at as_of;
- trial_status = in_trial while as_of < trial_end, else ended; outcome_status = converted, or
  not_converted once as_of >= trial_end + conversion_window_days (config.yaml), else pending;
- a percentile threshold is taken over the converted organizations whose goal window had closed
  by as_of (trial_start + (window_end_day + 1) days <= as_of); with none, the goal has no
  threshold yet (NULL, and no completion_pct), and is never completed;
- goal_status = completed; awaiting_threshold (no threshold yet); missed when the window has
  closed (window_closes_at = trial_start + (window_end_day + 1) days <= as_of); else open;
- for open goals (and days_left_in_window for awaiting_threshold ones too): with the window's
  elapsed days = whole days from trial_start + window_start_day to as_of, between 0 and the
  window's length, days_left_in_window = length - elapsed; still_needed = ceil(threshold) -
  metric; is_on_pace = metric >= ceil(threshold) x elapsed / length;
- activation_status = activated (every goal completed), not_activated (some goal missed), else
  in_progress; goals_missed counts the missed goals;
- the conversion statistics (goal_conversion, funnel rates, cohorts, candidates) count only the
  organizations whose outcome is final (is_outcome_final: as_of >= trial_end +
  conversion_window_days, converted or not); the others are counted apart as pending;
- the held-out split: among the n organizations whose outcome is final, the holdout are those with at
  least n - floor(holdout_fraction x n) of them (config.yaml) starting strictly earlier (the latest
  trial starts; a tie at the cut stays in the search part); the search part is the rest of them;
- a percentile threshold is derived twice: over every converted organization whose window had closed
  (the goals' own thresholds: outcome final or not), and over those of the search part only (the
  search threshold, with the same floor; a fixed threshold and steadiness's own per-organization one
  are the same on both); is_completed_on_search_threshold = the metric reaches the search threshold.

The insight marts (expected_goal_conversion, expected_candidate_goals; see the section below):
- marts.goal_conversion: per goal and 'activation' (all goals), populations all,
  unconverted_at_window_end (the honest one) and holdout (the honest one among the holdout, each goal
  judged completed against its search threshold, activation = all of them so); the 2x2 figures (Wilson
  intervals, Newcombe's hybrid score difference, Fisher's exact test: scipy), the
  minimum_detectable_difference (80% power, two-sided 5% / tests, Cohen's h from statsmodels'
  NormalIndPower mapped around the pooled rate, the larger of rise and fall) and goal_auc
  ((sensitivity + specificity) / 2);
- marts.candidate_goals: per candidate, the 2x2 figures on the honest final-outcome organizations
  (all), on its search part (search_*: search threshold) and on its holdout (holdout_*: search
  threshold held fixed); in each part a candidate is degenerate when completed or not_completed is 0,
  or when its 2x2 table repeats an earlier candidate's by candidate_id (duplicate_of, the first);
  q-values (scipy's Benjamini-Hochberg) over that part's non-degenerate candidates only (NULL for the
  rest); distinct_candidates_tested = the non-degenerate on all, the `tests` of the
  minimum_detectable_difference; is_supported = candidate_min_support on both sides (config.yaml);
  is_recommended = supported, search_q_value < 0.05 and a holdout interval excluding 0 on the side of
  the search part's difference.

    goals = read_goals("seeds/activation_goals.csv")
    goals_df, activation_df = expected_marts("data/sample/trial_events.csv.gz", goals)
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

TRUE_SPELLINGS = ("true", "t", "1", "yes", "y")
FALSE_SPELLINGS = ("false", "f", "0", "no", "n")
SECONDS_PER_DAY = 86400

GOAL_COLUMNS = [
    "organization_id",
    "goal_id",
    "goal_kind",
    "metric_value",
    "threshold",
    "completion_pct",
    "is_completed",
    "completed_at",
    "goal_status",
    "window_closes_at",
    "as_of",
    "days_left_in_window",
    "still_needed",
    "is_on_pace",
]
ACTIVATION_COLUMNS = [
    "organization_id",
    "trial_start",
    "trial_end",
    "converted",
    "goals_total",
    "goals_completed",
    "is_activated",
    "activated_at",
    "days_to_activation",
    "activation_score",
    "goals_missed",
    "activation_status",
    "trial_status",
    "outcome_status",
    "is_outcome_final",
    "as_of",
]
CONFIG = Path(__file__).resolve().parents[2] / "config.yaml"


def _configured(name: str, config: Path = CONFIG) -> str:
    """A variable of config.yaml (a setting, not a rule: read as the project is configured)."""
    found = re.search(rf"^\s*{name}:\s*([0-9.]+)\s*$", config.read_text(encoding="utf-8"), re.MULTILINE)
    assert found, f"no {name} in {config}"
    return found.group(1)


def configured_conversion_window_days(config: Path = CONFIG) -> int:
    """conversion_window_days of config.yaml."""
    return int(_configured("conversion_window_days", config))


def configured_holdout_fraction(config: Path = CONFIG) -> float:
    """holdout_fraction of config.yaml: the share of the latest final-outcome trials held out."""
    return float(_configured("holdout_fraction", config))


def configured_min_support(config: Path = CONFIG) -> int:
    """candidate_min_support of config.yaml: organizations needed on each side of a candidate."""
    return int(_configured("candidate_min_support", config))


def read_goals(path: Path | str) -> list[dict]:
    """The goal rows of a seed file in the format of seeds/activation_goals.csv."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def load_events(
    raw_path: Path | str, *, start: str = "2024-01-01", far_outside_trial_days: int = 90, future_event_margin_days: int = 1
) -> pd.DataFrame:
    """The valid, deduplicated events of the raw file, typed, with trial_day and is_in_trial."""
    raw_path = str(raw_path)
    reader = (
        f"READ_PARQUET('{raw_path}')"
        if raw_path.endswith(".parquet")
        else f"READ_CSV('{raw_path}', header = TRUE, all_varchar = TRUE)"
    )

    def text(column: str) -> str:  # blank or spelled NULL is missing
        trimmed = f"TRIM(CAST({column} AS VARCHAR))"
        return f"CASE WHEN LOWER({trimmed}) IN ('', 'null') THEN NULL ELSE {trimmed} END"

    def timestamp(column: str) -> str:  # the UTC instant (offsets applied), finite
        parsed = f"TRY_CAST(TRY_CAST({column} AS TIMESTAMPTZ) AS TIMESTAMP)"
        return f"CASE WHEN ISFINITE({parsed}) THEN {parsed} END"

    def boolean(column: str) -> str:
        text = f"LOWER(TRIM(CAST({column} AS VARCHAR)))"
        return f"CASE WHEN {text} IN {TRUE_SPELLINGS} THEN TRUE WHEN {text} IN {FALSE_SPELLINGS} THEN FALSE END"

    query = f"""
        WITH typed AS (
          SELECT
            {text('organization_id')} AS organization_id,
            {text('activity_name')} AS activity_name,
            {timestamp('"timestamp"')} AS event_at,
            {boolean('converted')} AS converted,
            {timestamp('converted_at')} AS converted_at,
            {text('converted_at')} AS raw_converted_at,
            {timestamp('trial_start')} AS trial_start,
            {timestamp('trial_end')} AS trial_end
          FROM {reader}
        )
        SELECT DISTINCT organization_id, activity_name, event_at, trial_start, trial_end, converted, converted_at
        FROM typed
        WHERE organization_id IS NOT NULL
          AND activity_name IS NOT NULL
          AND event_at IS NOT NULL
          AND trial_start IS NOT NULL
          AND trial_end IS NOT NULL
          AND converted IS NOT NULL
          AND NOT (converted_at IS NULL AND raw_converted_at IS NOT NULL)
          AND trial_end >= trial_start
          AND NOT (converted AND converted_at IS NULL)
          AND NOT (NOT converted AND converted_at IS NOT NULL)
          AND event_at >= trial_start - INTERVAL ({int(far_outside_trial_days)}) DAY
          AND event_at <= trial_end + INTERVAL ({int(far_outside_trial_days)}) DAY
          AND event_at >= TIMESTAMP '{start}'
          AND event_at < CAST(CURRENT_DATE AS TIMESTAMP) + INTERVAL ({1 + int(future_event_margin_days)}) DAY
    """
    with duckdb.connect() as connection:
        connection.execute("SET TimeZone = 'UTC'")
        # Column names of real exports are upper case; DuckDB matches them case-insensitively.
        events = connection.execute(query).df()
    seconds = (events.event_at - events.trial_start).dt.total_seconds()
    events["trial_day"] = np.floor(seconds / SECONDS_PER_DAY).astype("int64")
    events["is_in_trial"] = (events.event_at >= events.trial_start) & (events.event_at <= events.trial_end)
    return events


def expected_marts(
    raw_csv_path: Path | str,
    goals: list[dict],
    *,
    start: str = "2024-01-01",
    far_outside_trial_days: int = 90,
    conversion_window_days: int | None = None,
    with_search: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(goals_df, activation_df): what marts.trial_goals and marts.trial_activation should hold.

    goals_df has one row per organization and goal (GOAL_COLUMNS), activation_df one row per
    organization (ACTIVATION_COLUMNS), both sorted by their grain. with_search adds to goals_df
    search_threshold and is_completed_on_search_threshold (the goal judged against the threshold
    derived on the search part of the held-out split).
    """
    events = load_events(raw_csv_path, start=start, far_outside_trial_days=far_outside_trial_days)
    organizations = organizations_of(events, conversion_window_days).sort_index()
    as_of = as_of_of(events)
    in_search = search_part(organizations)
    in_trial = events[events.is_in_trial]

    goal_frames = []
    for goal in goals:
        goal = _typed_goal(goal)
        matching = in_trial[in_trial.activity_name.str.fullmatch(_like_to_regex(goal["activity_pattern"]), na=False)]

        def count_in(first_day, last_day, matching=matching):
            if first_day is None or last_day is None:
                return None
            in_window = matching[(matching.trial_day >= first_day) & (matching.trial_day <= last_day)]
            return in_window.groupby("organization_id").size().reindex(organizations.index, fill_value=0)

        frame = pd.DataFrame(index=organizations.index)
        frame["goal_id"] = goal["goal_id"]
        frame["goal_kind"] = goal["goal_kind"]
        in_window = matching[
            (matching.trial_day >= goal["window_start_day"]) & (matching.trial_day <= goal["window_end_day"])
        ]
        if goal["goal_kind"] == "active_days":  # trial days of the window with a matching event
            frame["metric_value"] = (
                in_window.groupby("organization_id").trial_day.nunique().reindex(organizations.index, fill_value=0)
            )
        else:
            frame["metric_value"] = count_in(goal["window_start_day"], goal["window_end_day"])
        floor = goal["threshold_floor"]
        if goal["goal_kind"] == "steadiness":
            baseline = count_in(goal["baseline_start_day"], goal["baseline_end_day"])
            fallback = count_in(goal["fallback_start_day"], goal["fallback_end_day"])
            if fallback is not None:
                baseline = baseline.where(baseline > 0, fallback)
            frame["threshold"] = np.maximum(floor, goal["baseline_ratio"] * baseline.astype(float))
            frame["search_threshold"] = frame.threshold  # each organization's own, on any part
        else:
            if goal["fixed_threshold"] is not None:
                frame["threshold"] = frame["search_threshold"] = max(floor, goal["fixed_threshold"])
            else:
                closed = organizations.converted & window_closed(organizations, goal["window_end_day"], as_of)
                # every such converted organization, and those of the search part only
                for column, members in (("threshold", closed), ("search_threshold", closed & in_search)):
                    percentile = converted_percentile(frame.metric_value, members, goal["threshold_percentile"])
                    frame[column] = np.nan if percentile is None else max(floor, percentile)
        has_threshold = frame.threshold.notna()
        frame["is_completed"] = has_threshold & (frame.metric_value >= frame.threshold)
        frame["is_completed_on_search_threshold"] = frame.search_threshold.notna() & (
            frame.metric_value >= frame.search_threshold
        )
        frame["completion_pct"] = np.where(
            frame.threshold <= 0,
            100.0,
            np.minimum(100.0, 100.0 * frame.metric_value / frame.threshold.where(frame.threshold > 0, 1)),
        )
        frame["completion_pct"] = frame.completion_pct.where(has_threshold)
        # When the metric reaches n, for each n: the n-th matching event in time order (whatever each
        # row's trial_start), or for active_days the first event of the n-th active trial day.
        if goal["goal_kind"] == "active_days":
            steps = in_window.groupby(["organization_id", "trial_day"]).event_at.min().reset_index()
            steps = steps.sort_values(["organization_id", "trial_day"])
        else:
            steps = in_window.sort_values(["organization_id", "event_at"])
        steps["event_number"] = steps.groupby("organization_id").cumcount() + 1
        event_at = steps.set_index(["organization_id", "event_number"]).event_at
        needed = np.ceil(frame.threshold.fillna(1)).astype("int64")
        nth_event_at = event_at.reindex(pd.MultiIndex.from_arrays([frame.index, needed.clip(lower=1)])).to_numpy()
        window_start = (organizations.trial_start + pd.Timedelta(days=goal["window_start_day"])).to_numpy()
        completed_at = pd.Series(np.where(needed <= 0, window_start, nth_event_at), index=frame.index)
        frame["completed_at"] = completed_at.where(frame.is_completed).astype("datetime64[us]")
        _judge_at(frame, organizations, goal, as_of, needed)
        goal_frames.append(frame.reset_index())

    goals_df = pd.concat(goal_frames, ignore_index=True)
    search_columns = ["search_threshold", "is_completed_on_search_threshold"] if with_search else []
    goals_df = goals_df[GOAL_COLUMNS + search_columns].sort_values(["organization_id", "goal_id"]).reset_index(drop=True)

    by_org = goals_df.groupby("organization_id")
    activation = organizations.copy()
    activation["goals_total"] = by_org.size()
    activation["goals_completed"] = by_org.is_completed.sum()
    activation["is_activated"] = activation.goals_total == activation.goals_completed
    activation["goals_missed"] = by_org.goal_status.apply(lambda status: int((status == "missed").sum()))
    activation["activation_status"] = np.where(
        activation.is_activated, "activated", np.where(activation.goals_missed > 0, "not_activated", "in_progress")
    )
    activation["activated_at"] = by_org.completed_at.max().where(activation.is_activated)
    seconds = (activation.activated_at - activation.trial_start).dt.total_seconds()
    activation["days_to_activation"] = np.floor(seconds / SECONDS_PER_DAY).astype("Int64")
    # The mart averages completion_pct to 6 decimals in exact decimal arithmetic and rounds to 6 decimals.
    activation["activation_score"] = by_org.completion_pct.apply(
        lambda pct: round(float(pct.dropna().round(6).mean()), 6) if pct.notna().any() else 0.0
    )
    activation["as_of"] = as_of
    activation_df = activation.reset_index()[ACTIVATION_COLUMNS].sort_values("organization_id").reset_index(drop=True)
    return goals_df, activation_df


def as_of_of(events: pd.DataFrame) -> pd.Timestamp:
    """Midnight UTC after the latest event or conversion of the loaded rows."""
    latest = events.event_at.max()
    if events.converted_at.notna().any():
        latest = max(latest, events.converted_at.max())
    return pd.Timestamp(latest).normalize() + pd.Timedelta(days=1)


def converted_percentile(metric: pd.Series, members: pd.Series, percentile: float) -> float | None:
    """numpy.percentile (linear) of the members' metric; None when there is no member."""
    values = metric[members.reindex(metric.index, fill_value=False)]
    return float(np.percentile(values, percentile)) if len(values) else None


def search_part(organizations: pd.DataFrame, holdout_fraction: float | None = None) -> pd.Series:
    """The search part of the held-out split: final-outcome organizations not in the holdout."""
    holdout = holdout_of(organizations, holdout_fraction)
    return organizations.is_outcome_final & ~holdout


def holdout_of(organizations: pd.DataFrame, holdout_fraction: float | None = None) -> pd.Series:
    """The holdout: among the n organizations whose outcome is final, those with at least
    n - floor(holdout_fraction x n) of them starting strictly earlier (the latest trial starts; a tie at
    the cut stays in the search part). False for every other organization."""
    if holdout_fraction is None:
        holdout_fraction = configured_holdout_fraction()
    final = organizations.trial_start[organizations.is_outcome_final]
    n = len(final)
    earlier = np.searchsorted(np.sort(final.to_numpy()), final.to_numpy(), side="left")  # strictly earlier starts
    holdout = pd.Series(earlier >= n - math.floor(holdout_fraction * n), index=final.index, dtype=bool)
    return holdout.reindex(organizations.index, fill_value=False).astype(bool)


def window_closed(organizations: pd.DataFrame, window_end_day: int, as_of: pd.Timestamp) -> pd.Series:
    """The organizations whose window ending on trial day window_end_day had closed by as_of."""
    return organizations.trial_start + pd.Timedelta(days=int(window_end_day) + 1) <= as_of


def _judge_at(frame: pd.DataFrame, organizations: pd.DataFrame, goal: dict, as_of: pd.Timestamp, needed) -> None:
    """goal_status, window_closes_at, as_of and the open goals' columns, added to frame."""
    opens_at = organizations.trial_start + pd.Timedelta(days=goal["window_start_day"])
    closes_at = organizations.trial_start + pd.Timedelta(days=goal["window_end_day"] + 1)
    length = goal["window_end_day"] - goal["window_start_day"] + 1
    elapsed = np.floor((as_of - opens_at).dt.total_seconds() / SECONDS_PER_DAY).clip(0, length).astype("int64")
    has_threshold = frame.threshold.notna()
    status = np.where(
        frame.is_completed,
        "completed",
        np.where(~has_threshold, "awaiting_threshold", np.where(closes_at <= as_of, "missed", "open")),
    )
    frame["goal_status"] = status
    frame["window_closes_at"] = closes_at.astype("datetime64[us]")
    frame["as_of"] = as_of
    is_open = pd.Series(status == "open", index=frame.index)
    waiting = is_open | (status == "awaiting_threshold")
    frame["days_left_in_window"] = (length - elapsed).where(waiting).astype("Int64")
    frame["still_needed"] = (needed - frame.metric_value).where(is_open).astype("Int64")
    on_pace = frame.metric_value >= needed * elapsed / length
    frame["is_on_pace"] = on_pace.astype(object).where(is_open, None)


def _typed_goal(goal: dict) -> dict:
    """A seed row with empty strings as None and numbers as numbers."""
    integers = (
        "goal_order",
        "window_start_day",
        "window_end_day",
        "baseline_start_day",
        "baseline_end_day",
        "fallback_start_day",
        "fallback_end_day",
    )
    floats = ("threshold_percentile", "fixed_threshold", "threshold_floor", "baseline_ratio")
    typed = dict(goal)
    for key in integers + floats:
        value = goal.get(key)
        missing = value is None or (isinstance(value, str) and not value.strip())
        if missing or (isinstance(value, float) and math.isnan(value)):
            typed[key] = None
        else:
            typed[key] = int(float(value)) if key in integers else float(value)
    return typed


def _like_literal(text: str) -> str:
    """The LIKE pattern that matches text as itself (backslash, % and _ escaped with a backslash)."""
    return re.sub(r"([\\%_])", r"\\\1", text)


def _like_to_regex(pattern: str) -> str:
    """SQL LIKE (% any run, _ one character, a backslash makes the next character literal;
    case-sensitive as in DuckDB) as a regular expression."""
    parts = re.findall(r"\\.|.", pattern, re.DOTALL)
    return "".join(
        re.escape(part[1]) if len(part) == 2 else ".*" if part == "%" else "." if part == "_" else re.escape(part)
        for part in parts
    )


# --- the insight marts ----------------------------------------------------------------------------
#
# marts.goal_conversion and marts.candidate_goals from the same raw file, with scipy for the
# statistics (Wilson intervals from scipy.stats.binomtest, Newcombe's hybrid score interval built
# from them as in Newcombe (1998), Fisher's exact test, Benjamini-Hochberg):
# - only organizations whose outcome is final (is_outcome_final) are counted; the others of each
#   population are pending_organizations (none in the holdout, whose outcomes are all final);
# - the honest population of a goal (or candidate) with window end E: organizations that never
#   converted, or converted at or after trial_start + (E + 1) days (converted_at = the earliest);
#   for 'activation', E = the latest window_end_day of the goals;
# - a candidate's metric: its pattern's in-trial events in its window (every organization, 0 when
#   none); threshold = fixed, or numpy.percentile of the metrics of the converted organizations whose
#   window had closed by as_of (search threshold: those of the search part only); with no such
#   organization no threshold, and no organization completes it.


def organizations_of(events: pd.DataFrame, conversion_window_days: int | None = None) -> pd.DataFrame:
    """Each organization's trial_start (earliest), trial_end (latest), converted (any row),
    converted_at (earliest), and at as_of its trial_status and outcome_status."""
    if conversion_window_days is None:
        conversion_window_days = configured_conversion_window_days()
    organizations = events.groupby("organization_id").agg(
        trial_start=("trial_start", "min"),
        trial_end=("trial_end", "max"),
        converted=("converted", "any"),
        converted_at=("converted_at", "min"),
    )
    as_of = as_of_of(events)
    organizations["trial_status"] = np.where(as_of < organizations.trial_end, "in_trial", "ended")
    outcome_known = as_of >= organizations.trial_end + pd.Timedelta(days=int(conversion_window_days))
    organizations["outcome_status"] = np.where(
        organizations.converted, "converted", np.where(outcome_known, "not_converted", "pending")
    )
    organizations["is_outcome_final"] = outcome_known
    return organizations


def honest_mask(organizations: pd.DataFrame, window_end_day: int) -> pd.Series:
    window_end = organizations.trial_start + pd.Timedelta(days=int(window_end_day) + 1)
    return ~organizations.converted | (organizations.converted_at >= window_end)


def two_by_two_figures(completed: pd.Series, converted: pd.Series) -> dict:
    """Counts and statistics of completed x converted (boolean Series over the same organizations)."""
    from scipy import stats

    a, b = int((completed & converted).sum()), int((completed & ~converted).sum())
    c, d = int((~completed & converted).sum()), int((~completed & ~converted).sum())
    figures = {
        "organizations": a + b + c + d,
        "completed": a + b,
        "completed_converted": a,
        "not_completed": c + d,
        "not_completed_converted": c,
    }

    def wilson(x, n):
        if n == 0:
            return None, None
        ci = stats.binomtest(x, n).proportion_ci(confidence_level=0.95, method="wilson")
        return ci.low, ci.high

    p1 = a / (a + b) if a + b else None
    p2 = c / (c + d) if c + d else None
    l1, u1 = wilson(a, a + b)
    l2, u2 = wilson(c, c + d)
    defined = p1 is not None and p2 is not None
    low = p1 - p2 - math.hypot(p1 - l1, u2 - p2) if defined else None
    high = p1 - p2 + math.hypot(u1 - p1, p2 - l2) if defined else None
    figures.update(
        conversion_rate_completed=p1,
        conversion_rate_completed_low=l1,
        conversion_rate_completed_high=u1,
        conversion_rate_not_completed=p2,
        conversion_rate_not_completed_low=l2,
        conversion_rate_not_completed_high=u2,
        lift=p1 / p2 if defined and p2 > 0 else None,
        rate_difference=p1 - p2 if defined else None,
        rate_difference_low=low,
        rate_difference_high=high,
        p_value=stats.fisher_exact([[a, b], [c, d]], alternative="two-sided").pvalue,
        is_significant=bool(defined and (low > 0 or high < 0)),
    )
    return figures


def minimum_detectable_difference(n1: int, n2: int, p_base: float, tests: int = 1) -> float | None:
    """The smallest difference in conversion rates that groups of n1 and n2 organizations detect with
    80% power in a two-sided test at 5% / tests, on the arcsine scale: Cohen's h from statsmodels'
    NormalIndPower.solve_power (the documented tool; solving the power equation exactly with scipy
    instead, both tails counted, gives an h about 1e-6 away, since solve_power stops at a power of
    0.7999977 or so: more than the comparison's tolerance), then taken from p_base up and down
    (sin((2 asin sqrt(p_base) +- h) / 2)^2); the larger of the rise and the fall, None when a group is
    empty or either leaves [0, 1]."""
    from statsmodels.stats.power import NormalIndPower

    if n1 <= 0 or n2 <= 0:
        return None
    h = NormalIndPower().solve_power(
        effect_size=None, nobs1=n1, alpha=0.05 / tests, power=0.80, ratio=n2 / n1, alternative="two-sided"
    )
    phi = 2 * math.asin(math.sqrt(p_base))
    if phi + h > math.pi or phi - h < 0:
        return None
    return max(math.sin((phi + h) / 2) ** 2 - p_base, p_base - math.sin((phi - h) / 2) ** 2)


def mdd_of(figures: dict, tests: int = 1) -> float | None:
    """minimum_detectable_difference of a 2x2 table (two_by_two_figures), at its pooled rate."""
    converted = figures["completed_converted"] + figures["not_completed_converted"]
    pooled = converted / figures["organizations"] if figures["organizations"] else 0.0
    return minimum_detectable_difference(figures["completed"], figures["not_completed"], pooled, tests)


def auc_of(figures: dict) -> float | None:
    """Completing the goal as a yes/no predictor of conversion: (sensitivity + specificity) / 2, None
    when no organization converted or every one did."""
    a, c = figures["completed_converted"], figures["not_completed_converted"]
    b, d = figures["completed"] - a, figures["not_completed"] - c
    if a + c == 0 or b + d == 0:
        return None
    return (a / (a + c) + d / (b + d)) / 2


def expected_goal_conversion(raw_path: Path | str, goals: list[dict], **options) -> pd.DataFrame:
    """What marts.goal_conversion should hold: one row per goal (and 'activation') and population
    (all, unconverted_at_window_end, and holdout: the honest population among the holdout
    organizations, each goal judged against its search-part threshold)."""
    goals_df, activation_df = expected_marts(raw_path, goals, with_search=True, **options)
    organizations = organizations_of(
        load_events(raw_path, **{k: v for k, v in options.items() if k in ("start", "far_outside_trial_days")}),
        options.get("conversion_window_days"),
    )
    holdout = holdout_of(organizations)
    typed = [_typed_goal(goal) for goal in goals]
    completions = goals_df.pivot(index="organization_id", columns="goal_id", values="is_completed")
    on_search = goals_df.pivot(index="organization_id", columns="goal_id", values="is_completed_on_search_threshold")
    outcomes = [
        (g["goal_id"], g["goal_name"], g["goal_order"], completions[g["goal_id"]], on_search[g["goal_id"]], g["window_end_day"])
        for g in typed
    ]
    activated = activation_df.set_index("organization_id").is_activated
    outcomes.append(
        (
            "activation",
            "Activation (all goals)",
            max(g["goal_order"] for g in typed) + 1,
            activated,
            on_search[[g["goal_id"] for g in typed]].astype(bool).all(axis=1),
            max(g["window_end_day"] for g in typed),
        )
    )
    rows = []
    known = organizations.is_outcome_final
    for goal_id, goal_name, goal_order, completed, completed_on_search, window_end_day in outcomes:
        completed = completed.reindex(organizations.index).astype(bool)
        completed_on_search = completed_on_search.reindex(organizations.index).astype(bool)
        honest = honest_mask(organizations, window_end_day)
        for population, mask, done in (
            ("all", pd.Series(True, index=organizations.index), completed),
            ("unconverted_at_window_end", honest, completed),
            ("holdout", honest & holdout, completed_on_search),
        ):
            figures = two_by_two_figures(done[mask & known], organizations.converted[mask & known])
            rows.append(
                {
                    "goal_id": goal_id,
                    "goal_name": goal_name,
                    "goal_order": goal_order,
                    "population": population,
                    **figures,
                    "pending_organizations": int((mask & ~known).sum()),
                    "minimum_detectable_difference": mdd_of(figures),
                    "goal_auc": auc_of(figures),
                }
            )
    return pd.DataFrame(rows)


def _with_correction(candidates: pd.DataFrame) -> pd.DataFrame:
    """One population's candidates (sorted by candidate_id) with is_degenerate, duplicate_of and q_value:
    a table with an empty side tests nothing; a table identical to an earlier candidate's (by
    candidate_id) repeats that one's test; q-values (Benjamini-Hochberg, scipy) over the rest only."""
    from scipy import stats

    candidates = candidates.sort_values("candidate_id").reset_index(drop=True)
    empty_side = (candidates.completed == 0) | (candidates.not_completed == 0)
    first_seen: dict[tuple, str] = {}
    duplicate_of = []
    for row in candidates.itertuples(index=False):
        table = (row.completed, row.completed_converted, row.not_completed, row.not_completed_converted)
        first = first_seen.setdefault(table, row.candidate_id)
        duplicate_of.append(first if first != row.candidate_id else None)
    candidates["duplicate_of"] = pd.Series(duplicate_of, dtype=object).where(~empty_side, None)
    candidates["is_degenerate"] = empty_side | candidates.duplicate_of.notna()
    tested = ~candidates.is_degenerate
    candidates["q_value"] = np.nan
    if tested.any():
        candidates.loc[tested, "q_value"] = stats.false_discovery_control(candidates.p_value[tested].to_numpy(dtype=float))
    return candidates


def expected_candidate_goals(raw_path: Path | str, grid: list[dict], **options) -> pd.DataFrame:
    """What marts.candidate_goals should hold (without seed_row): one row per candidate, its figures on
    every final-outcome organization (all), on the search part (search_*: thresholds derived there) and
    on the holdout (holdout_*: the search part's thresholds held fixed), and is_recommended."""
    events = load_events(raw_path, **options)
    organizations = organizations_of(events)
    holdout = holdout_of(organizations)
    in_search = search_part(organizations)
    in_trial = events[events.is_in_trial]
    activities = sorted(in_trial.activity_name.unique())
    patterns: set[str] = set()
    for row in grid:
        if row["dimension"] != "activity_pattern":
            continue
        if row["value"] == "each_activity":
            patterns.update(_like_literal(a) for a in activities)
        elif row["value"] == "each_family":
            patterns.update(_like_literal(a[: a.find(".") + 1]) + "%" for a in activities if a.find(".") > 0)
        else:
            patterns.add(row["value"])
    windows = [r for r in grid if r["dimension"] == "window"]
    rules = [r for r in grid if r["dimension"] == "threshold"]
    converted = organizations.converted
    known = organizations.is_outcome_final
    as_of = as_of_of(events)
    rows = {"all": [], "search": [], "holdout": []}
    for pattern in sorted(patterns):
        matching = in_trial[in_trial.activity_name.str.fullmatch(_like_to_regex(pattern), na=False)]
        for window in windows:
            start, end = int(window["window_start_day"]), int(window["window_end_day"])
            in_window = matching[(matching.trial_day >= start) & (matching.trial_day <= end)]
            metric = in_window.groupby("organization_id").size().reindex(organizations.index, fill_value=0)
            honest = honest_mask(organizations, end) & known
            closed = converted & window_closed(organizations, end, as_of)
            for rule in rules:
                candidate_id = f"{pattern}|{window['value']}|{rule['value']}"
                percentile = float(rule["threshold_percentile"]) if rule.get("threshold_percentile") else None
                if percentile is None:
                    threshold = search_threshold = float(rule["fixed_threshold"])
                else:
                    threshold, search_threshold = (
                        np.nan if value is None else value
                        for value in (
                            converted_percentile(metric, closed, percentile),
                            converted_percentile(metric, closed & in_search, percentile),
                        )
                    )
                for population, members, cut in (
                    ("all", honest, threshold),
                    ("search", honest & in_search, search_threshold),
                    ("holdout", honest & holdout, search_threshold),
                ):
                    completed = metric >= cut  # never with no threshold (NaN)
                    rows[population].append(
                        {
                            "candidate_id": candidate_id,
                            "threshold": cut,
                            **two_by_two_figures(completed[members], converted[members]),
                        }
                    )
    candidates = _with_correction(pd.DataFrame(rows["all"]))
    search = _with_correction(pd.DataFrame(rows["search"])).set_index("candidate_id")
    holdout_part = pd.DataFrame(rows["holdout"]).set_index("candidate_id")
    tested = int((~candidates.is_degenerate).sum())
    candidates["distinct_candidates_tested"] = tested
    candidates["minimum_detectable_difference"] = [
        mdd_of(row, tests=max(tested, 1)) for row in candidates.to_dict("records")
    ]
    support = configured_min_support()
    candidates["is_supported"] = (candidates.completed >= support) & (candidates.not_completed >= support)
    ids = candidates.candidate_id
    for column in ("organizations", "threshold", "rate_difference", "p_value", "q_value"):
        candidates[f"search_{column}"] = ids.map(search[column])
    for column in ("organizations", "completed", "rate_difference", "rate_difference_low", "rate_difference_high", "p_value"):
        candidates[f"holdout_{column}"] = ids.map(holdout_part[column])

    def number(column):
        return pd.to_numeric(candidates[column], errors="coerce").astype(float)

    search_difference, low, high = number("search_rate_difference"), number("holdout_rate_difference_low"), number("holdout_rate_difference_high")
    holds = ((search_difference > 0) & (low > 0)) | ((search_difference < 0) & (high < 0))
    candidates["is_recommended"] = candidates.is_supported & (number("search_q_value") < 0.05) & holds
    return candidates
