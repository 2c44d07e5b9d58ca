/* When each organization completed each goal: one row per organization and goal that a run
   evaluated, with what the goal needed then (events_needed = CEIL(threshold): matching events, or
   for active_days trial days with one) and the time of the event that met it (completed_at; NULL
   when the organization fell short). marts.trial_goals uses a row only if its events_needed is still the goal's.
   The expensive part of the marts (finding the completing event among the staged events), kept
   incremental by organization and goal. A first build or a restatement evaluates every pair. A
   daily run evaluates only the pairs whose completed_at can have changed, knowing that the
   interval's events all come after the events already loaded:
   - events_needed may have changed: every pair of a goal whose threshold moved since the previous
     run, and the steadiness pairs of organizations with new events in the baseline or fallback
     window (their own threshold depends on those);
   - otherwise only a pair completed within the interval (fewer than events_needed matching events
     before it, at least as many now), whose completing event is one of the interval's. Every other
     pair keeps its row: completed before the interval with the same events_needed, or still short.
   So a daily run reads the staged events of the interval only, unless a threshold moved. */
MODEL (
  name intermediate.goal_completions,
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key (organization_id, goal_id)
  ),
  grain (organization_id, goal_id),
  audits (
    not_null(columns := (organization_id, goal_id, events_needed)),
    unique_combination_of_columns(columns := (organization_id, goal_id))
  )
);

