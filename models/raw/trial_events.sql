/* The raw trial event log as delivered: one row per exported row, duplicates and bad values included.
   On DuckDB it reads TRIAL_EVENTS_PATH in place (CSV, gzipped CSV or Parquet, one file or a glob);
   values stay text for CSV so that nothing is lost before staging decides what is valid.
   Its columns are declared (as text) so lineage and the linter see them; Parquet keeps its own types. */
MODEL (
  name raw.trial_events,
  kind VIEW,
  enabled @IF(@gateway = 'local', TRUE, FALSE),
  columns (
    organization_id TEXT,
    activity_name TEXT,
    "timestamp" TEXT,
    converted TEXT,
    converted_at TEXT,
    trial_start TEXT,
    trial_end TEXT,
    source_file TEXT
  ),
  ignored_rules (
    ambiguousorinvalidcolumn /* the file's columns are unknown to SQLMesh until DuckDB reads it; @trial_events_source() checks every file's header first, with an error naming the file */
  ),
  audits (
    number_of_rows(threshold := 0) /* an event log without a single row is a broken export, not a quiet day */
  )
);

SELECT
  organization_id, /* the trialist organization (32 hex characters in real exports) */
  activity_name, /* product event name, e.g. Scheduling.Shift.Created */
  "timestamp", /* when the event happened */
  converted, /* whether the organization became a paying customer (True/TRUE/true/...) */
  converted_at, /* when it converted; empty when it did not */
  trial_start, /* start of the organization's trial */
  trial_end, /* end of the organization's trial */
  filename AS source_file /* the file the row was read from */
FROM @trial_events_source()