/* Every raw row set aside because it cannot be used, with the reason: one row per raw row. The
   rows with a usable event day (loaded day by day) and the rows without one, in one place. */
MODEL (
  name staging.trial_events_quarantine,
  kind VIEW,
  ignored_rules (
    nomissingaudits /* a union of two audited models */
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
FROM staging.trial_events_quarantine_dated
UNION ALL
SELECT
  quarantine_reason,
  organization_id,
  activity_name,
  raw_timestamp,
  raw_converted,
  raw_converted_at,
  raw_trial_start,
  raw_trial_end,
  event_at
FROM staging.trial_events_quarantine_undated