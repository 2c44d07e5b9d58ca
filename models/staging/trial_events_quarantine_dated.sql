/* Raw rows set aside that have a usable event day, as staging.trial_events_typed types them: one row
   per raw row. A model of its own because the accounting audit must check each day as it is loaded
   (incremental by event day like staging.trial_events): raw_rows_accounted_for proves, for every day
   it loads, that each raw row was staged, folded into a duplicate or set aside here. Readers use
   staging.trial_events_quarantine, which names the columns and adds the rows with no usable day. */
MODEL (
  name staging.trial_events_quarantine_dated,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column event_at,
    partition_by_time_column FALSE /* a timestamp: on Spark, one partition per distinct event time */
  ),
  audits (not_null(columns := (
      quarantine_reason
  )), raw_rows_accounted_for),
  depends_on (
    staging.trial_events
  ),
  ignored_rules (
    noselectstar /* the typed rows as they are: staging.trial_events_quarantine names the columns once */
  )
);

SELECT
  *
FROM staging.trial_events_typed
WHERE
  NOT quarantine_reason IS NULL AND event_at BETWEEN @start_ts AND @end_ts