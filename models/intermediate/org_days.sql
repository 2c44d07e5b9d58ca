/* The per-organization daily table every goal, candidate and organization model reads: one row per
   organization, event day, trial day and activity. One pass over the staged events; trial_day is in
   the grain because an organization's rows may disagree on trial_start (intermediate.trial_organizations
   resolves and flags that from the organization columns, kept here as each group's extremes).
   Incremental by event day, like staging.trial_events. */
MODEL (
  name intermediate.org_days,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column event_date
  ),
  grain (organization_id, event_date, trial_day, activity_name),
  audits (
    not_null(
      columns := (
        organization_id,
        event_date,
        trial_day,
        activity_name,
        event_count,
        in_trial_events
      )
    ),
    unique_combination_of_columns(columns := (organization_id, event_date, trial_day, activity_name)),
    accepted_range("column" := event_count, min_v := 1)
  )
);

SELECT
  organization_id, /* the trialist organization */
  event_at::DATE AS event_date, /* calendar day of the events */
  trial_day, /* whole days since the row's trial_start, 0-based */
  activity_name, /* product event name */
  COUNT(*) FILTER(WHERE
    is_in_trial) AS in_trial_events, /* distinct events inside the trial: what goals and candidates count */
  MIN(event_at) FILTER(WHERE
    is_in_trial) AS first_in_trial_at, /* the first of them (an active day's completing event) */
  COUNT(*) AS event_count, /* distinct staged events, in or outside the trial */
  SUM(raw_row_count)::BIGINT AS raw_row_count, /* raw rows behind them, exact duplicates included */
  MIN(trial_start) AS min_trial_start, /* earliest trial_start on these rows */
  MAX(trial_start) AS max_trial_start, /* latest trial_start on these rows */
  MIN(trial_end) AS min_trial_end, /* earliest trial_end on these rows */
  MAX(trial_end) AS max_trial_end, /* latest trial_end on these rows */
  BOOL_OR(converted::BOOLEAN) AS any_converted, /* some of these rows say converted */
  BOOL_AND(converted::BOOLEAN) AS all_converted, /* all of these rows say converted */
  MIN(converted_at) AS min_converted_at, /* earliest converted_at on these rows */
  MAX(converted_at) AS max_converted_at, /* latest converted_at on these rows */
  COUNT(converted_at) AS events_with_converted_at, /* events with a converted_at */
  MIN(event_at) AS first_event_at, /* first event */
  MAX(event_at) AS last_event_at /* last event */
FROM staging.trial_events
WHERE
  event_at BETWEEN @start_ts AND @end_ts
GROUP BY
  organization_id,
  event_at::DATE,
  trial_day,
  activity_name