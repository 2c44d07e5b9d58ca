/* Every raw row, typed, with the reason it cannot be used (NULL when it can): one row per raw row.
   The single place where validity is decided; staging.trial_events keeps the valid rows and
   staging.trial_events_quarantine the others, so the two always partition the raw rows. */
MODEL (
  name staging.trial_events_typed,
  kind VIEW,
  ignored_rules (
    nomissingaudits /* its checks are the quarantine reasons, audited where the rows land (staging.trial_events, the quarantine, raw_rows_accounted_for), so the file is not scanned again to audit a view */
  )
);

WITH typed AS (
  SELECT
    @parse_text(organization_id) AS organization_id,
    @parse_text(activity_name) AS activity_name,
    @parse_timestamp("timestamp") AS event_at,
    @parse_boolean(converted) AS converted,
    @parse_timestamp(converted_at) AS converted_at,
    @parse_timestamp(trial_start) AS trial_start,
    @parse_timestamp(trial_end) AS trial_end,
    "timestamp" AS raw_timestamp, /* the raw values pass through as they are: they are cast to text in the SELECT below, after the filter a reader puts on quarantine_reason, so only the rows it keeps are cast */
    converted AS raw_converted,
    converted_at AS raw_converted_at,
    trial_start AS raw_trial_start,
    trial_end AS raw_trial_end
  FROM raw.trial_events
)
SELECT
  organization_id, /* the trialist organization; NULL when empty or spelled NULL */
  activity_name, /* product event name; NULL when empty or spelled NULL */
  event_at, /* when the event happened, in UTC; NULL when the raw value does not parse */
  converted, /* parsed CONVERTED; NULL when the spelling is not a boolean */
  converted_at, /* parsed CONVERTED_AT; NULL when empty or unparseable */
  trial_start, /* parsed TRIAL_START */
  trial_end, /* parsed TRIAL_END */
  raw_timestamp::TEXT AS raw_timestamp, /* TIMESTAMP as delivered, kept to explain a quarantine */
  raw_converted::TEXT AS raw_converted, /* CONVERTED as delivered */
  raw_converted_at::TEXT AS raw_converted_at, /* CONVERTED_AT as delivered */
  raw_trial_start::TEXT AS raw_trial_start, /* TRIAL_START as delivered */
  raw_trial_end::TEXT AS raw_trial_end, /* TRIAL_END as delivered */
  COALESCE(
    CASE
      WHEN organization_id IS NULL
      THEN 'missing_organization_id'
      WHEN activity_name IS NULL
      THEN 'missing_activity_name'
      WHEN event_at IS NULL
      THEN 'unparseable_timestamp'
      WHEN event_at >= @future_events_from()
      THEN 'event_in_future' /* not a late row: a corrupt timestamp (see future_event_margin_days) */
    END,
    @trial_attributes_reason(trial_start, trial_end, converted, converted_at, raw_converted_at),
    CASE
      WHEN event_at < trial_start - @far_outside_trial_days * INTERVAL '1' DAY
      OR event_at > trial_end + @far_outside_trial_days * INTERVAL '1' DAY
      THEN 'event_far_outside_trial'
      WHEN event_at < @trial_events_start::TIMESTAMP
      THEN 'event_before_project_start' /* before every model's start: no incremental load covers it */
    END
  ) AS quarantine_reason /* why the row cannot be used; NULL for a valid row */
FROM typed