/* The rows of the environment's build, for the report's provenance: one row with the valid
   (deduplicated) events staged and the raw rows the quarantine sets aside. A view, so the counts are
   taken when the report reads them, not by every daily run: counting the quarantine types every raw
   row of the input again, the only part of a daily run that would read every raw row
   (benchmarks/README.md). */
MODEL (
  name marts.report_rows,
  kind VIEW,
  ignored_rules (
    nomissingaudits /* two COUNT(*)s, never NULL, one row; an audit would run the counts on every plan and run, which is what the view avoids (tests/test_report_rows.yaml tests them) */
  )
);

SELECT
  (
    SELECT
      COUNT(*)
    FROM staging.trial_events
  ) AS valid_events, /* valid, deduplicated events of the build */
  (
    SELECT
      COUNT(*)
    FROM staging.trial_events_quarantine
  ) AS quarantined_rows /* raw rows set aside by the build, one reason each */