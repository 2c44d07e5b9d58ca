/* In-trial events per organization, activity and day: one row per organization, activity_name,
   trial_day and event_date. The compact input of every goal metric, so organization-level models
   never rescan the events; incremental by event day like staging.trial_events. */
MODEL (
  name intermediate.org_daily_activity,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column event_date
  ),
  grain (organization_id, activity_name, trial_day, event_date),
  audits (
    not_null(columns := (organization_id, activity_name, trial_day, event_date, event_count)),
    unique_combination_of_columns(columns := (organization_id, activity_name, trial_day, event_date)),
    accepted_range("column" := event_count, min_v := 1)
  )
);

SELECT
  organization_id, /* the trialist organization */
  activity_name, /* product event name */
  trial_day, /* whole days since trial_start, 0-based */
  event_at::DATE AS event_date, /* calendar day of the events */
  COUNT(*) AS event_count /* distinct in-trial events (duplicates removed) */
FROM staging.trial_events
WHERE
  is_in_trial AND event_at BETWEEN @start_ts AND @end_ts
GROUP BY
  organization_id,
  activity_name,
  trial_day,
  event_at::DATE