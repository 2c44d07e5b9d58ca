AUDIT (
  name valid_candidate_grid
);

/* A grid row that the candidate search could not evaluate: returns one row per broken grid row, with
   the rule it breaks in words (broken_rule), which the trial-activation CLI prints. */
WITH checked AS (
  SELECT
    dimension,
    value,
    CASE
      WHEN value LIKE '%|%'
      THEN 'value holds |, which separates the parts of a candidate_id'
      WHEN dimension = 'activity_pattern' AND RIGHT(REPLACE(value, '\\', ''), 1) = '\'
      THEN 'the pattern ends with a lone backslash, which escapes the character after it: write \\ for a backslash'
      WHEN dimension = 'window' AND (
        window_start_day IS NULL OR window_end_day IS NULL
      )
      THEN 'a window needs window_start_day and window_end_day'
      WHEN dimension = 'window' AND window_start_day < 0
      THEN 'window_start_day is negative: trial days count from 0, the day of trial_start'
      WHEN dimension = 'window' AND window_start_day > window_end_day
      THEN 'window_start_day is after window_end_day'
      WHEN dimension = 'threshold'
      AND (
        threshold_percentile IS NULL
      ) = (
        fixed_threshold IS NULL
      )
      THEN 'a threshold needs exactly one of threshold_percentile and fixed_threshold'
      WHEN dimension = 'threshold' AND NOT threshold_percentile BETWEEN 0 AND 100
      THEN 'threshold_percentile is not between 0 and 100'
      WHEN dimension = 'threshold' AND fixed_threshold < 0
      THEN 'fixed_threshold is negative'
    END AS broken_rule
  FROM @this_model
)
SELECT
  dimension,
  value,
  broken_rule
FROM checked
WHERE
  NOT broken_rule IS NULL