/* The search grid of marts.candidate_goals, as analysts edit it in seeds/candidate_goal_grid.csv: one
   row per value of a dimension. Every combination of an activity pattern, a window and a threshold
   is a candidate goal. Activity patterns are SQL LIKE patterns, or each_activity / each_family:
   every activity seen in the in-trial events, or every family of them (the name up to its first
   dot, then %). */
MODEL (
  name staging.candidate_goal_grid,
  kind SEED (
    path '../../seeds/candidate_goal_grid.csv'
  ),
  columns (
    dimension TEXT,
    value TEXT,
    window_start_day INT,
    window_end_day INT,
    threshold_percentile DOUBLE,
    fixed_threshold DOUBLE,
    description TEXT
  ),
  column_descriptions (
    dimension = 'activity_pattern, window or threshold',
    value = 'activity_pattern: a LIKE pattern, each_activity or each_family; window and threshold: the label used in candidate_id (e.g. 0-6, p75)',
    window_start_day = 'window: first trial day (0-based) of the counted window',
    window_end_day = 'window: last trial day (inclusive) of the counted window',
    threshold_percentile = 'threshold: percentile (0-100) of converted organizations'' counts',
    fixed_threshold = 'threshold: a fixed number of events, instead of a percentile',
    description = 'What the row means, in words'
  ),
  ignored_rules (
    nomissingunittest /* a seed is data: a unit test pinning its rows would make every grid edit a code change; its audits check the shape */
  ),
  grain (dimension, value),
  audits (
    not_null(columns := (dimension, value)),
    unique_combination_of_columns(columns := (dimension, value)),
    accepted_values("column" := dimension, is_in := ('activity_pattern', 'window', 'threshold')),
    valid_candidate_grid
  )
)