/* Every candidate goal of the search grid (seeds/candidate_goal_grid.csv: activity pattern x window x
   threshold rule) and its threshold for each population it is counted on: one row per candidate and
   population. A candidate is a window_count goal an analyst could adopt as one seed row; its percentile
   comes from the goal engine (intermediate.window_thresholds), as the goals' does, so a candidate equal
   to a goal has that goal's threshold on population all. On the search part and the holdout of the
   held-out split (intermediate.cohort_split), it is the search part's percentile: chosen on the earlier
   trials, checked on the later ones with the threshold held fixed. */
MODEL (
  name intermediate.candidate_thresholds,
  kind FULL,
  cron '@weekly', /* with the search it serves (intermediate.candidate_goal_counts) */
  grain (candidate_id, population),
  audits (
    not_null(
      columns := (candidate_id, population, activity_pattern, window_label, threshold_rule)
    ),
    unique_combination_of_columns(columns := (candidate_id, population)),
    accepted_values("column" := population, is_in := ('all', 'search', 'holdout'))
  )
);

WITH populations AS (
  SELECT
    'all' AS population,
    'all' AS threshold_population
  UNION ALL
  SELECT
    'search',
    'search'
  UNION ALL
  SELECT
    'holdout',
    'search'
)
SELECT
  p.activity_pattern || '|' || w.value || '|' || r.value AS candidate_id, /* activity_pattern|window|threshold_rule, e.g. Scheduling.%|0-6|p75 */
  s.population, /* all (every organization), search (the earlier trials) or holdout (the later ones) */
  p.activity_pattern, /* SQL LIKE pattern on activity_name (a backslash escapes %, _ and itself) */
  w.value AS window_label, /* the grid's window label, e.g. 0-6 */
  w.window_start_day, /* first trial day (0-based) of the counted window */
  w.window_end_day, /* last trial day (inclusive) of the counted window */
  r.value AS threshold_rule, /* the grid's threshold label, e.g. at_least_1 or p75 */
  r.threshold_percentile, /* percentile (0-100) of converted organizations' counts; NULL for a fixed threshold */
  r.fixed_threshold, /* fixed threshold; NULL for a percentile */
  COALESCE(t.converted_org_count, 0) AS converted_org_count, /* converted organizations the percentile is taken over */
  COALESCE(r.fixed_threshold, t.percentile_value) AS threshold /* events needed: the fixed threshold or the percentile; NULL with no converted organization */
FROM (
  SELECT DISTINCT
    activity_pattern
  FROM intermediate.goal_windows
  WHERE
    is_candidate
) AS p
CROSS JOIN staging.candidate_goal_grid AS w
CROSS JOIN staging.candidate_goal_grid AS r
CROSS JOIN populations AS s
LEFT JOIN intermediate.window_thresholds AS t
  ON t.activity_pattern = p.activity_pattern
  AND t.window_start_day = w.window_start_day
  AND t.window_end_day = w.window_end_day
  AND t.measure = 'events'
  AND t.threshold_percentile = r.threshold_percentile
  AND t.population = s.threshold_population
WHERE
  w.dimension = 'window' AND r.dimension = 'threshold'