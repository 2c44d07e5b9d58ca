AUDIT (
  name every_organization_in_marts
);

/* Every organization of intermediate.trial_organizations appears in both marts, and the marts hold no
   other organization. Returns the organizations missing from, or unknown to, either mart. */
WITH staged AS (
  SELECT
    organization_id
  FROM intermediate.trial_organizations
), activation AS (
  SELECT
    organization_id
  FROM marts.trial_activation
), goals AS (
  SELECT DISTINCT
    organization_id
  FROM marts.trial_goals
)
SELECT
  COALESCE(s.organization_id, a.organization_id, g.organization_id) AS organization_id,
  NOT s.organization_id IS NULL AS is_staged,
  NOT a.organization_id IS NULL AS is_in_trial_activation,
  NOT g.organization_id IS NULL AS is_in_trial_goals
FROM staged AS s
FULL JOIN activation AS a
  ON s.organization_id = a.organization_id
FULL JOIN goals AS g
  ON COALESCE(s.organization_id, a.organization_id) = g.organization_id
WHERE
  s.organization_id IS NULL
  OR a.organization_id IS NULL
  OR g.organization_id IS NULL