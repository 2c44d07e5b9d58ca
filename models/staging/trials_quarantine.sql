/* Every row of the trials input set aside because it cannot be used, with the reason: one row per
   raw row. The sibling of staging.trial_events_quarantine (source = 'trials' says which input a row
   came from when the two are read together); the reasons are the CASE of staging.trials_typed. A
   view, so it always holds every bad row of the input as it is now. */
MODEL (
  name staging.trials_quarantine,
  kind VIEW,
  ignored_rules (
    nomissingaudits /* quarantine_reason is never NULL by the WHERE below, and the rows are accounted for by trial_rows_accounted_for on staging.trials */
  )
);

SELECT
  'trials' AS source, /* the input the row came from: TRIAL_TRIALS_PATH */
  quarantine_reason, /* why the row was set aside (see docs/data-quality.md) */
  organization_id, /* the organization, when the row names one */
  raw_trial_start, /* TRIAL_START as delivered */
  raw_trial_end, /* TRIAL_END as delivered */
  raw_converted, /* CONVERTED as delivered */
  raw_converted_at, /* CONVERTED_AT as delivered */
  source_file /* the file the row was read from */
FROM staging.trials_typed
WHERE
  NOT quarantine_reason IS NULL