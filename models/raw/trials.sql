/* The optional trials input as delivered: one row per exported row (one per organization in a clean
   export), duplicates and bad values included. On DuckDB it reads TRIAL_TRIALS_PATH in place (CSV,
   gzipped CSV or Parquet, one file or a glob), checked like the event log; values stay text for CSV.
   With no path set, and on the warehouse gateways (not read there yet), it is an empty relation with
   the same columns, so every plan works without it and the event rows decide. */
MODEL (
  name raw.trials,
  kind VIEW,
  columns (
    organization_id TEXT,
    trial_start TEXT,
    trial_end TEXT,
    converted TEXT,
    converted_at TEXT,
    source_file TEXT
  ),
  ignored_rules (
    ambiguousorinvalidcolumn, /* the file's columns are unknown to SQLMesh until DuckDB reads it; @trials_source() checks every file's header first, with an error naming the file */
    nomissingaudits /* empty is valid (no trials input); every row is accounted for by trial_rows_accounted_for on staging.trials */
  )
);

SELECT
  organization_id, /* the trialist organization */
  trial_start, /* start of the organization's trial */
  trial_end, /* end of the organization's trial */
  converted, /* whether the organization became a paying customer (True/TRUE/true/...) */
  converted_at, /* when it converted; empty when it did not */
  filename AS source_file /* the file the row was read from */
FROM @trials_source()