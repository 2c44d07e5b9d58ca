/* The held-out split by cohort: one row per organization whose outcome is final (conversion window closed). Ordered by trial_start,
   the latest holdout_fraction (config.yaml) of them are the holdout; the rest, the search part, is where
   thresholds are derived and candidates chosen, and the holdout is where they are checked with those
   thresholds held fixed: would the goal have held on the next trials? Organizations with the same
   trial_start stay on one side; a tie at the cut goes to the search part. */
MODEL (
  name intermediate.cohort_split,
  kind FULL,
  grain organization_id,
  audits (
    not_null(columns := (organization_id, is_holdout)),
    unique_values(columns := (
      organization_id
    ))
  )
);

WITH ranked AS (
  SELECT
    organization_id,
    trial_start,
    RANK() OVER (ORDER BY trial_start) - 1 AS earlier_organizations,
    COUNT(*) OVER () AS organizations
  FROM intermediate.trial_organizations
  WHERE
    is_outcome_final
)
SELECT
  organization_id, /* the trialist organization (outcome known) */
  trial_start, /* start of its trial: the order of the split */
  earlier_organizations >= organizations - FLOOR(@holdout_fraction * organizations) AS is_holdout /* among the latest holdout_fraction of trial starts: held out of the search */
FROM ranked