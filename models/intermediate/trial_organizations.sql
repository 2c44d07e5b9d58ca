/* Trialist organizations: one row per organization that has at least one staged event or a row in
   the trials input (staging.trials). Where the trials input has a row for the organization, its
   trial_start, trial_end, converted and converted_at win. Otherwise the event rows decide: the earliest
   trial_start and latest trial_end, and the conversion of the latest day's rows (the latest delivered
   value wins: a later day's rows saying converted is a normal change). has_conflicting_attributes
   flags real disagreements: event rows disagreeing on the trial window, rows of one day disagreeing on
   the conversion, the trials input's window differing from the event rows' (whose trial days were
   counted from their own trial_start), or event rows saying converted where the trials input says not.
   An organization only in the trials input has no events: every goal at 0. Rebuilt from the per-day
   summaries of intermediate.org_days (a few rows per organization), not from the events. Where the trial and the
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
    not_null(columns := (
      is_outcome_final
    )),
    conversion_within_window
  )
);

WITH days AS (
  /* each organization's event rows of one day: the rows of one delivery */
  SELECT
    organization_id,
    event_date,
    MIN(min_trial_start) AS min_trial_start,
    MAX(max_trial_start) AS max_trial_start,
    MIN(min_trial_end) AS min_trial_end,
    MAX(max_trial_end) AS max_trial_end,
    BOOL_OR(any_converted::BOOLEAN) AS any_converted,
    MIN(min_converted_at) AS min_converted_at,
    BOOL_OR(any_converted::BOOLEAN) <> BOOL_AND(all_converted::BOOLEAN)
    OR COALESCE(MIN(min_converted_at) <> MAX(max_converted_at), FALSE)
    OR SUM(events_with_converted_at) BETWEEN 1 AND SUM(event_count) - 1 AS is_day_conflicting, /* the day's rows disagree on the conversion (some with converted_at, some without included) */
    SUM(raw_row_count) AS raw_row_count,
    SUM(event_count) AS event_count,
    MIN(first_event_at) AS first_event_at,
    MAX(last_event_at) AS last_event_at,
    ROW_NUMBER() OVER (PARTITION BY organization_id ORDER BY event_date DESC) AS day_from_latest
  FROM intermediate.org_days
  GROUP BY
    organization_id,
    event_date
), from_events AS (
  /* the event rows' word: the widest trial window, the latest day's conversion */
  SELECT
    organization_id,
    MIN(min_trial_start) AS trial_start,
    MAX(max_trial_end) AS trial_end,
    MAX(max_trial_start) AS max_trial_start,
    MIN(min_trial_end) AS min_trial_end,
    BOOL_OR(CAST(any_converted AND day_from_latest = 1 AS BOOLEAN)) AS converted, /* the latest delivered value wins */
    MIN(CASE WHEN day_from_latest = 1 THEN min_converted_at END) AS converted_at,
    MIN(min_trial_start) <> MAX(max_trial_start)
    OR MIN(min_trial_end) <> MAX(max_trial_end)
    OR BOOL_OR(is_day_conflicting::BOOLEAN) AS has_conflicting_attributes,
    SUM(raw_row_count)::BIGINT AS raw_row_count, /* BIGINT: a SUM is HUGEINT in DuckDB */
    SUM(event_count)::BIGINT AS event_count,
    MIN(first_event_at) AS first_event_at,
    MAX(last_event_at) AS last_event_at
  FROM days
  GROUP BY
    organization_id
), organizations AS (
  /* the trials input's row wins where there is one; the events decide for the rest */
  SELECT
    COALESCE(t.organization_id, e.organization_id) AS organization_id,
    CASE WHEN t.organization_id IS NULL THEN e.trial_start ELSE t.trial_start END AS trial_start,
    CASE WHEN t.organization_id IS NULL THEN e.trial_end ELSE t.trial_end END AS trial_end,
    CASE WHEN t.organization_id IS NULL THEN e.converted ELSE t.converted END AS converted,
    CASE WHEN t.organization_id IS NULL THEN e.converted_at ELSE t.converted_at END AS converted_at,
    COALESCE(e.has_conflicting_attributes, FALSE)
    OR COALESCE(
      t.trial_start <> e.trial_start
      OR t.trial_start <> e.max_trial_start
      OR t.trial_end <> e.trial_end
      OR t.trial_end <> e.min_trial_end
      OR (
        e.converted AND NOT t.converted
      ),
      FALSE
    ) AS has_conflicting_attributes, /* trial windows: the events' trial days count from their own trial_start; a conversion the trials input does not know */
    COALESCE(e.raw_row_count, 0) AS raw_row_count,
    COALESCE(e.event_count, 0) AS event_count,
    e.first_event_at,
    e.last_event_at
  FROM from_events AS e
  FULL JOIN staging.trials AS t
    ON e.organization_id = t.organization_id
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
  has_conflicting_attributes, /* the organization's rows disagree on trial or conversion columns (see above) */
  event_count, /* distinct staged events, in or outside the trial; 0 for an organization only in the trials input */
  raw_row_count, /* raw event rows behind those events, exact duplicates included */
  first_event_at, /* first staged event; NULL without events */
  last_event_at, /* last staged event; NULL without events */
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