WITH previous_thresholds AS (
  /* State from the previous run: the thresholds it used (intermediate.goal_threshold_history, last
     row before the interval). Empty on a first build or a restatement, which rebuild the history. */
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
  /* Goals whose threshold differs from the previous run's, or that it did not have: every
     organization's pair of such a goal must be re-evaluated. */
  SELECT
    t.goal_id
  FROM intermediate.goal_thresholds AS t
  LEFT JOIN previous_thresholds AS p
    ON t.goal_id = p.goal_id
  WHERE
    p.goal_id IS NULL OR t.threshold IS DISTINCT FROM p.threshold
), organizations_with_new_events AS (
  SELECT DISTINCT
    organization_id
  FROM staging.trial_events
  WHERE
    event_at BETWEEN @start_ts AND @end_ts
), candidates AS (
  /* The pairs of the organizations with events in the interval (every organization on a load from
     the project's start), and every pair of a moved goal. */
  SELECT
    m.organization_id,
    m.goal_id,
    g.goal_kind,
    g.activity_pattern,
    g.window_start_day,
    g.window_end_day,
    g.baseline_start_day,
    g.baseline_end_day,
    g.fallback_start_day,
    g.fallback_end_day,
    m.metric_value,
    @events_needed(@organization_threshold(t, m)) AS events_needed, /* as in marts.trial_goals */
    NOT mg.goal_id IS NULL AS threshold_moved
  FROM intermediate.org_goal_metrics AS m
  INNER JOIN intermediate.goal_thresholds AS t
    ON m.goal_id = t.goal_id
  INNER JOIN staging.activation_goals AS g
    ON m.goal_id = g.goal_id
  LEFT JOIN moved_goals AS mg
    ON m.goal_id = mg.goal_id
  WHERE
    @start_ds <= @trial_events_start
    OR NOT mg.goal_id IS NULL
    OR m.organization_id IN (
      SELECT
        organization_id
      FROM organizations_with_new_events
    )
), interval_activity AS (
  /* What the interval brought to each candidate: matching events in the window, and whether any
     fell in the baseline or fallback window. Not needed on a first build or a restatement (from the
     project's start), which evaluates every pair anyway. */
  SELECT
    c.organization_id,
    c.goal_id,
    COALESCE(
      SUM(a.event_count) FILTER(WHERE
        a.trial_day BETWEEN c.window_start_day AND c.window_end_day),
      0
    ) AS window_events,
    COALESCE(
      BOOL_OR(
        CAST(a.trial_day BETWEEN c.baseline_start_day AND c.baseline_end_day
        OR a.trial_day BETWEEN c.fallback_start_day AND c.fallback_end_day AS BOOLEAN)
      ),
      FALSE
    ) AS baseline_events
  FROM candidates AS c
  INNER JOIN intermediate.org_daily_activity AS a
    ON c.organization_id = a.organization_id
    AND a.activity_name LIKE c.activity_pattern ESCAPE '\'
  WHERE
    a.event_date BETWEEN @start_ds AND @end_ds AND @start_ds > @trial_events_start
  GROUP BY
    c.organization_id,
    c.goal_id
), evaluated AS (
  /* The candidates whose completed_at can have changed (see the header). For active_days, the
     interval's events are at least as many as the active days it added, so the test below can only
     evaluate a pair too many, never miss one. */
  SELECT
    c.*
  FROM candidates AS c
  LEFT JOIN interval_activity AS i
    ON c.organization_id = i.organization_id AND c.goal_id = i.goal_id
  WHERE
    c.threshold_moved
    OR (
      c.goal_kind = 'steadiness' AND COALESCE(i.baseline_events, FALSE)
    )
    OR (
      c.metric_value >= c.events_needed
      AND c.metric_value - COALESCE(i.window_events, 0) < c.events_needed
    )
), completing_days AS (
  /* Event-count kinds: the calendar day on which the running count of matching events, in time
     order, reaches events_needed, and the completing event's number within that day, so that only
     that day's events are read below. Days, not trial days: a trial day is counted from each row's
     own trial_start, so an organization whose rows disagree on it could put a new event before older
     ones. */
  SELECT
    organization_id,
    goal_id,
    activity_pattern,
    window_start_day,
    window_end_day,
    event_date,
    event_date::TIMESTAMP AS day_start,
    event_date::TIMESTAMP + INTERVAL '1' DAY AS day_end,
    events_needed - (
      running_events - day_events
    ) AS event_number_in_day
  FROM (
    SELECT
      e.organization_id,
      e.goal_id,
      e.activity_pattern,
      e.window_start_day,
      e.window_end_day,
      e.events_needed,
      a.event_date,
      SUM(a.event_count) AS day_events,
      SUM(SUM(a.event_count)) OVER (PARTITION BY e.organization_id, e.goal_id ORDER BY a.event_date) AS running_events
    FROM evaluated AS e
    INNER JOIN intermediate.org_daily_activity AS a
      ON e.organization_id = a.organization_id
      AND a.trial_day BETWEEN e.window_start_day AND e.window_end_day
      AND a.activity_name LIKE e.activity_pattern ESCAPE '\'
    WHERE
      e.goal_kind <> 'active_days'
      AND e.events_needed > 0
      AND e.metric_value >= e.events_needed
    GROUP BY
      e.organization_id,
      e.goal_id,
      e.activity_pattern,
      e.window_start_day,
      e.window_end_day,
      e.events_needed,
      a.event_date
  ) AS days
  WHERE
    running_events >= events_needed AND running_events - day_events < events_needed
  UNION ALL
  /* active_days: the events_needed-th trial day with a matching event, in trial-day order; its first
     matching event completes the goal. That event lies on the first calendar day of the trial day's
     events, which is the day read below, narrowed to that one trial day. */
  SELECT
    organization_id,
    goal_id,
    activity_pattern,
    trial_day AS window_start_day,
    trial_day AS window_end_day,
    event_date,
    event_date::TIMESTAMP AS day_start,
    event_date::TIMESTAMP + INTERVAL '1' DAY AS day_end,
    1 AS event_number_in_day
  FROM (
    SELECT
      e.organization_id,
      e.goal_id,
      e.activity_pattern,
      e.events_needed,
      a.trial_day,
      MIN(a.event_date) AS event_date,
      ROW_NUMBER() OVER (PARTITION BY e.organization_id, e.goal_id ORDER BY a.trial_day) AS active_day_number
    FROM evaluated AS e
    INNER JOIN intermediate.org_daily_activity AS a
      ON e.organization_id = a.organization_id
      AND a.trial_day BETWEEN e.window_start_day AND e.window_end_day
      AND a.activity_name LIKE e.activity_pattern ESCAPE '\'
    WHERE
      e.goal_kind = 'active_days'
      AND e.events_needed > 0
      AND e.metric_value >= e.events_needed
    GROUP BY
      e.organization_id,
      e.goal_id,
      e.activity_pattern,
      e.events_needed,
      a.trial_day
  ) AS active_days
  WHERE
    active_day_number = events_needed
), completing_events AS (
  /* The day's matching events in time order. Joined on the day (a hash join on organization and day)
     and on its time range, which lets the engine skip every stored event outside those days: on a
     daily run, all but the interval's. */
  SELECT
    d.organization_id,
    d.goal_id,
    s.event_at,
    d.event_number_in_day,
    ROW_NUMBER() OVER (PARTITION BY d.organization_id, d.goal_id ORDER BY s.event_at) AS event_number
  FROM completing_days AS d
  INNER JOIN staging.trial_events AS s
    ON d.organization_id = s.organization_id
    AND d.event_date = s.event_at::DATE
    AND s.event_at >= d.day_start
    AND s.event_at < d.day_end
    AND s.trial_day BETWEEN d.window_start_day AND d.window_end_day
    AND s.is_in_trial
    AND s.activity_name LIKE d.activity_pattern ESCAPE '\'
)
SELECT
  e.organization_id, /* the trialist organization */
  e.goal_id, /* goal key from seeds/activation_goals.csv */
  e.events_needed, /* CEIL(threshold) when the row was evaluated: matching events (active_days: active trial days) the goal needed */
  c.event_at AS completed_at /* the event that met the threshold: the events_needed-th matching in-trial event of the window (active_days: the first of the events_needed-th active trial day); NULL when short, or none needed */
FROM evaluated AS e
LEFT JOIN completing_events AS c
  ON e.organization_id = c.organization_id
  AND e.goal_id = c.goal_id
  AND c.event_number = c.event_number_in_day