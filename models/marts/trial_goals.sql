/* Trial Goals: whether each trialist completed each trial goal, and when. One row per organization
   and goal, for every organization and every goal in seeds/activation_goals.csv.
   A goal is completed when metric_value >= threshold; completed_at is the time of the event that
   met it, i.e. the CEIL(threshold)-th matching event of the window (the window's start when the
   threshold is 0, since nothing was needed).
   Incremental by organization and goal: a run recomputes the rows of the organizations with staged
   events in the interval it processes, and every row of a goal whose threshold moved since the
   previous run (intermediate.goal_threshold_history), then merges them in. A restatement rebuilds
   the table. */
MODEL (
  name marts.trial_goals,
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key (organization_id, goal_id)
  ),
  grain (organization_id, goal_id),
  audits (
    not_null(
      columns := (
        organization_id,
        goal_id,
        goal_name,
        metric_value,
        threshold,
        completion_pct,
        is_completed
      )
    ),
    unique_combination_of_columns(columns := (organization_id, goal_id)),
    accepted_range("column" := completion_pct, min_v := 0, max_v := 100),
    accepted_range("column" := metric_value, min_v := 0),
    completed_at_iff_completed,
    each_goal_once_per_organization,
    goal_separates_organizations
  )
);

WITH previous_thresholds AS (
  /* The thresholds as of the run before this one, which the table's rows were evaluated with. */
  SELECT
    goal_id,
    threshold
  FROM intermediate.goal_threshold_history
  WHERE
    as_of_date = (
      SELECT
        MAX(as_of_date)
      FROM intermediate.goal_threshold_history
      WHERE
        as_of_date < @start_ds
    )
), moved_goals AS (
  /* Goals whose threshold moved since then (or that have no previous threshold): every row of such a
     goal is recomputed, since a threshold applies to every organization. */
  SELECT
    t.goal_id
  FROM intermediate.goal_thresholds AS t
  LEFT JOIN previous_thresholds AS p
    ON t.goal_id = p.goal_id
  WHERE
    p.goal_id IS NULL OR t.threshold IS DISTINCT FROM p.threshold
), org_goals AS (
  SELECT
    m.organization_id,
    m.goal_id,
    g.goal_name,
    g.goal_kind,
    g.activity_pattern,
    g.window_start_day,
    g.window_end_day,
    o.trial_start,
    m.metric_value,
    m.baseline_value,
    CASE
      WHEN t.goal_kind = 'steadiness'
      THEN GREATEST(t.threshold_floor, t.baseline_ratio * m.baseline_value)
      ELSE t.threshold
    END AS threshold
  FROM intermediate.org_goal_metrics AS m
  INNER JOIN intermediate.goal_thresholds AS t
    ON m.goal_id = t.goal_id
  INNER JOIN staging.activation_goals AS g
    ON m.goal_id = g.goal_id
  INNER JOIN staging.trial_organizations AS o
    ON m.organization_id = o.organization_id
  WHERE
    @is_changed_organization(m.organization_id)
    OR m.goal_id IN (
      SELECT
        goal_id
      FROM moved_goals
    )
), evaluated AS (
  SELECT
    *,
    metric_value >= threshold AS is_completed,
    CEIL(threshold)::BIGINT AS events_needed
  FROM org_goals
), completing_days AS (
  /* The day on which the running count of matching events first reaches events_needed, found on
     the daily counts so that only that day's events are read below. */
  SELECT
    organization_id,
    goal_id,
    trial_day,
    events_needed - (
      running_events - day_events
    ) AS event_number_in_day
  FROM (
    SELECT
      e.organization_id,
      e.goal_id,
      e.events_needed,
      a.trial_day,
      SUM(a.event_count) AS day_events,
      SUM(SUM(a.event_count)) OVER (PARTITION BY e.organization_id, e.goal_id ORDER BY a.trial_day) AS running_events
    FROM evaluated AS e
    INNER JOIN intermediate.org_daily_activity AS a
      ON e.organization_id = a.organization_id
      AND a.trial_day BETWEEN e.window_start_day AND e.window_end_day
      AND a.activity_name LIKE e.activity_pattern
    WHERE
      e.is_completed AND e.events_needed > 0
    GROUP BY
      e.organization_id,
      e.goal_id,
      e.events_needed,
      a.trial_day
  ) AS daily
  WHERE
    running_events >= events_needed AND running_events - day_events < events_needed
), completing_events AS (
  SELECT
    d.organization_id,
    d.goal_id,
    s.event_at,
    d.event_number_in_day,
    ROW_NUMBER() OVER (PARTITION BY d.organization_id, d.goal_id ORDER BY s.event_at) AS event_number
  FROM completing_days AS d
  INNER JOIN evaluated AS e
    ON d.organization_id = e.organization_id AND d.goal_id = e.goal_id
  INNER JOIN staging.trial_events AS s
    ON d.organization_id = s.organization_id
    AND d.trial_day = s.trial_day
    AND s.is_in_trial
    AND s.activity_name LIKE e.activity_pattern
)
SELECT
  e.organization_id, /* the trialist organization */
  e.goal_id, /* goal key from seeds/activation_goals.csv */
  e.goal_name, /* human-readable goal name */
  e.goal_kind, /* window_count or steadiness */
  e.metric_value, /* in-trial events in the goal's window matching its activity pattern */
  e.threshold, /* events needed: the derived goal threshold, or for steadiness the organization's own (ratio x baseline, at least the floor) */
  CASE
    WHEN e.threshold <= 0
    THEN 100
    ELSE LEAST(100, 100 * e.metric_value / e.threshold)
  END::DOUBLE AS completion_pct, /* progress toward the goal, 0-100: MIN(100, 100 x metric_value / threshold) */
  e.is_completed, /* metric_value >= threshold */
  CASE
    WHEN NOT e.is_completed
    THEN NULL
    WHEN e.events_needed <= 0
    THEN e.trial_start + e.window_start_day * INTERVAL '1' DAY
    ELSE c.event_at
  END AS completed_at /* when the event that met the threshold happened; NULL when not completed */
FROM evaluated AS e
LEFT JOIN completing_events AS c
  ON e.organization_id = c.organization_id
  AND e.goal_id = c.goal_id
  AND c.event_number = c.event_number_in_day;

@warn_goals_that_separate_no_one() /* Names the goals that the non-blocking goal_separates_organizations audit finds. */