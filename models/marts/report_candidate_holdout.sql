/* The held-out check of the candidate search's best: one row per candidate, the best
   report_holdout_candidates_shown supported and not degenerate candidates by the search part's
   q-value (then its p-value, then candidate_id), each with its figures on the search part (earlier
   trials) and on the holdout (later trials, the search part's threshold held fixed) and whether it is
   recommended. Ranked on the search part alone, as a team choosing from the search would. */
MODEL (
  name marts.report_candidate_holdout,
  kind FULL,
  cron '@weekly', /* with marts.candidate_goals */
  grain (
    candidate_id
  ),
  audits (
    not_null(columns := (candidate_id, candidate_rank, is_recommended)),
    unique_values(columns := (candidate_id, candidate_rank)),
    accepted_range(
      "column" := candidate_rank,
      min_v := 1,
      max_v := @VAR('report_holdout_candidates_shown')
    )
  )
);

WITH ranked AS (
  SELECT
    *,
    ROW_NUMBER() OVER (ORDER BY search_q_value, search_p_value, candidate_id) AS candidate_rank
  FROM marts.candidate_goals
  WHERE
    is_supported AND NOT is_degenerate
)
SELECT
  candidate_rank::INT AS candidate_rank, /* 1 = the strongest on the search part */
  candidate_id, /* activity_pattern|window|threshold_rule (marts.candidate_goals) */
  activity_pattern, /* SQL LIKE pattern on activity_name */
  window_start_day, /* first trial day of the counted window */
  window_end_day, /* last trial day of the counted window */
  threshold_rule, /* how the threshold is set, e.g. p75 or at_least_1 */
  search_organizations, /* organizations of the search part (earlier trials), honest population */
  search_threshold, /* the threshold derived on the search part (held fixed on the holdout) */
  search_rate_difference, /* conversion difference (completed - not) on the search part */
  search_q_value, /* its Benjamini-Hochberg q-value across the search part's distinct candidates */
  holdout_organizations, /* organizations of the holdout (later trials), honest population */
  holdout_completed, /* of which reached the search part's threshold */
  holdout_rate_difference, /* conversion difference (completed - not) on the holdout */
  holdout_rate_difference_low, /* lower bound of its 95% interval */
  holdout_rate_difference_high, /* upper bound of its 95% interval */
  holdout_p_value, /* two-sided Fisher exact test on the holdout */
  is_recommended /* supported, search q < 0.05 and the holdout interval excludes 0 on the same side */
FROM ranked
WHERE
  candidate_rank <= @VAR('report_holdout_candidates_shown')