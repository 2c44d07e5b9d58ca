/* Raw rows set aside because they cannot be used, for the rows with a usable event day: one row
   per raw row. Incremental by event day like staging.trial_events, so a daily run checks only the
   new day's rows, and raw_rows_accounted_for proves, for every day it loads, that each raw row was
   staged, folded into a duplicate or set aside here. Rows with no usable day are in
   staging.trial_events_quarantine_undated; staging.trial_events_quarantine shows both. */
MODEL (
  name staging.trial_events_quarantine_dated,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column event_at,
    partition_by_time_column FALSE /* a timestamp: on Spark, one partition per distinct event time */
  ),
  audits (
    not_null(columns := (
      quarantine_reason
    )),
    accepted_values(
      "column" := quarantine_reason,
      is_in := (
        'missing_organization_id',
        'missing_activity_name',
        'unparseable_trial_start',
        'unparseable_trial_end',
        'unparseable_converted',
        'unparseable_converted_at',
        'trial_end_before_trial_start',
        'converted_without_converted_at',
        'converted_at_without_conversion',
        'event_far_outside_trial'
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
  NOT quarantine_reason IS NULL AND event_at BETWEEN @start_ts AND @end_ts