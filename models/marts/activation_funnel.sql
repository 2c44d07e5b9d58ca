/* The activation funnel: one row per section and step. Section 'funnel': organizations that
   completed goal 1, goals 1-2, ..., all goals, in the seed's goal_order (step = number of goals;
   the last step is activation). Section 'goals_completed': organizations by how many goals they
   completed, 0..n, whatever the order. Each row with its share of all organizations and its
   conversions; the conversion rate counts organizations whose outcome is known, the pending ones are
   counted apart. */
MODEL (
  name marts.activation_funnel,
  kind FULL,
  grain (section, step),
  audits (
    not_null(
      columns := (section, step, step_name, organizations, share_of_organizations, converted)
    ),
    unique_combination_of_columns(columns := (section, step)),
    accepted_values("column" := section, is_in := ('funnel', 'goals_completed')),
    accepted_range("column" := share_of_organizations, min_v := 0, max_v := 1),
    funnel_ties_out
  )
);

WITH goals AS (
  SELECT
    goal_id,
    goal_name,
    ROW_NUMBER() OVER (ORDER BY goal_order) AS step
  FROM staging.activation_goals
), leading_goals AS (
  /* How many goals, in goal order, each organization completed before its first missing one. */
  SELECT
    t.organization_id,
    COALESCE(MIN(g.step) FILTER(WHERE
      NOT t.is_completed) - 1, MAX(g.step)) AS leading_goals_completed
  FROM marts.trial_goals AS t
  INNER JOIN goals AS g
    ON t.goal_id = g.goal_id
  GROUP BY
    t.organization_id
), organizations AS (
  SELECT
    a.organization_id,
    a.converted,
    a.is_outcome_final AS is_outcome_known,
    a.goals_completed,
    COALESCE(l.leading_goals_completed, 0) AS leading_goals_completed
  FROM marts.trial_activation AS a
  LEFT JOIN leading_goals AS l
    ON a.organization_id = l.organization_id
), buckets AS (
  SELECT
    0 AS step
  UNION ALL
  SELECT
    step
  FROM goals
), steps AS (
  SELECT
    'funnel' AS section,
    g.step,
    g.goal_id,
    CASE WHEN g.step = 1 THEN g.goal_name ELSE '+ ' || g.goal_name END AS step_name,
    COUNT(o.organization_id) AS organizations,
    COUNT(o.organization_id) FILTER(WHERE
      o.converted) AS converted,
    COUNT(o.organization_id) FILTER(WHERE
      NOT o.is_outcome_known) AS pending_outcomes
  FROM goals AS g
  LEFT JOIN organizations AS o
    ON o.leading_goals_completed >= g.step
  GROUP BY
    g.step,
    g.goal_id,
    g.goal_name
  UNION ALL
  SELECT
    'goals_completed' AS section,
    b.step,
    NULL AS goal_id,
    b.step::TEXT || CASE WHEN b.step = 1 THEN ' goal completed' ELSE ' goals completed' END AS step_name,
    COUNT(o.organization_id) AS organizations,
    COUNT(o.organization_id) FILTER(WHERE
      o.converted) AS converted,
    COUNT(o.organization_id) FILTER(WHERE
      NOT o.is_outcome_known) AS pending_outcomes
  FROM buckets AS b
  LEFT JOIN organizations AS o
    ON o.goals_completed = b.step
  GROUP BY
    b.step
)
SELECT
  s.section, /* funnel (cumulative goals in goal_order) or goals_completed (distribution of goals_completed) */
  s.step::INT AS step, /* funnel: number of goals in the step, 1..n; goals_completed: goals completed, 0..n */
  s.goal_id::TEXT AS goal_id, /* funnel: the goal added at this step; NULL for goals_completed rows */
  s.step_name, /* human label, e.g. 'Week 1 activity', '+ Week 2 activity', '2 goals completed' */
  s.organizations, /* organizations in the step */
  s.organizations::DOUBLE / (
    SELECT
      COUNT(*)
    FROM marts.trial_activation
  ) AS share_of_organizations, /* organizations / all organizations (0-1) */
  s.converted, /* of which converted */
  s.pending_outcomes, /* of which the outcome is not known yet: left out of the conversion rate */
  s.converted::DOUBLE / NULLIF(s.organizations - s.pending_outcomes, 0) AS conversion_rate /* converted / organizations with a known outcome (0-1); NULL when none */
FROM steps AS s