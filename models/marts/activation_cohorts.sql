/* Activation and conversion by trial-start week: one row per ISO week of trial_start (weeks start
   on Monday). Whether cohorts activate and convert alike, and how fast they activate. Conversion
   rates count only organizations whose outcome is known; a cohort with outcomes still pending is
   flagged incomplete (is_outcome_complete false) with their number, so a young cohort's low rate
   does not read as a collapse. */
MODEL (
  name marts.activation_cohorts,
  kind FULL,
  grain (
    trial_start_week
  ),
  audits (
    not_null(
      columns := (trial_start_week, iso_year, iso_week, organizations, activated, converted)
    ),
    unique_values(columns := (
      trial_start_week
    )),
    accepted_range("column" := activation_rate, min_v := 0, max_v := 1),
    cohorts_sum_to_totals
  )
);

WITH organizations AS (
  SELECT
    DATE_TRUNC('WEEK', trial_start)::DATE AS trial_start_week,
    is_activated,
    activation_status = 'in_progress' AS is_in_progress,
    converted,
    is_outcome_final AS is_outcome_known,
    days_to_activation
  FROM marts.trial_activation
)
SELECT
  trial_start_week, /* Monday of the ISO week of trial_start */
  EXTRACT(YEAR FROM trial_start_week + INTERVAL '3' DAY)::INT AS iso_year, /* ISO 8601 year: the year of the week's Thursday */
  EXTRACT(WEEK FROM trial_start_week)::INT AS iso_week, /* ISO 8601 week number, 1-53 */
  COUNT(*) AS organizations, /* organizations whose trial started that week */
  COUNT(*) FILTER(WHERE
    is_activated) AS activated, /* of which activated (completed every goal) */
  COUNT(*) FILTER(WHERE
    is_activated)::DOUBLE / COUNT(*) AS activation_rate, /* activated / organizations (0-1) */
  COUNT(*) FILTER(WHERE
    is_in_progress) AS in_progress, /* of which still on their way: no goal missed, some open */
  COUNT(*) FILTER(WHERE
    converted) AS converted, /* of which converted */
  COUNT(*) FILTER(WHERE
    NOT is_outcome_known) AS pending_outcomes, /* of which the conversion window is still open (not is_outcome_final) */
  COUNT(*) FILTER(WHERE
    NOT is_outcome_known) = 0 AS is_outcome_complete, /* every outcome of the cohort is known: its conversion rates are final */
  COUNT(*) FILTER(WHERE
    converted)::DOUBLE / NULLIF(COUNT(*) FILTER(WHERE
    is_outcome_known), 0) AS conversion_rate, /* converted / organizations with a known outcome (0-1); NULL when none is known */
  COUNT(*) FILTER(WHERE
    converted AND is_activated)::DOUBLE / NULLIF(COUNT(*) FILTER(WHERE
    is_activated AND is_outcome_known), 0) AS conversion_rate_activated, /* conversion rate of the activated organizations with a known outcome; NULL when none */
  COUNT(*) FILTER(WHERE
    converted AND NOT is_activated)::DOUBLE / NULLIF(COUNT(*) FILTER(WHERE
    NOT is_activated AND is_outcome_known), 0) AS conversion_rate_not_activated, /* conversion rate of the others with a known outcome; NULL when none */
  MEDIAN(days_to_activation)::DOUBLE AS median_days_to_activation /* median whole days from trial_start to activation, over the activated; NULL when none */
FROM organizations
GROUP BY
  trial_start_week