/* Every row of the trials input (raw.trials), typed, with the reason it cannot be used (NULL when it
   can): one row per raw row. The single place where a trials row's validity is decided;
   staging.trials keeps the valid rows (one per organization) and staging.trials_quarantine the others.
   The row-level reasons are the event log's (staging.trial_events_typed), plus a conversion dated in
   the future, and one of the whole organization: an organization whose valid rows disagree (the
   export contradicts itself) has every row quarantined, so the event rows decide for it. */
MODEL (
  name staging.trials_typed,
  kind VIEW,
  ignored_rules (
    nomissingaudits /* its checks are the quarantine reasons, audited where the rows land (staging.trials, trial_rows_accounted_for) */
  )
);

WITH typed AS (
  SELECT
    @parse_text(organization_id) AS organization_id,
    @parse_timestamp(trial_start) AS trial_start,
    @parse_timestamp(trial_end) AS trial_end,
    @parse_boolean(converted) AS converted,
    @parse_timestamp(converted_at) AS converted_at,
    trial_start AS raw_trial_start,
    trial_end AS raw_trial_end,
    converted AS raw_converted,
    converted_at AS raw_converted_at,
    source_file
  FROM raw.trials
), row_checked AS (
  SELECT
    *,
    COALESCE(
      CASE WHEN organization_id IS NULL THEN 'missing_organization_id' END,
      @trial_attributes_reason(trial_start, trial_end, converted, converted_at, raw_converted_at),
      CASE
        WHEN converted_at >= @future_events_from()
        THEN 'converted_at_in_future' /* a corrupt timestamp: it would move as_of into the future */
      END
    ) AS row_reason
  FROM typed
), compared AS (
  /* the organization's valid rows, compared: exact duplicates agree, anything else disagrees */
  SELECT
    *,
    MIN(trial_start) OVER organization <> MAX(trial_start) OVER organization
    OR MIN(trial_end) OVER organization <> MAX(trial_end) OVER organization
    OR MIN(converted::INT) OVER organization <> MAX(converted::INT) OVER organization
    OR MIN(converted_at) OVER organization <> MAX(converted_at) OVER organization
    OR NOT COUNT(converted_at) OVER organization IN (0, COUNT(*) OVER organization) AS rows_disagree
  FROM row_checked
  WHERE
    row_reason IS NULL
  WINDOW organization AS (PARTITION BY organization_id)
)
SELECT
  r.organization_id, /* the trialist organization; NULL when empty or spelled NULL */
  r.trial_start, /* parsed TRIAL_START */
  r.trial_end, /* parsed TRIAL_END */
  r.converted, /* parsed CONVERTED; NULL when the spelling is not a boolean */
  r.converted_at, /* parsed CONVERTED_AT; NULL when empty or unparseable */
  r.raw_trial_start::TEXT AS raw_trial_start, /* TRIAL_START as delivered, kept to explain a quarantine */
  r.raw_trial_end::TEXT AS raw_trial_end, /* TRIAL_END as delivered */
  r.raw_converted::TEXT AS raw_converted, /* CONVERTED as delivered */
  r.raw_converted_at::TEXT AS raw_converted_at, /* CONVERTED_AT as delivered */
  r.source_file, /* the file the row was read from */
  COALESCE(r.row_reason, CASE WHEN c.rows_disagree THEN 'conflicting_organization_rows' END) AS quarantine_reason /* why the row cannot be used; NULL for a valid row */
FROM row_checked AS r
LEFT JOIN (
  SELECT DISTINCT
    organization_id,
    rows_disagree
  FROM compared
) AS c
  ON r.organization_id = c.organization_id AND r.row_reason IS NULL