AUDIT (
  name raw_rows_accounted_for
);

/* Nothing is lost: for every event day (and for rows with no usable timestamp), the raw rows equal
   the staged rows, plus the exact duplicates folded into them, plus the quarantined rows.
   Fails with one row per day that does not add up: e.g. events that arrived late for a day already
   loaded (restate that day, see the README), or a day outside the processed intervals. */ /* One row per source and day, summed per day below: GROUP BY puts the rows with no timestamp (NULL
   day) in one group on every engine, where a FULL JOIN on IS NOT DISTINCT FROM is not portable
   (PostgreSQL cannot FULL JOIN on it). */
WITH counts_by_source AS (
  SELECT
    event_at::DATE AS event_date,
    COUNT(*) AS raw_rows,
    0 AS staged_rows_with_duplicates,
    0 AS quarantined_rows
  FROM staging.trial_events_typed
  GROUP BY
    1
  UNION ALL
  SELECT
    event_at::DATE AS event_date,
    0 AS raw_rows,
    SUM(raw_row_count) AS staged_rows_with_duplicates,
    0 AS quarantined_rows
  FROM staging.trial_events
  GROUP BY
    1
  UNION ALL
  SELECT
    event_at::DATE AS event_date,
    0 AS raw_rows,
    0 AS staged_rows_with_duplicates,
    COUNT(*) AS quarantined_rows
  FROM @this_model
  GROUP BY
    1
)
SELECT
  event_date,
  SUM(raw_rows) AS raw_rows,
  SUM(staged_rows_with_duplicates) AS staged_rows_with_duplicates,
  SUM(quarantined_rows) AS quarantined_rows
FROM counts_by_source
/* Rows dated today (or later) are not due yet: the daily load takes a day once it has ended, so they
   are checked by the run that loads their day. */
WHERE
  event_date IS NULL OR event_date < CURRENT_DATE
GROUP BY
  event_date
HAVING
  SUM(raw_rows) <> SUM(staged_rows_with_duplicates) + SUM(quarantined_rows)