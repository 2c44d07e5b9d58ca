AUDIT (
  name funnel_ties_out
);

/* The funnel must tie out to the marts: its first step is the organizations that completed the first
   goal, its last step the activated organizations, and the goals_completed rows sum to every
   organization. Returns the steps that do not. */
WITH first_goal AS (
  SELECT
    COUNT(*) FILTER(WHERE
      t.is_completed) AS organizations
  FROM marts.trial_goals AS t
  WHERE
    t.goal_id = (
      SELECT
        goal_id
      FROM staging.activation_goals
      ORDER BY
        goal_order
      LIMIT 1
    )
), totals AS (
  SELECT
    COUNT(*) AS organizations,
    COUNT(*) FILTER(WHERE
      is_activated) AS activated
  FROM marts.trial_activation
)
SELECT
  f.section,
  f.step,
  f.organizations
FROM @this_model AS f
WHERE
  (
    f.section = 'funnel'
    AND f.step = 1
    AND f.organizations <> (
      SELECT
        organizations
      FROM first_goal
    )
  )
  OR (
    f.section = 'funnel'
    AND f.step = (
      SELECT
        MAX(step)
      FROM @this_model
      WHERE
        section = 'funnel'
    )
    AND f.organizations <> (
      SELECT
        activated
      FROM totals
    )
  )
  OR (
    f.section = 'goals_completed'
    AND f.step = 0
    AND (
      SELECT
        SUM(organizations)
      FROM @this_model
      WHERE
        section = 'goals_completed'
    ) <> (
      SELECT
        organizations
      FROM totals
    )
  )