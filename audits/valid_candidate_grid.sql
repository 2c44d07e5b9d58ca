AUDIT (
  name valid_candidate_grid
);

/* A grid row that the candidate search could not evaluate: a window without both days or ending
   before it starts, a threshold with neither or both of a percentile (0-100) and a fixed count, or
   a value in the candidate_id separator. Returns one row per broken grid row. */
SELECT
  dimension,
  value
FROM @this_model
WHERE
  value LIKE '%|%'
  OR (
    dimension = 'window'
    AND (
      window_start_day IS NULL
      OR window_end_day IS NULL
      OR window_start_day < 0
      OR window_start_day > window_end_day
    )
  )
  OR (
    dimension = 'threshold'
    AND (
      (
        threshold_percentile IS NULL
      ) = (
        fixed_threshold IS NULL
      )
      OR NOT threshold_percentile BETWEEN 0 AND 100
      OR fixed_threshold < 0
    )
  )