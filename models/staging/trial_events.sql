/* Product events of trialist organizations, typed and deduplicated: one row per distinct event.
   Exact duplicate rows of the export (all seven columns equal once typed) are collapsed into one
   row that counts them in raw_row_count. Incremental by event day: a daily run loads only the new
   day. Rows that cannot be used are in staging.trial_events_quarantine instead, and the accounting
   audit raw_rows_accounted_for checks every day loaded: its raw rows = staged (duplicates included)
   + quarantined. The grain is unique by construction (the GROUP BY of exactly its columns, then a
   LEFT JOIN to staging.known_activities, whose blocking unique_values audit keeps activity_name
   unique; and a day's rows are replaced as a whole), so it is not audited again: that audit would
   scan every event of every run. */
MODEL (
  name staging.trial_events,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column event_at,
    batch_size @staging_batch_days(), /* a first build's days per batch: by the input's format (macros/raw_source.py) */
    partition_by_time_column FALSE /* a timestamp: on Spark, one partition per distinct event time */
  ),
  grain (
    organization_id,
    activity_name,
    event_at,
    trial_start,
    trial_end,
    converted,
    converted_at
  ),
  audits (
    not_null(
      columns := (organization_id, activity_name, event_at, trial_start, trial_end, converted)
    ),
    accepted_range("column" := raw_row_count, min_v := 1),
    raw_rows_accounted_for
  )
);

WITH events AS (
  /* Deduplicated first, then joined: the join to the known activities runs once per event, not once
     per raw row, and the hash table does not carry its key (benchmarks/README.md). */
  SELECT
    organization_id,
    activity_name,
    event_at,
    trial_start,
    trial_end,
    converted,
    converted_at,
    COUNT(*) AS raw_row_count
  FROM staging.trial_events_typed
  WHERE
    quarantine_reason IS NULL AND event_at BETWEEN @start_ts AND @end_ts
  GROUP BY
    organization_id,
    activity_name,
    event_at,
    trial_start,
    trial_end,
    converted,
    converted_at
)
SELECT
  e.organization_id, /* the trialist organization */
  e.activity_name, /* product event name, e.g. Scheduling.Shift.Created */
  e.event_at, /* when the event happened */
  e.trial_start, /* start of the organization's trial, as on this row */
  e.trial_end, /* end of the organization's trial, as on this row */
  e.converted, /* whether the organization became a paying customer */
  e.converted_at, /* when it converted; NULL when it did not */
  @trial_day(e.trial_start, e.event_at) AS trial_day, /* whole days since trial_start, 0-based (negative before the trial); goal windows are ranges of trial days */
  e.event_at BETWEEN e.trial_start AND e.trial_end AS is_in_trial, /* inside [trial_start, trial_end]; events outside count toward no goal */
  NOT k.activity_name IS NULL AS is_known_activity, /* the activity is listed in seeds/known_activities.csv */
  e.raw_row_count /* raw rows this event was loaded from; above 1 means exact duplicates were removed */
FROM events AS e
LEFT JOIN staging.known_activities AS k
  ON e.activity_name = k.activity_name