/* The floor: marts.trial_goals and marts.trial_activation computed by hand, straight from the raw
   Parquet files, in the fewest statements DuckDB needs (one pass over the files into a temporary
   table of distinct valid events, then one statement per result table).

   The same rules as the SQLMesh models, so it is the same work: the quarantine rules for typed
   input, exact-duplicate removal, trial_day from each row's trial_start, organizations resolved to
   the earliest trial_start / latest trial_end / earliest conversion, the goals of
   seeds/activation_goals.csv, continuous percentiles over converted organizations (quantile_cont),
   steadiness against the organization's own baseline (or fallback), and completed_at as the
   CEIL(threshold)-th matching event of the window. benchmarks/run_benchmark.py checks that both
   tables equal the marts.

   Placeholders filled in by run_benchmark.py: {events} (a path or glob of Parquet files), {goals}
   (the goals seed CSV), {fractions} (the seed's distinct percentiles / 100, as a DuckDB list, since
   quantile_cont needs constant fractions), {far_outside_trial_days}. */

CREATE TEMP TABLE goals AS
SELECT
  *
FROM READ_CSV(
  '{goals}',
  header = TRUE,
  columns = {
    'goal_id': 'TEXT',
    'goal_order': 'INT',
    'goal_name': 'TEXT',
    'description': 'TEXT',
    'goal_kind': 'TEXT',
    'activity_pattern': 'TEXT',
    'window_start_day': 'INT',
    'window_end_day': 'INT',
    'threshold_percentile': 'DOUBLE',
    'fixed_threshold': 'DOUBLE',
    'threshold_floor': 'DOUBLE',
    'baseline_ratio': 'DOUBLE',
    'baseline_start_day': 'INT',
    'baseline_end_day': 'INT',
    'fallback_start_day': 'INT',
    'fallback_end_day': 'INT'
  }
);

CREATE TEMP TABLE events AS
WITH typed AS (
  SELECT
    NULLIF(TRIM(CAST(organization_id AS TEXT)), '') AS organization_id,
    NULLIF(TRIM(CAST(activity_name AS TEXT)), '') AS activity_name,
    TRY_CAST("timestamp" AS TIMESTAMP) AS event_at,
    TRY_CAST(converted AS BOOLEAN) AS converted,
    TRY_CAST(converted_at AS TIMESTAMP) AS converted_at,
    TRY_CAST(trial_start AS TIMESTAMP) AS trial_start,
    TRY_CAST(trial_end AS TIMESTAMP) AS trial_end
  FROM READ_PARQUET('{events}', union_by_name = TRUE, hive_partitioning = FALSE)
)
SELECT DISTINCT
  organization_id,
  activity_name,
  event_at,
  trial_start,
  trial_end,
  converted,
  converted_at
FROM typed
WHERE
  organization_id IS NOT NULL
  AND activity_name IS NOT NULL
  AND event_at IS NOT NULL
  AND trial_start IS NOT NULL
  AND trial_end IS NOT NULL
  AND converted IS NOT NULL
  AND trial_end >= trial_start
  AND (converted = (converted_at IS NOT NULL))
  AND event_at BETWEEN trial_start - INTERVAL ({far_outside_trial_days}) DAY AND trial_end + INTERVAL ({far_outside_trial_days}) DAY;

