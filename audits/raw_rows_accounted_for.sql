AUDIT (
  name raw_rows_accounted_for
);

/* Nothing is lost: for every event day of the interval being loaded, the raw rows equal the staged
   rows, plus the exact duplicates folded into them, plus the rows set aside with a reason (what the
   view staging.trial_events_quarantine holds: staging.trial_events_typed's rows with a reason).
   Attached to staging.trial_events. Fails with one row per day that does not add up: e.g. events
   that arrived late for a day already loaded, which `sqlmesh audit --start ... --end ...` over the
   past days finds (restate that day, see docs/incremental.md). Rows with no usable day belong to no
   load: they are in the quarantine by construction. */ /* One row per source and day, summed per day below. */
WITH counts_by_source AS (
  SELECT
    event_at::DATE AS event_date,
    COUNT(*) AS raw_rows,
    0 AS staged_rows_with_duplicates,
    COUNT(quarantine_reason) AS quarantined_rows
  FROM staging.trial_events_typed
  WHERE
    event_at BETWEEN @start_ts AND @end_ts
  GROUP BY
    1
  UNION ALL
  SELECT
    event_at::DATE AS event_date,
    0 AS raw_rows,
    SUM(raw_row_count) AS staged_rows_with_duplicates,
    0 AS quarantined_rows
  FROM @this_model
  WHERE
    event_at BETWEEN @start_ts AND @end_ts
  GROUP BY
    1
)
SELECT
  event_date,
  SUM(raw_rows) AS raw_rows,
  SUM(staged_rows_with_duplicates) AS staged_rows_with_duplicates,
  SUM(quarantined_rows) AS quarantined_rows
FROM counts_by_source
GROUP BY
  event_date
HAVING
  SUM(raw_rows) <> SUM(staged_rows_with_duplicates) + SUM(quarantined_rows)