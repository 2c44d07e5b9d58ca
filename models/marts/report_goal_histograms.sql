/* Each goal's distribution, converted vs not: one row per goal, converted and bin of the goal's
   metric (bins with no organization are left out). The metric is the goal's count, or for a
   steadiness goal its window events over its baseline events, what the seed's baseline_ratio applies
   to; organizations without baseline events have no ratio and are counted in a row with bin NULL.
   The axis runs from 0 to the report_histogram_tail_quantile of the metric (or the line, if higher) in
   report_histogram_bins bins, whole-number wide for counts; the last bin also counts the tail. */
MODEL (
  name marts.report_goal_histograms,
  kind FULL,
  grain (goal_id, converted, bin),
  audits (
    not_null(
      columns := (goal_id, converted, bin_width, bin_count, tail_quantile, organizations)
    ),
    unique_combination_of_columns(columns := (goal_id, converted, bin)),
    accepted_range("column" := bin, min_v := 0, max_v := @VAR('report_histogram_bins') - 1),
    accepted_range("column" := share, min_v := 0, max_v := 1)
  )
);

WITH metric AS (
  SELECT
    g.goal_id,
    a.converted,
    CASE
      WHEN g.goal_kind = 'steadiness'
      THEN g.metric_value::DOUBLE / NULLIF(m.baseline_value, 0)
      ELSE g.metric_value::DOUBLE
    END AS x,
    g.goal_kind = 'steadiness' AS is_ratio,
    CASE WHEN g.goal_kind = 'steadiness' THEN s.baseline_ratio ELSE g.threshold END AS threshold_line
  FROM marts.trial_goals AS g
  INNER JOIN marts.trial_activation AS a
    ON g.organization_id = a.organization_id
  INNER JOIN staging.activation_goals AS s
    ON g.goal_id = s.goal_id
  LEFT JOIN intermediate.org_goal_metrics AS m
    ON g.organization_id = m.organization_id AND g.goal_id = m.goal_id
), axis AS (
  SELECT
    goal_id,
    GREATEST(@percentile_cont(x, @VAR('report_histogram_tail_quantile')), MAX(threshold_line)) AS upper,
    MAX(threshold_line) AS threshold_line, /* one value per goal (PostgreSQL has no ANY_VALUE) */
    BOOL_OR(is_ratio::BOOLEAN) AS is_ratio
  FROM metric
  GROUP BY
    goal_id
), width AS (
  SELECT
    goal_id,
    threshold_line,
    CASE
      WHEN is_ratio
      THEN GREATEST(upper, 1e-9) / @VAR('report_histogram_bins')
      ELSE GREATEST(1, CEIL(upper / @VAR('report_histogram_bins'))) /* counts: whole-number bins */
    END::DOUBLE AS bin_width
  FROM axis
), binned AS (
  SELECT
    m.goal_id,
    m.converted,
    CASE
      WHEN NOT m.x IS NULL /* LEAST skips a NULL on every engine: no ratio would land in the last bin */
      THEN LEAST(FLOOR(m.x / w.bin_width), @VAR('report_histogram_bins') - 1)::INT
    END AS bin
  FROM metric AS m
  INNER JOIN width AS w
    ON m.goal_id = w.goal_id
), counted AS (
  SELECT
    goal_id,
    converted,
    bin,
    COUNT(*) AS organizations
  FROM binned
  GROUP BY
    goal_id,
    converted,
    bin
)
SELECT
  c.goal_id, /* goal key from seeds/activation_goals.csv */
  c.converted, /* whether the organizations converted */
  c.bin, /* 0-based bin of the metric; NULL for steadiness organizations without baseline events (no ratio) */
  w.bin_width, /* width of every bin of the goal: bin covers [bin x bin_width, (bin + 1) x bin_width) */
  @VAR('report_histogram_bins')::INT AS bin_count, /* bins on the axis, empty ones included */
  @VAR('report_histogram_tail_quantile')::DOUBLE AS tail_quantile, /* the quantile of the metric the axis runs to */
  w.threshold_line, /* where the chart draws the goal's line: its threshold, or for steadiness the seed's baseline_ratio */
  c.organizations, /* organizations of the group in the bin */
  CASE
    WHEN NOT c.bin IS NULL
    THEN c.organizations::DOUBLE / SUM(CASE WHEN NOT c.bin IS NULL THEN c.organizations END) OVER (PARTITION BY c.goal_id, c.converted)
  END AS share /* of the group's organizations that have a value (0-1); NULL for the bin NULL row */
FROM counted AS c
INNER JOIN width AS w
  ON c.goal_id = w.goal_id