/* The report's headline figures: one row for the environment. Organizations, activation and
   conversion from marts.trial_activation; how long activation took; how many candidate goals were
   tested and how many are credible (supported and q-value under the report_candidate_q_value
   variable: the one place that rule lives). The build's row counts are marts.report_rows'. */
MODEL (
  name marts.report_headline,
  kind FULL,
  audits (
    number_of_rows(threshold := 0),
    not_null(
      columns := (organizations, activated, converted, candidates_tested, candidates_credible)
    )
  )
);

WITH activation AS (
  SELECT
    COUNT(*) AS organizations,
    COUNT(*) FILTER(WHERE
      is_activated) AS activated,
    COUNT(*) FILTER(WHERE
      converted) AS converted,
    MEDIAN(days_to_activation) AS median_days_to_activation,
    @percentile_cont(days_to_activation, 0.9) AS p90_days_to_activation
  FROM marts.trial_activation
), candidates AS (
  SELECT
    COUNT(*) AS candidates_tested,
    COUNT(*) FILTER(WHERE
      is_supported AND q_value < @VAR('report_candidate_q_value')) AS candidates_credible
  FROM marts.candidate_goals
)
SELECT
  a.organizations, /* trialist organizations */
  a.activated, /* of which activated (completed every goal) */
  a.activated::DOUBLE / NULLIF(a.organizations, 0) AS activation_rate, /* activated / organizations (0-1); NULL when none */
  a.converted, /* of which converted */
  a.converted::DOUBLE / NULLIF(a.organizations, 0) AS conversion_rate, /* converted / organizations (0-1); NULL when none */
  a.median_days_to_activation::DOUBLE AS median_days_to_activation, /* median whole days from trial start to activation, over the activated; NULL when none */
  a.p90_days_to_activation::DOUBLE AS p90_days_to_activation, /* their 90th percentile (continuous); NULL when none */
  c.candidates_tested, /* candidate goals evaluated (marts.candidate_goals) */
  c.candidates_credible, /* of which supported with a q-value under report_candidate_q_value */
  @VAR('report_candidate_q_value')::DOUBLE AS credible_q_value /* the q-value a credible candidate is under */
FROM activation AS a
CROSS JOIN candidates AS c