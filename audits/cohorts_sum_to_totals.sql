AUDIT (
  name cohorts_sum_to_totals
);

/* The weekly cohorts must add up to marts.trial_activation: organizations, activated and converted.
   Returns a row when they do not. */
WITH cohorts AS (
  SELECT
    COALESCE(SUM(organizations), 0) AS organizations, /* 0, not NULL, when no cohort: NULL would compare as passing */
    COALESCE(SUM(activated), 0) AS activated,
    COALESCE(SUM(converted), 0) AS converted
  FROM @this_model
), totals AS (
  SELECT
    COUNT(*) AS organizations,
    COUNT(*) FILTER(WHERE
      is_activated) AS activated,
    COUNT(*) FILTER(WHERE
      converted) AS converted
  FROM marts.trial_activation
)
SELECT
  c.organizations,
  t.organizations AS expected_organizations
FROM cohorts AS c
CROSS JOIN totals AS t
WHERE
  c.organizations <> t.organizations
  OR c.activated <> t.activated
  OR c.converted <> t.converted