/* The event that completed each goal: one row per organization and completed goal that needed at
   least one event (a goal with a threshold of 0 is met at its window's start, see marts.trial_goals).
   It is the events_needed-th matching in-trial event of the window: the day it falls on is found with a
   running count over intermediate.org_days, and only the staged events of that day's org_days rows are
   read for the event; for active_days, the first matching event of the events_needed-th active trial day. */
MODEL (
  name intermediate.goal_completions,
  kind FULL,
  grain (organization_id, goal_id),
  audits (
    not_null(columns := (organization_id, goal_id, completed_at)),
    unique_combination_of_columns(columns := (organization_id, goal_id))
  )
);

WITH evaluated AS (
  SELECT
    m.organization_id,
    m.goal_id,
    m.events_needed,
    g.goal_kind,
    g.activity_pattern,
    g.window_start_day,
    g.window_end_day
  FROM intermediate.org_goal_metrics AS m
  INNER JOIN staging.activation_goals AS g
    ON m.goal_id = g.goal_id
  WHERE
    m.is_completed AND m.events_needed > 0
), matching_days AS (
  /* the completed goals' matching in-trial events per day, with the running count up to each day */
  SELECT
    e.organization_id,
    e.goal_id,
    e.goal_kind,
    e.events_needed,
    d.event_date,
    d.trial_day,
    d.activity_name,
    d.first_in_trial_at,
    SUM(d.in_trial_events) OVER (
      PARTITION BY e.organization_id, e.goal_id
      ORDER BY d.event_date
      RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS running_events,
    SUM(d.in_trial_events) OVER (PARTITION BY e.organization_id, e.goal_id, d.event_date) AS day_events
  FROM evaluated AS e
  INNER JOIN (
    SELECT DISTINCT
      activity_pattern,
      activity_name
    FROM intermediate.goal_windows
  ) AS p
    ON p.activity_pattern = e.activity_pattern
  INNER JOIN intermediate.org_days AS d
    ON d.organization_id = e.organization_id
    AND d.activity_name = p.activity_name
    AND d.trial_day BETWEEN e.window_start_day AND e.window_end_day
    AND d.in_trial_events > 0
), completing_days AS (
  /* event kinds: the rows of the day the running count reaches events_needed (every row of a day has
     its running count), and that event's number in the day */
  SELECT
    organization_id,
    goal_id,
    event_date,
    trial_day,
    activity_name,
    events_needed - (
      running_events - day_events
    ) AS event_number_in_day
  FROM matching_days
  WHERE
    goal_kind <> 'active_days'
    AND running_events >= events_needed
    AND running_events - day_events < events_needed
), day_events AS (
  /* event kinds: the completing day's matching events, numbered in time order */
  SELECT
    c.organization_id,
    c.goal_id,
    c.event_number_in_day,
    s.event_at,
    ROW_NUMBER() OVER (PARTITION BY c.organization_id, c.goal_id ORDER BY s.event_at) AS event_number
  FROM completing_days AS c
  INNER JOIN staging.trial_events AS s
    ON s.organization_id = c.organization_id
    AND s.activity_name = c.activity_name
    AND s.trial_day = c.trial_day
    AND s.event_at >= c.event_date::TIMESTAMP
    AND s.event_at < c.event_date::TIMESTAMP + INTERVAL '1' DAY
    AND s.is_in_trial
), active_days AS (
  /* active_days: each active trial day's first matching event, the days numbered in order */
  SELECT
    organization_id,
    goal_id,
    events_needed,
    MIN(first_in_trial_at) AS first_at,
    ROW_NUMBER() OVER (PARTITION BY organization_id, goal_id ORDER BY trial_day) AS active_day_number
  FROM matching_days
  WHERE
    goal_kind = 'active_days'
  GROUP BY
    organization_id,
    goal_id,
    trial_day,
    events_needed
)
SELECT
  organization_id, /* the trialist organization */
  goal_id, /* goal key from seeds/activation_goals.csv */
  event_at AS completed_at /* when the event that met the threshold happened */
FROM day_events
WHERE
  event_number = event_number_in_day
UNION ALL
SELECT
  organization_id,
  goal_id,
  first_at
FROM active_days
WHERE
  active_day_number = events_needed