CREATE TABLE trial_goals AS
WITH organizations AS (
  SELECT
    organization_id,
    MIN(trial_start) AS trial_start,
    BOOL_OR(converted) AS converted
  FROM events
  GROUP BY
    organization_id
), in_trial AS (
  SELECT
    organization_id,
    activity_name,
    event_at,
    CAST(FLOOR(DATE_DIFF('second', trial_start, event_at) / 86400) AS INT) AS trial_day
  FROM events
  WHERE
    event_at BETWEEN trial_start AND trial_end
), goal_activity AS (
  SELECT
    e.organization_id,
    g.goal_id,
    COUNT(*) FILTER (WHERE e.trial_day BETWEEN g.window_start_day AND g.window_end_day) AS window_events,
    COUNT(*) FILTER (WHERE e.trial_day BETWEEN g.baseline_start_day AND g.baseline_end_day) AS baseline_events,
    COUNT(*) FILTER (WHERE e.trial_day BETWEEN g.fallback_start_day AND g.fallback_end_day) AS fallback_events
  FROM in_trial AS e
  INNER JOIN goals AS g
    ON e.activity_name LIKE g.activity_pattern
  GROUP BY
    e.organization_id,
    g.goal_id
), metrics AS (
  SELECT
    o.organization_id,
    o.trial_start,
    o.converted,
    g.*,
    COALESCE(a.window_events, 0) AS metric_value,
    CASE
      WHEN g.goal_kind <> 'steadiness' THEN NULL
      WHEN COALESCE(a.baseline_events, 0) > 0 OR g.fallback_start_day IS NULL THEN COALESCE(a.baseline_events, 0)
      ELSE COALESCE(a.fallback_events, 0)
    END AS baseline_value
  FROM organizations AS o
  CROSS JOIN goals AS g
  LEFT JOIN goal_activity AS a
    ON o.organization_id = a.organization_id AND g.goal_id = a.goal_id
), thresholds AS (
  SELECT
    goal_id,
    LIST_EXTRACT(
      QUANTILE_CONT(metric_value, {fractions}),
      LIST_POSITION({fractions}, ANY_VALUE(threshold_percentile) / 100)
    ) AS percentile_value
  FROM metrics
  WHERE
    converted AND threshold_percentile IS NOT NULL
  GROUP BY
    goal_id
), evaluated AS (
  SELECT
    m.organization_id,
    m.goal_id,
    m.goal_name,
    m.goal_kind,
    m.activity_pattern,
    m.window_start_day,
    m.window_end_day,
    m.trial_start,
    m.metric_value,
    CASE
      WHEN m.goal_kind = 'steadiness'
      THEN GREATEST(m.threshold_floor, m.baseline_ratio * m.baseline_value)
      ELSE GREATEST(m.threshold_floor, COALESCE(m.fixed_threshold, t.percentile_value))
    END AS threshold
  FROM metrics AS m
  LEFT JOIN thresholds AS t
    ON m.goal_id = t.goal_id
), completing_events AS (
  SELECT
    organization_id,
    goal_id,
    event_at
  FROM (
    SELECT
      v.organization_id,
      v.goal_id,
      e.event_at,
      CAST(CEIL(v.threshold) AS BIGINT) AS events_needed,
      ROW_NUMBER() OVER (PARTITION BY v.organization_id, v.goal_id ORDER BY e.event_at) AS event_number
    FROM evaluated AS v
    INNER JOIN in_trial AS e
      ON v.organization_id = e.organization_id
      AND e.trial_day BETWEEN v.window_start_day AND v.window_end_day
      AND e.activity_name LIKE v.activity_pattern
    WHERE
      v.metric_value >= v.threshold AND v.threshold > 0
  )
  WHERE
    event_number = events_needed
)
SELECT
  v.organization_id,
  v.goal_id,
  v.goal_name,
  v.goal_kind,
  v.metric_value,
  v.threshold,
  CAST(CASE WHEN v.threshold <= 0 THEN 100 ELSE LEAST(100, 100 * v.metric_value / v.threshold) END AS DOUBLE) AS completion_pct,
  v.metric_value >= v.threshold AS is_completed,
  CASE
    WHEN v.metric_value < v.threshold THEN NULL
    WHEN v.threshold <= 0 THEN v.trial_start + INTERVAL (v.window_start_day) DAY
    ELSE c.event_at
  END AS completed_at
FROM evaluated AS v
LEFT JOIN completing_events AS c
  ON v.organization_id = c.organization_id AND v.goal_id = c.goal_id;

CREATE TABLE trial_activation AS
WITH organizations AS (
  SELECT
    organization_id,
    MIN(trial_start) AS trial_start,
    MAX(trial_end) AS trial_end,
    BOOL_OR(converted) AS converted,
    MIN(converted_at) AS converted_at,
    COUNT(DISTINCT trial_start) > 1
    OR COUNT(DISTINCT trial_end) > 1
    OR COUNT(DISTINCT converted) > 1
    OR COUNT(DISTINCT converted_at) > 1
    OR (BOOL_OR(converted_at IS NULL) AND BOOL_OR(converted_at IS NOT NULL)) AS has_conflicting_attributes
  FROM events
  GROUP BY
    organization_id
), goal_summary AS (
  SELECT
    organization_id,
    COUNT(*) AS goals_total,
    COUNT(*) FILTER (WHERE is_completed) AS goals_completed,
    MAX(completed_at) AS last_completed_at,
    ROUND(AVG(completion_pct::DECIMAL(18, 6)), 6)::DOUBLE AS activation_score /* the marts' exact rule */
  FROM trial_goals
  GROUP BY
    organization_id
)
SELECT
  o.organization_id,
  o.trial_start,
  o.trial_end,
  o.converted,
  o.converted_at,
  CASE
    WHEN NOT o.converted THEN 'not_converted'
    WHEN o.converted_at < o.trial_start THEN 'before_trial'
    WHEN o.converted_at <= o.trial_end THEN 'during_trial'
    ELSE 'after_trial'
  END AS conversion_timing,
  o.has_conflicting_attributes,
  COALESCE(g.goals_total, 0) AS goals_total,
  COALESCE(g.goals_completed, 0) AS goals_completed,
  COALESCE(g.goals_total = g.goals_completed, FALSE) AS is_activated,
  CASE WHEN g.goals_total = g.goals_completed THEN g.last_completed_at END AS activated_at,
  CASE
    WHEN g.goals_total = g.goals_completed
    THEN CAST(FLOOR(DATE_DIFF('second', o.trial_start, g.last_completed_at) / 86400) AS INT)
  END AS days_to_activation,
  COALESCE(g.activation_score, 0) AS activation_score
FROM organizations AS o
LEFT JOIN goal_summary AS g
  ON o.organization_id = g.organization_id;
