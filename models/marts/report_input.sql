/* Where the environment's events come from: one row per input source with its raw rows. On the
   DuckDB gateway each file raw.trial_events reads (the file names the reader itself records); on
   the warehouse gateways the warehouse table. A view, so the count is of the input now: if the file
   changed since the build, this says so. */
MODEL (
  name marts.report_input,
  kind VIEW,
  grain (
    input_source
  ),
  audits (
    not_null(columns := (input_source, raw_rows)),
    unique_values(columns := (
      input_source
    ))
  )
);

SELECT
  @IF(@gateway = 'local', source_file, 'warehouse table raw.trial_events') AS input_source, /* the file read, or the warehouse table */
  COUNT(*) AS raw_rows /* rows it holds, header excluded */
FROM raw.trial_events
GROUP BY
  1