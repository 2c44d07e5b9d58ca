/* The goal thresholds each run computed: one row per goal and last day of the interval the run
   processed. intermediate.goal_completions compares today's thresholds with the previous run's row
   to re-evaluate every organization for a goal only when its threshold moved.
   Incremental by unique key, not by time range, so that a restatement of anything upstream rebuilds
   it in full, as it rebuilds intermediate.goal_completions: after one, the single row per goal is
   the threshold the rebuilt completions used. */
MODEL (
  name intermediate.goal_threshold_history,
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key (goal_id, as_of_date)
  ),
  grain (goal_id, as_of_date),
  audits (
    not_null(columns := (goal_id, as_of_date)),
    unique_combination_of_columns(columns := (goal_id, as_of_date))
  )
);

SELECT
  goal_id, /* goal key from seeds/activation_goals.csv */
  @end_ds::DATE AS as_of_date, /* last day of the interval the run processed */
  threshold /* intermediate.goal_thresholds.threshold as of that run; NULL for steadiness goals */
FROM intermediate.goal_thresholds