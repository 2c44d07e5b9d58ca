AUDIT (
  name activated_iff_every_goal_completed
);

/* is_activated is true exactly when every goal of the organization is completed in marts.trial_goals,
   and activated_at is the last goal's completed_at. Returns the organizations where that is not so. */
WITH goals AS (
  SELECT
    organization_id,
    BOOL_AND(is_completed::BOOLEAN) AS every_goal_completed,
    MAX(completed_at) AS last_completed_at
  FROM marts.trial_goals
  GROUP BY
    organization_id
)
SELECT
  a.organization_id,
  a.is_activated,
  g.every_goal_completed
FROM @this_model AS a
LEFT JOIN goals AS g
  ON a.organization_id = g.organization_id
WHERE
  a.is_activated <> COALESCE(g.every_goal_completed, FALSE)
  OR (
    a.is_activated AND a.activated_at IS DISTINCT FROM g.last_completed_at
  )