/* Each organization's staged events summarised per event day: one row per organization and day
   with events. The organization-level columns are kept as their day's extremes, so that
   intermediate.trial_organizations resolves and flags disagreeing rows from these rows alone,
   without rescanning the events. Incremental by event day, like staging.trial_events. */
MODEL (
  name intermediate.trial_organization_days,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column event_date
  ),
  grain (organization_id, event_date),
  audits (
    not_null(
      columns := (
        organization_id,
        event_date,
        min_trial_start,
        max_trial_end,
        any_converted,
        event_count
      )
    ),
    unique_combination_of_columns(columns := (organization_id, event_date)),
    accepted_range("column" := event_count, min_v := 1)
  )
);

SELECT
  organization_id, /* the trialist organization */
  event_at::DATE AS event_date, /* calendar day of the events */
  MIN(trial_start) AS min_trial_start, /* earliest trial_start on the day's rows */
  MAX(trial_start) AS max_trial_start, /* latest trial_start on the day's rows */
  MIN(trial_end) AS min_trial_end, /* earliest trial_end on the day's rows */
  MAX(trial_end) AS max_trial_end, /* latest trial_end on the day's rows */
  BOOL_OR(converted::BOOLEAN) AS any_converted, /* some of the day's rows say converted */
  BOOL_AND(converted::BOOLEAN) AS all_converted, /* all of the day's rows say converted */
  MIN(converted_at) AS min_converted_at, /* earliest converted_at on the day's rows */
  MAX(converted_at) AS max_converted_at, /* latest converted_at on the day's rows */
  COUNT(converted_at) AS events_with_converted_at, /* the day's events with a converted_at */
  COUNT(*) AS event_count, /* the day's distinct staged events, in or outside the trial */
  SUM(raw_row_count)::BIGINT AS raw_row_count, /* raw rows behind them, exact duplicates included */
  MIN(event_at) AS first_event_at, /* the day's first event */
  MAX(event_at) AS last_event_at /* the day's last event */
FROM staging.trial_events
WHERE
  event_at BETWEEN @start_ts AND @end_ts
GROUP BY
  organization_id,
  event_at::DATE