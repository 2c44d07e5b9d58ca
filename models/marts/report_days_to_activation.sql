/* How long activation took: one row per whole number of days from trial start to activation, with
   the activated organizations that took that long (only days that occur). */
MODEL (
  name marts.report_days_to_activation,
  kind FULL,
  grain (
    days_to_activation
  ),
  audits (
    not_null(columns := (days_to_activation, organizations)),
    unique_values(columns := (
      days_to_activation
    )),
    accepted_range("column" := days_to_activation, min_v := 0)
  )
);

SELECT
  days_to_activation, /* whole days from trial_start to activated_at */
  COUNT(*) AS organizations /* activated organizations that took that long */
FROM marts.trial_activation
WHERE
  is_activated
GROUP BY
  days_to_activation