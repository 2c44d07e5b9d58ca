/* The threshold of each trial goal: one row per goal of seeds/activation_goals.csv. A goal's threshold
   is its fixed_threshold, or its percentile of converted organizations' metric
   (intermediate.window_thresholds), never below threshold_floor; none yet while no converted
   organization's window has closed. A steadiness goal has none here:
   each organization's own is baseline_ratio x its baseline (@organization_threshold, marts.trial_goals). */
MODEL (
  name intermediate.goal_thresholds,
  kind FULL,
  grain goal_id,
  audits (
    not_null(columns := (goal_id, goal_kind, threshold_floor)),
    unique_values(columns := (
      goal_id
    )),
    goals_have_threshold
  )
);

SELECT
  g.goal_id, /* goal key from seeds/activation_goals.csv */
  g.goal_kind, /* window_count, active_days or steadiness */
  g.threshold_percentile, /* percentile (0-100) asked for by the goal; NULL for fixed and steadiness goals */
  t.converted_org_count, /* converted organizations the percentile is taken over (those whose window had closed by as_of); NULL when not a percentile goal */
  t.percentile_value, /* continuous percentile of converted organizations' metric; NULL when not a percentile goal */
  g.fixed_threshold, /* fixed threshold asked for by the goal, if any */
  g.threshold_floor, /* the threshold is never below this */
  CASE
    WHEN g.goal_kind <> 'steadiness'
    AND NOT COALESCE(g.fixed_threshold, t.percentile_value) IS NULL
    THEN GREATEST(g.threshold_floor, COALESCE(g.fixed_threshold, t.percentile_value))
  END AS threshold, /* GREATEST(floor, fixed or percentile); NULL for steadiness, and for a percentile goal with no converted organization yet (its goals are open: the goals_have_threshold audit warns) */
  CASE
    WHEN g.goal_kind <> 'steadiness'
    AND NOT COALESCE(g.fixed_threshold, s.percentile_value) IS NULL
    THEN GREATEST(g.threshold_floor, COALESCE(g.fixed_threshold, s.percentile_value))
  END AS search_threshold, /* the same derived on the search part of the held-out split only (intermediate.cohort_split): the threshold checked on the holdout */
  g.baseline_ratio /* steadiness: required share of the baseline window's events */
FROM staging.activation_goals AS g
LEFT JOIN intermediate.window_thresholds AS t
  ON t.activity_pattern = g.activity_pattern
  AND t.window_start_day = g.window_start_day
  AND t.window_end_day = g.window_end_day
  AND t.threshold_percentile = g.threshold_percentile
  AND t.measure = CASE WHEN g.goal_kind = 'active_days' THEN 'active_days' ELSE 'events' END
  AND g.goal_kind <> 'steadiness'
  AND t.population = 'all'
LEFT JOIN intermediate.window_thresholds AS s
  ON s.activity_pattern = t.activity_pattern
  AND s.window_start_day = t.window_start_day
  AND s.window_end_day = t.window_end_day
  AND s.threshold_percentile = t.threshold_percentile
  AND s.measure = t.measure
  AND s.population = 'search';

@warn_goals_without_threshold() /* Names the goals that the non-blocking goals_have_threshold audit finds. */