/* The candidate goals worth a look: one row per credible candidate (supported, q-value under the
   report_candidate_q_value variable), the best report_candidates_shown by q-value, then the larger
   rate difference, then candidate_id; with the seed row that would adopt it. */
MODEL (
  name marts.report_candidates,
  kind FULL,
  cron '@weekly', /* with marts.candidate_goals */
  grain (
    candidate_id
  ),
  audits (
    not_null(columns := (candidate_id, candidate_rank, q_value, seed_row)),
    unique_values(columns := (candidate_id, candidate_rank)),
    accepted_range("column" := candidate_rank, min_v := 1, max_v := @VAR('report_candidates_shown'))
  )
);

WITH ranked AS (
  SELECT
    *,
    ROW_NUMBER() OVER (ORDER BY q_value, rate_difference DESC, candidate_id) AS candidate_rank
  FROM marts.candidate_goals
  WHERE
    is_supported AND q_value < @VAR('report_candidate_q_value')
)
SELECT
  candidate_rank::INT AS candidate_rank, /* 1 = the most credible */
  candidate_id, /* activity_pattern|window|threshold_rule (marts.candidate_goals) */
  activity_pattern, /* SQL LIKE pattern on activity_name */
  window_start_day, /* first trial day of the counted window */
  window_end_day, /* last trial day of the counted window */
  threshold_rule, /* how the threshold is set, e.g. p75 or fixed 3 */
  threshold, /* events needed */
  organizations, /* organizations of the honest population */
  completed, /* of which completed the candidate */
  conversion_rate_completed, /* conversion rate of those that completed it (0-1) */
  conversion_rate_not_completed, /* conversion rate of the others (0-1) */
  rate_difference, /* the first minus the second */
  rate_difference_low, /* lower bound of its 95% interval */
  rate_difference_high, /* upper bound of its 95% interval */
  q_value, /* Benjamini-Hochberg q-value across every candidate */
  seed_row /* the line of seeds/activation_goals.csv that would adopt it */
FROM ranked
WHERE
  candidate_rank <= @VAR('report_candidates_shown')