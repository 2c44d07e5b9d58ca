/* The goal engine: each organization's in-trial events, and active trial days, over every (activity
   pattern, window) of intermediate.goal_windows. One row per organization, pattern and window with at
   least one matching event; an organization without a row counts 0. Goals, steadiness baselines,
   thresholds and candidates all read their metric here (a metric "as of" a day is the same query on
   event_date <= that day). */
MODEL (
  name intermediate.window_metrics,
  kind FULL,
  grain (organization_id, activity_pattern, window_start_day, window_end_day),
  audits (
    not_null(
      columns := (organization_id, activity_pattern, window_start_day, window_end_day, events)
    ),
    unique_combination_of_columns(columns := (organization_id, activity_pattern, window_start_day, window_end_day)),
    accepted_range("column" := events, min_v := 1)
  )
);

SELECT
  d.organization_id, /* the trialist organization */
  w.activity_pattern, /* SQL LIKE pattern on activity_name */
  w.window_start_day, /* first trial day (0-based) of the window */
  w.window_end_day, /* last trial day (inclusive) of the window */
  SUM(d.in_trial_events)::BIGINT AS events, /* matching in-trial events in the window (BIGINT: a SUM is HUGEINT in DuckDB) */
  COUNT(DISTINCT d.trial_day) FILTER(WHERE
    w.needs_active_days) AS active_days /* trial days with a matching event; only where an active_days goal asks (else 0) */
FROM intermediate.org_days AS d
INNER JOIN intermediate.goal_windows AS w
  ON d.activity_name = w.activity_name
  AND d.trial_day BETWEEN w.window_start_day AND w.window_end_day
WHERE
  d.in_trial_events > 0
GROUP BY
  d.organization_id,
  w.activity_pattern,
  w.window_start_day,
  w.window_end_day