AUDIT (
  name trial_rows_accounted_for
);

/* Nothing of the trials input is lost: its raw rows equal the staged rows, plus the exact duplicates
   folded into them, plus the rows set aside with a reason (staging.trials_quarantine). Attached to
   staging.trials, rebuilt in full by every plan and run, so every row is checked every time. Fails
   with one row giving the three counts. */
WITH counts AS (
  SELECT
    (
      SELECT
        COUNT(*)
      FROM staging.trials_typed /* one row per raw row (an audit reads its model's parents) */
    ) AS raw_rows,
    (
      SELECT
        COALESCE(SUM(raw_row_count), 0)
      FROM @this_model
    ) AS staged_rows_with_duplicates,
    (
      SELECT
        COUNT(quarantine_reason)
      FROM staging.trials_typed
    ) AS quarantined_rows
)
SELECT
  raw_rows,
  staged_rows_with_duplicates,
  quarantined_rows
FROM counts
WHERE
  raw_rows <> staged_rows_with_duplicates + quarantined_rows