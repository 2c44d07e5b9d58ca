/* Every raw row set aside because it cannot be used, with the reason: one row per raw row. The
   reasons are the branches of the CASE in staging.trial_events_typed, their one list, and this is
   that view's other half: staging.trial_events keeps the rows with no reason. A view, so it holds
   every bad row of the input as it is now, late deliveries and rows with no loadable day (timestamp
   unparseable, before TRIAL_EVENTS_START, in the future) included, and a daily run computes nothing
   for it. The accounting audit raw_rows_accounted_for, on staging.trial_events, checks each loaded
   day: its raw rows = the staged rows (duplicates included) + the rows set aside here. */
MODEL (
  name staging.trial_events_quarantine,
  kind VIEW,
  ignored_rules (
    nomissingaudits /* quarantine_reason is never NULL by the WHERE below, and the rows are accounted for by raw_rows_accounted_for on staging.trial_events: auditing the view would type the whole file again */
  )
);

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
FROM staging.trial_events_typed
WHERE
  NOT quarantine_reason IS NULL