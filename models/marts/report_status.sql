/* The report's "as of" line and its trials-in-progress and held-out counts: one row for the
   environment. When the data describes (as_of), how many organizations' outcomes are final (the
   statistics count them) and how many not yet, pending or converted before their window closed; how many organizations are in trial now, of which in progress (no goal missed),
   behind pace on their next goal, activated or already missed a goal (marts.trial_worklist); how many
   distinct candidate goals the search tested and how many it recommends (marts.candidate_goals:
   supported, significant after the correction on the search part, confirmed on the holdout). */
MODEL (
  name marts.report_status,
  kind FULL,
  audits (
    number_of_rows(threshold := 0),
    not_null(
      columns := (
        as_of,
        organizations,
        outcomes_final,
        outcomes_not_final,
        outcomes_pending,
        converted_not_final,
        in_trial,
        in_trial_in_progress,
        in_trial_behind_pace,
        candidates_distinct_tested,
        candidates_recommended,
        worklist_shown
      )
    )
  )
);

WITH organizations AS (
  SELECT
    MAX(as_of) AS as_of,
    COUNT(*) AS organizations,
    COUNT(*) FILTER(WHERE
      is_outcome_final) AS outcomes_final,
    COUNT(*) FILTER(WHERE
      NOT is_outcome_final) AS outcomes_not_final,
    COUNT(*) FILTER(WHERE
      outcome_status = 'pending') AS outcomes_pending,
    COUNT(*) FILTER(WHERE
      outcome_status = 'converted' AND NOT is_outcome_final) AS converted_not_final
  FROM marts.trial_activation
), worklist AS (
  SELECT
    COUNT(*) AS in_trial,
    COUNT(*) FILTER(WHERE
      activation_status = 'in_progress') AS in_trial_in_progress,
    COUNT(*) FILTER(WHERE
      activation_status = 'in_progress' AND NOT next_goal_is_on_pace) AS in_trial_behind_pace,
    COUNT(*) FILTER(WHERE
      activation_status = 'activated') AS in_trial_activated,
    COUNT(*) FILTER(WHERE
      activation_status = 'not_activated') AS in_trial_not_activated
  FROM marts.trial_worklist
), candidates AS (
  SELECT
    MAX(distinct_candidates_tested) AS candidates_distinct_tested,
    COUNT(*) FILTER(WHERE
      is_recommended) AS candidates_recommended
  FROM marts.candidate_goals
)
SELECT
  o.as_of, /* the moment the data describes (intermediate.as_of): midnight UTC after the latest event or conversion */
  o.organizations, /* trialist organizations */
  o.outcomes_final, /* of which the outcome is known (converted, or the conversion window closed): the statistics count these */
  o.outcomes_not_final, /* of which the conversion window is still open: left out of every statistic (pending_organizations of marts.goal_conversion) */
  o.outcomes_pending, /* of those, not converted yet (outcome_status pending) */
  o.converted_not_final, /* of those, converted already (counting them before the others' outcome is known would inflate rates) */
  w.in_trial, /* organizations in trial at as_of (marts.trial_worklist) */
  w.in_trial_in_progress, /* of which in progress: no goal missed, some still open */
  w.in_trial_behind_pace, /* of which in progress with their next goal behind pace */
  w.in_trial_activated, /* of which already activated */
  w.in_trial_not_activated, /* of which already missed a goal */
  COALESCE(c.candidates_distinct_tested, 0) AS candidates_distinct_tested, /* distinct candidate goals tested (neither degenerate nor duplicates); 0 when the search has no candidate */
  c.candidates_recommended, /* of which recommended (is_recommended: confirmed on the holdout) */
  @VAR('report_worklist_shown')::INT AS worklist_shown /* how many rows of marts.trial_worklist the report lists */
FROM organizations AS o
CROSS JOIN worklist AS w
CROSS JOIN candidates AS c