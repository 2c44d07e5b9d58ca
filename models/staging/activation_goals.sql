/* The trial goals, as defined by analysts in seeds/activation_goals.csv: one row per goal.
   Three kinds (docs/goals.md says how to add one):
   - window_count: events in trial days [window_start_day, window_end_day] whose activity matches
     activity_pattern (SQL LIKE; % = all, \ escapes), against fixed_threshold or the threshold_percentile-th
     percentile of the same count over converted organizations, never below threshold_floor;
   - active_days: trial days of the window with at least one matching event, against a threshold
     derived as for window_count;
   - steadiness: events in the window against baseline_ratio x the events in the baseline window
     (the fallback window when the baseline window has none), never below threshold_floor. */
MODEL (
  name staging.activation_goals,
  kind SEED (
    path '../../seeds/activation_goals.csv'
  ),
  columns (
    goal_id TEXT,
    goal_order INT,
    goal_name TEXT,
    description TEXT,
    goal_kind TEXT,
    activity_pattern TEXT,
    window_start_day INT,
    window_end_day INT,
    threshold_percentile DOUBLE,
    fixed_threshold DOUBLE,
    threshold_floor DOUBLE,
    baseline_ratio DOUBLE,
    baseline_start_day INT,
    baseline_end_day INT,
    fallback_start_day INT,
    fallback_end_day INT
  ),
  column_descriptions (
    goal_id = 'Stable key of the goal, e.g. week_1_activity; not ''activation'', the key of all goals together in marts.goal_conversion',
    goal_order = 'Position of the goal in the activation funnel (marts.activation_funnel): 1, 2, ..., each once',
    goal_name = 'Human-readable goal name shown in the marts',
    description = 'What completing the goal means, in words',
    goal_kind = 'window_count, active_days or steadiness',
    activity_pattern = 'SQL LIKE pattern on activity_name; % counts every activity, a backslash escapes %, _ and itself',
    window_start_day = 'First trial day (0-based) of the counted window',
    window_end_day = 'Last trial day (inclusive) of the counted window',
    threshold_percentile = 'window_count, active_days: percentile (0-100) of converted organizations'' metric used as threshold',
    fixed_threshold = 'window_count, active_days: fixed threshold, instead of a percentile',
    threshold_floor = 'The threshold is never below this',
    baseline_ratio = 'steadiness: required share of the baseline window''s events',
    baseline_start_day = 'steadiness: first trial day of the baseline window',
    baseline_end_day = 'steadiness: last trial day of the baseline window',
    fallback_start_day = 'steadiness: first trial day of the fallback baseline, used when the baseline has no events',
    fallback_end_day = 'steadiness: last trial day of the fallback baseline'
  ),
  ignored_rules (
    nomissingunittest /* a seed is data: a unit test pinning its rows would make every goal edit a code change; its audits check the shape */
  ),
  grain (
    goal_id
  ),
  audits (
    not_null(
      columns := (
        goal_id,
        goal_order,
        goal_name,
        goal_kind,
        activity_pattern,
        window_start_day,
        window_end_day,
        threshold_floor
      )
    ),
    accepted_values("column" := goal_kind, is_in := ('window_count', 'active_days', 'steadiness')),
    valid_goal_definitions /* its rules include the grain: a goal_id twice is named, with its rows */
  )
)