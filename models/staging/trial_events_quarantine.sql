/* Raw rows set aside because they cannot be used, each with the reason: one row per raw row.
   Rebuilt in full on every run: a bad row can sit anywhere in the file, and a row whose timestamp
   does not parse belongs to no day, so it cannot be found by a daily, incremental load. */
MODEL (
  name staging.trial_events_quarantine,
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
        'event_before_project_start'
      )
    ),
    raw_rows_accounted_for
  ),
  depends_on (
    staging.trial_events
  )
);

SELECT
  quarantine_reason, /* why the row was set aside (see the README's table of bad-row classes) */
  organization_id, /* the organization, when the row names one */
  activity_name, /* product event name, when present */
  raw_timestamp, /* TIMESTAMP as delivered */
  raw_converted, /* CONVERTED as delivered */
  raw_converted_at, /* CONVERTED_AT as delivered */
  raw_trial_start, /* TRIAL_START as delivered */
  raw_trial_end, /* TRIAL_END as delivered */
  event_at /* parsed TIMESTAMP, when it parses */
FROM staging.trial_events_typed
WHERE
  NOT quarantine_reason IS NULL