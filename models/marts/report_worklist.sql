/* The report's "In trial now" table: the first report_worklist_shown rows of marts.trial_worklist,
   in worklist_rank order (who to nudge first), one row per organization. Empty when no organization
   is in trial at as_of. */
MODEL (
  name marts.report_worklist,
  kind FULL,
  grain (
    organization_id
  ),
  audits (
    not_null(
      columns := (worklist_rank, organization_id, activation_status, days_left_in_trial, as_of)
    ),
    unique_values(columns := (organization_id, worklist_rank)),
    accepted_range("column" := worklist_rank, min_v := 1, max_v := @VAR('report_worklist_shown'))
  )
);

SELECT
  worklist_rank, /* 1 = nudge first (marts.trial_worklist) */
  organization_id, /* the trialist organization */
  trial_end, /* end of the trial */
  days_left_in_trial, /* whole days from as_of to trial_end */
  activation_status, /* in_progress, not_activated (some goal missed) or activated */
  goals_completed, /* goals completed so far */
  goals_open, /* goals still open (or awaiting their threshold) */
  goals_missed, /* goals whose window closed without them */
  next_goal_id, /* the open goal whose window closes first; NULL when none is open */
  next_goal_name, /* its name */
  next_goal_still_needed, /* what it still needs: events (or active days) */
  next_goal_days_left, /* whole days left in its window */
  next_goal_is_on_pace, /* on pace for its threshold; NULL when no goal is open */
  as_of /* the moment the data describes */
FROM marts.trial_worklist
WHERE
  worklist_rank <= @VAR('report_worklist_shown')