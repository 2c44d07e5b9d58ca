/* Who to nudge today: one row per organization still in its trial (trial_status in_trial at as_of),
   the ones worth a nudge first. For each: days left in the trial, where its goals stand, the next goal
   to reach (the open goal whose window closes first) and what it needs, and whether it is on pace.
   Order (worklist_rank): still on its way with the next goal behind pace (a nudge can still save it),
   soonest-closing first, then the fewest events short; then on its way and on pace; then those that
   already missed a goal; activated ones last (nothing to ask). */
MODEL (
  name marts.trial_worklist,
  kind FULL,
  grain organization_id,
  audits (
    not_null(
      columns := (organization_id, worklist_rank, activation_status, days_left_in_trial, as_of)
    ),
    unique_values(columns := (
      organization_id
    )),
    unique_values(columns := (
      worklist_rank
    ))
  )
);

WITH next_goals AS (
  /* each organization's open goal that closes first (ties: the seed's goal_order) */
  SELECT
    t.organization_id,
    t.goal_id,
    g.goal_name,
    t.still_needed,
    t.days_left_in_window,
    t.is_on_pace,
    ROW_NUMBER() OVER (PARTITION BY t.organization_id ORDER BY t.window_closes_at, g.goal_order) AS goal_rank
  FROM marts.trial_goals AS t
  INNER JOIN staging.activation_goals AS g
    ON t.goal_id = g.goal_id
  WHERE
    t.goal_status = 'open'
), goal_counts AS (
  SELECT
    organization_id,
    COUNT(*) FILTER(WHERE
      goal_status IN ('open', 'awaiting_threshold')) AS goals_open
  FROM marts.trial_goals
  GROUP BY
    organization_id
), live AS (
  SELECT
    a.organization_id,
    a.trial_start,
    a.trial_end,
    @trial_day(a.as_of, a.trial_end) AS days_left_in_trial,
    a.activation_status,
    a.goals_completed,
    c.goals_open,
    a.goals_missed,
    n.goal_id AS next_goal_id,
    n.goal_name AS next_goal_name,
    n.still_needed AS next_goal_still_needed,
    n.days_left_in_window AS next_goal_days_left,
    n.is_on_pace AS next_goal_is_on_pace,
    a.as_of
  FROM marts.trial_activation AS a
  INNER JOIN goal_counts AS c
    ON a.organization_id = c.organization_id
  LEFT JOIN next_goals AS n
    ON a.organization_id = n.organization_id AND n.goal_rank = 1
  WHERE
    a.trial_status = 'in_trial'
)
SELECT
  ROW_NUMBER() OVER (
    ORDER BY CASE
      WHEN activation_status = 'in_progress' AND NOT next_goal_is_on_pace
      THEN 1
      WHEN activation_status = 'in_progress'
      THEN 2
      WHEN activation_status = 'not_activated'
      THEN 3
      ELSE 4
    END, next_goal_days_left, next_goal_still_needed, organization_id
  ) AS worklist_rank, /* 1 = nudge first (see the model's description for the order) */
  organization_id, /* the trialist organization */
  trial_start, /* start of the trial */
  trial_end, /* end of the trial */
  days_left_in_trial, /* whole days from as_of to trial_end */
  activation_status, /* in_progress (none missed), not_activated (some goal missed) or activated */
  goals_completed, /* goals completed so far */
  goals_open, /* goals still open (or awaiting their threshold) */
  goals_missed, /* goals whose window closed without them */
  next_goal_id, /* the open goal whose window closes first; NULL when none is open */
  next_goal_name, /* its name */
  next_goal_still_needed, /* what it still needs: events (or active days) */
  next_goal_days_left, /* whole days left in its window */
  next_goal_is_on_pace, /* its metric so far is at least the threshold's share of the window's elapsed days */
  as_of /* the moment the data describes */
FROM live