/* Raw rows set aside that belong to no day a load covers: one row per raw row whose timestamp does
   not parse, is before the project's start (TRIAL_EVENTS_START) or is in the future (after the end
   of today plus future_event_margin_days: whatever else is wrong with such a row, no load would
   ever take its day). No daily load can pick such a row up, so this model is rebuilt on every run.
   The cases are separate scans rather than one OR: on Parquet input DuckDB then skips every row
   group whose statistics rule the case out (no NULLs; no time before the start or after today) and
   reads nothing else; a CSV is read once per case. */
MODEL (
  name staging.trial_events_quarantine_undated,
  kind FULL,
  audits (
    not_null(columns := (
      quarantine_reason
    )),
    accepted_values(
      "column" := quarantine_reason,
      is_in := (
        'missing_organization_id',
        'missing_activity_name',
        'unparseable_timestamp',
        'unparseable_trial_start',
        'unparseable_trial_end',
        'unparseable_converted',
        'unparseable_converted_at',
        'trial_end_before_trial_start',
        'converted_without_converted_at',
        'converted_at_without_conversion',
        'event_far_outside_trial',
        'event_before_project_start',
        'event_in_future'
      )
    )
  )
);

WITH undated AS (
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
  quarantine_reason, /* why the row was set aside (see the README's table of bad-row classes) */
  organization_id, /* the organization, when the row names one */
  activity_name, /* product event name, when present */
  raw_timestamp, /* TIMESTAMP as delivered */
  raw_converted, /* CONVERTED as delivered */
  raw_converted_at, /* CONVERTED_AT as delivered */
  raw_trial_start, /* TRIAL_START as delivered */
  raw_trial_end, /* TRIAL_END as delivered */
  event_at /* parsed TIMESTAMP, when it parses (before the project's start, or in the future) */
FROM undated