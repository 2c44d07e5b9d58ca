/* Nothing is lost: for every event day (and for rows with no usable timestamp), the raw rows equal
   the staged rows, plus the exact duplicates folded into them, plus the quarantined rows.
   Fails with one row per day that does not add up, e.g. a day outside the processed intervals. */
AUDIT (
  name raw_rows_accounted_for
);

WITH raw_rows AS (
  SELECT
    CAST(event_at AS DATE) AS event_date,
    COUNT(*) AS raw_rows
  FROM staging.trial_events_typed
  GROUP BY
    1
), staged_rows AS (
  SELECT
    CAST(event_at AS DATE) AS event_date,
    SUM(raw_row_count) AS staged_rows_with_duplicates
  FROM staging.trial_events
  GROUP BY
    1
), quarantined_rows AS (
  SELECT
    CAST(event_at AS DATE) AS event_date,
    COUNT(*) AS quarantined_rows
  FROM @this_model
  GROUP BY
    1
)
SELECT
  r.event_date,
  r.raw_rows,
  COALESCE(s.staged_rows_with_duplicates, 0) AS staged_rows_with_duplicates,
  COALESCE(q.quarantined_rows, 0) AS quarantined_rows
FROM raw_rows AS r
FULL JOIN staged_rows AS s
  ON r.event_date IS NOT DISTINCT FROM s.event_date
FULL JOIN quarantined_rows AS q
  ON COALESCE(r.event_date, s.event_date) IS NOT DISTINCT FROM q.event_date
WHERE
  COALESCE(r.raw_rows, 0) <> COALESCE(s.staged_rows_with_duplicates, 0) + COALESCE(q.quarantined_rows, 0)
