/* The raw trial event log as delivered: one row per exported row, duplicates and bad values included.
   On DuckDB it reads TRIAL_EVENTS_PATH in place (CSV, gzipped CSV or Parquet, one file or a glob);
   values stay text for CSV so that nothing is lost before staging decides what is valid. */
MODEL (
  name raw.trial_events,
  kind VIEW,
  enabled @IF(@gateway = 'local', TRUE, FALSE)
);

SELECT
  organization_id, /* the trialist organization (32 hex characters in real exports) */
  activity_name, /* product event name, e.g. Scheduling.Shift.Created */
  "timestamp", /* when the event happened */
  converted, /* whether the organization became a paying customer (True/TRUE/true/...) */
  converted_at, /* when it converted; empty when it did not */
  trial_start, /* start of the organization's trial */
  trial_end /* end of the organization's trial */
FROM @trial_events_source()
