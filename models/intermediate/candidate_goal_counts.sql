/* The 2x2 table of every candidate goal on each population: one row per candidate and population
   (intermediate.candidate_thresholds). The population is that of marts.goal_conversion, organizations
   not converted when the candidate's window ended whose outcome is known (the pending ones are counted
   in marts.goal_conversion_counts), taken whole (all), or its search part or its holdout
   (intermediate.cohort_split). Each candidate's metric comes from the goal engine
   (intermediate.window_metrics), as the goals' does. */
MODEL (
  name intermediate.candidate_goal_counts,
  kind FULL,
  cron '@weekly',
  grain (candidate_id, population),
  audits (
    not_null(columns := (candidate_id, population, organizations, completed, not_completed)),
    unique_combination_of_columns(columns := (candidate_id, population)),
    two_by_two_adds_up
  )
);

WITH windows AS (
  SELECT DISTINCT
    window_label,
    window_start_day,
    window_end_day
  FROM intermediate.candidate_thresholds
), honest_organizations AS (
  /* per window and population: the organizations not converted when the window ended, outcome known */
  SELECT
    o.organization_id,
    o.converted,
    w.window_label,
    p.population
  FROM intermediate.trial_organizations AS o
  INNER JOIN intermediate.cohort_split AS c
    ON o.organization_id = c.organization_id
  CROSS JOIN windows AS w
  INNER JOIN (
    SELECT DISTINCT
      population
    FROM intermediate.candidate_thresholds
  ) AS p
    ON p.population = 'all' OR (
      p.population = 'holdout'
    ) = c.is_holdout
  WHERE
    NOT o.converted
    OR o.converted_at >= o.trial_start + INTERVAL '1' DAY * (
      w.window_end_day + 1
    )
), population AS (
  SELECT
    window_label,
    population,
    COUNT(*) AS organizations,
    COUNT(*) FILTER(WHERE
      converted) AS converted_total
  FROM honest_organizations
  GROUP BY
    window_label,
    population
), metric_histogram AS (
  /* per pattern, window and population, how many organizations have each number of events (and how
     many of them converted): the candidates' thresholds are compared with these few rows, and the
     aggregate keeps engines from joining the candidates to every organization first */
  SELECT
    m.activity_pattern,
    h.window_label,
    h.population,
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
    h.window_label,
    h.population,
    m.events
), reached AS (
  SELECT
    c.candidate_id,
    c.population,
    SUM(m.organizations)::BIGINT AS reached, /* BIGINT: a SUM is HUGEINT in DuckDB */
    SUM(m.converted_organizations)::BIGINT AS reached_converted
  FROM intermediate.candidate_thresholds AS c
  INNER JOIN metric_histogram AS m
    ON m.activity_pattern = c.activity_pattern
    AND m.window_label = c.window_label
    AND m.population = c.population
    AND m.events >= c.threshold
  GROUP BY
    c.candidate_id,
    c.population
), counted AS (
  /* a threshold of 0 is reached without any event: by every organization of the population */
  SELECT
    c.*,
    COALESCE(p.organizations, 0) AS organizations,
    COALESCE(p.converted_total, 0) AS converted_total,
    CASE
      WHEN c.threshold <= 0
      THEN COALESCE(p.organizations, 0)
      ELSE COALESCE(r.reached, 0)
    END AS completed,
    CASE
      WHEN c.threshold <= 0
      THEN COALESCE(p.converted_total, 0)
      ELSE COALESCE(r.reached_converted, 0)
    END AS completed_converted
  FROM intermediate.candidate_thresholds AS c
  LEFT JOIN population AS p
    ON c.window_label = p.window_label AND c.population = p.population
  LEFT JOIN reached AS r
    ON c.candidate_id = r.candidate_id AND c.population = r.population
)
SELECT
  candidate_id, /* activity_pattern|window|threshold_rule, e.g. Scheduling.%|0-6|p75 */
  population, /* all, search (the earlier trials) or holdout (the later ones; the search part's threshold) */
  activity_pattern, /* SQL LIKE pattern on activity_name (a backslash escapes %, _ and itself) */
  window_start_day, /* first trial day (0-based) of the counted window */
  window_end_day, /* last trial day (inclusive) of the counted window */
  threshold_rule, /* the grid's threshold label, e.g. at_least_1 or p75 */
  threshold_percentile, /* percentile (0-100) of converted organizations' counts; NULL for a fixed threshold */
  fixed_threshold, /* fixed threshold; NULL for a percentile */
  converted_org_count, /* converted organizations the percentile is taken over */
  threshold, /* events needed: the fixed threshold or the percentile */
  organizations, /* organizations of the population not converted when the window ended */
  completed, /* of which reached the threshold */
  completed_converted, /* of which reached it and converted */
  organizations - completed AS not_completed, /* of which did not reach it */
  converted_total - completed_converted AS not_completed_converted /* of which did not reach it but converted */
FROM counted