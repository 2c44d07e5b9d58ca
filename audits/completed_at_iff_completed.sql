AUDIT (
  name completed_at_iff_completed
);

/* A completed goal has the time it was completed, inside the trial; an open goal has none. */
SELECT
  g.organization_id,
  g.goal_id,
  g.is_completed,
  g.completed_at
FROM @this_model AS g
INNER JOIN intermediate.trial_organizations AS o
  ON g.organization_id = o.organization_id
WHERE
  (
    g.is_completed AND g.completed_at IS NULL
  )
  OR (
    NOT g.is_completed AND NOT g.completed_at IS NULL
  )
  OR NOT g.completed_at BETWEEN o.trial_start AND o.trial_end