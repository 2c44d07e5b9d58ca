/* Every candidate goal of the search grid (seeds/candidate_goal_grid.csv: activity pattern x window x
   threshold rule), its threshold and its 2x2 table on the honest population: one row per candidate.
   A candidate is a window_count goal an analyst could adopt as one seed row; its metric and its
   percentile threshold come from the goal engine (intermediate.window_metrics, window_thresholds), as
   the goals' do, so a candidate equal to a goal has that goal's threshold. The population is that of
   marts.goal_conversion: organizations not converted when the window ended, whose outcome is known (the
   pending ones are counted in marts.goal_conversion_counts). */
MODEL (
  name intermediate.candidate_goal_counts,
  kind FULL,
  cron '@weekly',
  grain candidate_id,
  audits (
    not_null(columns := (candidate_id, organizations, completed, not_completed)),
    unique_values(columns := (
      candidate_id
    )),
    two_by_two_adds_up
  )
);

WITH windows AS (
  SELECT
    value AS window_label,
    window_start_day,
    window_end_day
  FROM staging.candidate_goal_grid
  WHERE
    dimension = 'window'
), candidates AS (
  SELECT
    p.activity_pattern || '|' || w.window_label || '|' || r.value AS candidate_id,
    p.activity_pattern,
    w.window_label,
    w.window_start_day,
    w.window_end_day,
    r.value AS threshold_rule,
    r.threshold_percentile,
    r.fixed_threshold,
    COALESCE(t.converted_org_count, 0) AS converted_org_count,
    COALESCE(r.fixed_threshold, t.percentile_value) AS threshold
  FROM (
    SELECT DISTINCT
      activity_pattern
    FROM intermediate.goal_windows
    WHERE
      is_candidate
  ) AS p
  CROSS JOIN windows AS w
  CROSS JOIN staging.candidate_goal_grid AS r
  LEFT JOIN intermediate.window_thresholds AS t
    ON t.activity_pattern = p.activity_pattern
    AND t.window_start_day = w.window_start_day
    AND t.window_end_day = w.window_end_day
    AND t.measure = 'events'
    AND t.threshold_percentile = r.threshold_percentile
  WHERE
    r.dimension = 'threshold'
), honest_organizations AS (
  /* per window: the organizations not converted when it ended, whose outcome is known */
  SELECT
    o.organization_id,
    o.converted,
    w.window_label
  FROM intermediate.trial_organizations AS o
  CROSS JOIN windows AS w
  WHERE
    o.outcome_status <> 'pending'
    AND (
      NOT o.converted
      OR o.converted_at >= o.trial_start + INTERVAL '1' DAY * (
        w.window_end_day + 1
      )
    )
), population AS (
  SELECT
    window_label,
    COUNT(*) AS organizations,
    COUNT(*) FILTER(WHERE
      converted) AS converted_total
  FROM honest_organizations
  GROUP BY
    window_label
), metric_histogram AS (
  /* per pattern and window, how many organizations of the honest population have each number of
     events (and how many of them converted): the candidates' thresholds are compared with these few
     rows, and the aggregate keeps engines from joining the candidates to every organization first */
  SELECT
    m.activity_pattern,
    w.window_label,
    m.events,
    COUNT(*) AS organizations,
    COUNT(*) FILTER(WHERE
      h.converted) AS converted_organizations
  FROM intermediate.window_metrics AS m
  INNER JOIN windows AS w
    ON w.window_start_day = m.window_start_day AND w.window_end_day = m.window_end_day
  INNER JOIN honest_organizations AS h
    ON h.organization_id = m.organization_id AND h.window_label = w.window_label
  GROUP BY
    m.activity_pattern,
    w.window_label,
    m.events
), reached AS (
  SELECT
    c.candidate_id,
    SUM(m.organizations)::BIGINT AS reached, /* BIGINT: a SUM is HUGEINT in DuckDB */
    SUM(m.converted_organizations)::BIGINT AS reached_converted
  FROM candidates AS c
  INNER JOIN metric_histogram AS m
    ON m.activity_pattern = c.activity_pattern
    AND m.window_label = c.window_label
    AND m.events >= c.threshold
  GROUP BY
    c.candidate_id
), counted AS (
  /* a threshold of 0 is reached without any event: by every organization of the population */
  SELECT
    c.*,
    p.organizations,
    p.converted_total,
    CASE WHEN c.threshold <= 0 THEN p.organizations ELSE COALESCE(r.reached, 0) END AS completed,
    CASE
      WHEN c.threshold <= 0
      THEN p.converted_total
      ELSE COALESCE(r.reached_converted, 0)
    END AS completed_converted
  FROM candidates AS c
  INNER JOIN population AS p
    ON c.window_label = p.window_label
  LEFT JOIN reached AS r
    ON c.candidate_id = r.candidate_id
)
SELECT
  candidate_id, /* activity_pattern|window|threshold_rule, e.g. Scheduling.%|0-6|p75 */
  activity_pattern, /* SQL LIKE pattern on activity_name (a backslash escapes %, _ and itself) */
  window_start_day, /* first trial day (0-based) of the counted window */
  window_end_day, /* last trial day (inclusive) of the counted window */
  threshold_rule, /* the grid's threshold label, e.g. at_least_1 or p75 */
  threshold_percentile, /* percentile (0-100) of converted organizations' counts; NULL for a fixed threshold */
  fixed_threshold, /* fixed threshold; NULL for a percentile */
  converted_org_count, /* converted organizations the percentile is taken over */
  threshold, /* events needed: the fixed threshold or the percentile */
  organizations, /* organizations not converted when the window ended */
  completed, /* of which reached the threshold */
  completed_converted, /* of which reached it and converted */
  organizations - completed AS not_completed, /* of which did not reach it */
  converted_total - completed_converted AS not_completed_converted /* of which did not reach it but converted */
FROM counted