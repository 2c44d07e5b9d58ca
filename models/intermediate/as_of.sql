/* The moment the data describes: one row. as_of is midnight UTC at the end of the latest day for which
   the input holds any timestamp, an event's or a conversion's, on an event row or in the trials input
   (a scheduled trial_end does not count, nor a quarantined row). Every status (goal window closed,
   trial ended, outcome known) is judged at as_of, so a daily run and a full build on the same files agree. */
MODEL (
  name intermediate.as_of,
  kind FULL,
  audits (
    not_null(columns := (
      as_of
    ))
  )
);

WITH latest AS (
  SELECT
    GREATEST(MAX(last_event_at), MAX(max_converted_at)) AS latest_at
  FROM intermediate.org_days
  UNION ALL
  SELECT
    MAX(converted_at) AS latest_at
  FROM staging.trials
)
SELECT
  (
    DATE_TRUNC('DAY', MAX(latest_at)) + INTERVAL '1' DAY
  )::TIMESTAMP AS as_of /* midnight after the latest event or conversion */
FROM latest