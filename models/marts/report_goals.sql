/* Each goal as the report and `trial-activation compare` show it: one row per goal of the seed, in
   goal_order. What it means, how its threshold is set (the rule in words, the threshold, the
   percentile and the floor behind it) and how many organizations completed it. */
MODEL (
  name marts.report_goals,
  kind FULL,
  grain (
    goal_id
  ),
  audits (
    not_null(
      columns := (
        goal_id,
        goal_name,
        goal_order,
        goal_kind,
        threshold_rule,
        organizations,
        completed
      )
    ),
    unique_values(columns := (
      goal_id
    )),
    accepted_range("column" := completion_rate, min_v := 0, max_v := 1)
  )
);

WITH completion AS (
  SELECT
    goal_id,
    COUNT(*) AS organizations,
    COUNT(*) FILTER(WHERE
      is_completed) AS completed
  FROM marts.trial_goals
  GROUP BY
    goal_id
)
SELECT
  s.goal_id, /* goal key from seeds/activation_goals.csv */
  s.goal_name, /* human-readable goal name */
  s.goal_order, /* position in the funnel */
  s.description, /* what completing the goal means, in words */
  s.goal_kind, /* window_count, active_days or steadiness */
  CASE
    WHEN t.goal_kind = 'steadiness'
    THEN (
      CASE
        WHEN t.baseline_ratio = FLOOR(t.baseline_ratio)
        THEN t.baseline_ratio::BIGINT::TEXT
        ELSE t.baseline_ratio::TEXT
      END
    ) || ' x baseline'
    WHEN NOT t.fixed_threshold IS NULL
    THEN 'fixed'
    ELSE 'p' || (
      CASE
        WHEN t.threshold_percentile = FLOOR(t.threshold_percentile)
        THEN t.threshold_percentile::BIGINT::TEXT
        ELSE t.threshold_percentile::TEXT
      END
    )
  END AS threshold_rule, /* how the threshold is set: pNN (a percentile of converted organizations), fixed, or R x baseline (steadiness); a whole number without decimals on every engine (a DOUBLE 75 is '75.0' as text on DuckDB, '75' on PostgreSQL) */
  t.threshold, /* events (or active days) needed; NULL for steadiness, whose threshold is per organization */
  t.percentile_value, /* the percentile behind a pNN threshold, before the floor; NULL otherwise */
  t.threshold_floor, /* the threshold is never below this */
  COALESCE(t.percentile_value < t.threshold, FALSE) AS is_floor_the_threshold, /* the floor, not the percentile (below it), sets the threshold */
  t.baseline_ratio, /* steadiness: required share of the baseline window's events */
  COALESCE(c.organizations, 0) AS organizations, /* organizations evaluated */
  COALESCE(c.completed, 0) AS completed, /* of which completed the goal */
  c.completed::DOUBLE / NULLIF(c.organizations, 0) AS completion_rate /* completed / organizations (0-1); NULL when none */
FROM staging.activation_goals AS s
INNER JOIN intermediate.goal_thresholds AS t
  ON s.goal_id = t.goal_id
LEFT JOIN completion AS c
  ON s.goal_id = c.goal_id