/* Every raw row set aside because it cannot be used, with the reason: one row per raw row. The
   reasons are the branches of the CASE in staging.trial_events_typed, their one list. Rows with a
   usable event day come from staging.trial_events_quarantine_dated, loaded day by day under the
   accounting audit; the rest belong to no day a load covers (timestamp unparseable, before the
   project's start TRIAL_EVENTS_START, or in the future: after the end of today plus
   future_event_margin_days), so no daily load could pick them up and they are read here on every run.
   Those cases are separate scans rather than one OR: on Parquet input DuckDB then skips every row
   group whose statistics rule the case out (no NULLs; no time before the start or after today). */
MODEL (
  name staging.trial_events_quarantine,
  kind FULL,
  audits (
    not_null(columns := (
      quarantine_reason
    ))
  )
);

WITH quarantined AS (
  SELECT
    *
  FROM staging.trial_events_quarantine_dated
  UNION ALL
  SELECT
    *
  FROM staging.trial_events_typed
  WHERE
    event_at IS NULL
  UNION ALL
  SELECT
    *
  FROM staging.trial_events_typed
  WHERE
    event_at < @trial_events_start::TIMESTAMP
  UNION ALL
  SELECT
    *
  FROM staging.trial_events_typed
  WHERE
    event_at >= @future_events_from()
)
SELECT
  quarantine_reason, /* why the row was set aside (see docs/data-quality.md) */
  organization_id, /* the organization, when the row names one */
  activity_name, /* product event name, when present */
  raw_timestamp, /* TIMESTAMP as delivered */
  raw_converted, /* CONVERTED as delivered */
  raw_converted_at, /* CONVERTED_AT as delivered */
  raw_trial_start, /* TRIAL_START as delivered */
  raw_trial_end, /* TRIAL_END as delivered */
  event_at /* parsed TIMESTAMP, when it parses */
FROM quarantined