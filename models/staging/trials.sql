/* The trials input's valid rows: one row per organization, with the trial window and conversion the
   billing system exported. Exact duplicate rows (the same values once typed) are collapsed into one
   row that counts them in raw_row_count; rows that cannot be used are in staging.trials_quarantine.
   Its values win over those repeated on event rows (intermediate.trial_organizations). The audit
   trial_rows_accounted_for checks that every raw row is staged or quarantined. */
MODEL (
  name staging.trials,
  kind FULL,
  grain (
    organization_id
  ),
  audits (
    not_null(columns := (organization_id, trial_start, trial_end, converted, raw_row_count)),
    unique_values(columns := (
      organization_id
    )),
    trial_rows_accounted_for
  )
);

SELECT
  organization_id, /* the trialist organization */
  trial_start, /* start of the trial, as the trials input says */
  trial_end, /* end of the trial */
  converted, /* whether the organization became a paying customer */
  converted_at, /* when it converted; NULL when it did not */
  COUNT(*)::BIGINT AS raw_row_count /* raw rows behind this one; above 1 means exact duplicates were removed */
FROM staging.trials_typed
WHERE
  quarantine_reason IS NULL
GROUP BY
  organization_id,
  trial_start,
  trial_end,
  converted,
  converted_at