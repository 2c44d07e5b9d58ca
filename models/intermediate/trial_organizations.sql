/* Trialist organizations: one row per organization that has at least one staged event.
   The organization-level columns repeat on every event row; when an organization's rows disagree,
   the organization is kept, flagged has_conflicting_attributes, and resolved to its earliest
   trial_start, latest trial_end and earliest conversion. Rebuilt from the per-day summaries of
   intermediate.org_days (a few rows per organization), not from the events. Where the trial and the
   outcome stand at intermediate.as_of: the trial is in_trial until trial_end; the outcome is converted,
   not_converted once conversion_window_days have passed since trial_end, or pending until then. */
MODEL (
  name intermediate.trial_organizations,
  kind FULL,
  grain (
    organization_id
  ),
  audits (
    not_null(
      columns := (organization_id, trial_start, trial_end, converted, conversion_timing)
    ),
    unique_values(columns := (
      organization_id
    )),
    accepted_values(
      "column" := conversion_timing,
      is_in := ('not_converted', 'before_trial', 'during_trial', 'after_trial')
    ),
    accepted_values("column" := trial_status, is_in := ('in_trial', 'ended')),
    accepted_values("column" := outcome_status, is_in := ('converted', 'not_converted', 'pending')),
    not_null(columns := (is_outcome_final)),
    conversion_within_window
  )
);

WITH organizations AS (
  SELECT
    organization_id,
    MIN(min_trial_start) AS trial_start,
    MAX(max_trial_end) AS trial_end,
    BOOL_OR(any_converted::BOOLEAN) AS converted,
    MIN(min_converted_at) AS converted_at,
    MIN(min_trial_start) <> MAX(max_trial_start)
    OR MIN(min_trial_end) <> MAX(max_trial_end)
    OR BOOL_OR(any_converted::BOOLEAN) <> BOOL_AND(all_converted::BOOLEAN)
    OR COALESCE(MIN(min_converted_at) <> MAX(max_converted_at), FALSE)
    OR SUM(events_with_converted_at) BETWEEN 1 AND SUM(event_count) - 1 AS has_conflicting_attributes, /* some rows with converted_at, some without */
    SUM(raw_row_count)::BIGINT AS raw_row_count, /* BIGINT: a SUM is HUGEINT in DuckDB */
    SUM(event_count)::BIGINT AS event_count,
    MIN(first_event_at) AS first_event_at,
    MAX(last_event_at) AS last_event_at
  FROM intermediate.org_days
  GROUP BY
    organization_id
)
SELECT
  organization_id, /* the trialist organization */
  trial_start, /* start of the trial */
  trial_end, /* end of the trial */
  converted, /* whether the organization became a paying customer */
  converted_at, /* when it converted; NULL when it did not */
  CASE
    WHEN NOT converted
    THEN 'not_converted'
    WHEN converted_at < trial_start
    THEN 'before_trial'
    WHEN converted_at <= trial_end
    THEN 'during_trial'
    ELSE 'after_trial'
  END AS conversion_timing, /* not_converted, before_trial, during_trial (up to trial_end) or after_trial */
  has_conflicting_attributes, /* the organization's rows disagree on trial or conversion columns */
  event_count, /* distinct staged events, in or outside the trial */
  raw_row_count, /* raw rows behind those events, exact duplicates included */
  first_event_at, /* first staged event */
  last_event_at, /* last staged event */
  a.as_of, /* the moment the data describes (intermediate.as_of) */
  CASE WHEN a.as_of < trial_end THEN 'in_trial' ELSE 'ended' END AS trial_status, /* in_trial while as_of < trial_end, else ended */
  CASE
    WHEN converted
    THEN 'converted'
    WHEN a.as_of >= trial_end + INTERVAL '1' DAY * @conversion_window_days
    THEN 'not_converted'
    ELSE 'pending'
  END AS outcome_status, /* converted; not_converted once conversion_window_days have passed since trial_end; else pending */
  a.as_of >= trial_end + INTERVAL '1' DAY * @conversion_window_days AS is_outcome_final /* the conversion window has closed, converted or not: only these count in statistics (a conversion is known at once, a non-conversion only then: counting the early converters would inflate every rate) */
FROM organizations
CROSS JOIN intermediate.as_of AS a