/* The 2x2 table of each goal: one row per goal_id and population. Organizations that completed
   the goal or not, and how many of each converted; statistics come in marts.goal_conversion.
   goal_id 'activation' is all goals together (marts.trial_activation.is_activated). Populations:
   - all: every organization;
   - unconverted_at_window_end: organizations that had not converted when the goal's window ended
     (converted_at >= trial_start + window_end_day + 1 days, or never converted): a goal completed
     after the purchase cannot have led to it. For activation, the latest window end of the goals.
   Only organizations whose outcome is known count (outcome_status converted or not_converted): one still
   pending is neither a buyer nor a non-buyer yet, and is counted apart in pending_organizations. */
MODEL (
  name marts.goal_conversion_counts,
  kind FULL,
  grain (goal_id, population),
  audits (
    not_null(
      columns := (
        goal_id,
        goal_name,
        goal_order,
        population,
        organizations,
        completed,
        completed_converted,
        not_completed,
        not_completed_converted,
        pending_organizations
      )
    ),
    unique_combination_of_columns(columns := (goal_id, population)),
    accepted_values("column" := population, is_in := ('all', 'unconverted_at_window_end')),
    two_by_two_adds_up
  )
);

WITH goals AS (
  SELECT
    goal_id,
    goal_name,
    goal_order,
    window_end_day
  FROM staging.activation_goals
  UNION ALL
  SELECT
    'activation' AS goal_id,
    'Activation (all goals)' AS goal_name,
    MAX(goal_order) + 1 AS goal_order,
    MAX(window_end_day) AS window_end_day
  FROM staging.activation_goals
), outcomes AS (
  SELECT
    organization_id,
    goal_id,
    is_completed
  FROM marts.trial_goals
  UNION ALL
  SELECT
    organization_id,
    'activation' AS goal_id,
    is_activated AS is_completed
  FROM marts.trial_activation
), organizations AS (
  SELECT
    o.goal_id,
    o.is_completed,
    a.converted,
    a.outcome_status <> 'pending' AS is_outcome_known,
    NOT a.converted
    OR a.converted_at >= a.trial_start + (
      g.window_end_day + 1
    ) * INTERVAL '1' DAY AS is_unconverted_at_window_end
  FROM outcomes AS o
  INNER JOIN marts.trial_activation AS a
    ON o.organization_id = a.organization_id
  INNER JOIN goals AS g
    ON o.goal_id = g.goal_id
), populations AS (
  SELECT
    'all' AS population
  UNION ALL
  SELECT
    'unconverted_at_window_end' AS population
)
SELECT
  g.goal_id, /* goal key from seeds/activation_goals.csv, or 'activation' for all goals */
  g.goal_name, /* goal name; 'Activation (all goals)' for activation */
  g.goal_order, /* the goal's goal_order; activation comes last */
  p.population, /* all, or unconverted_at_window_end (not converted before the goal's window ended) */
  COUNT(o.goal_id) FILTER(WHERE
    o.is_outcome_known) AS organizations, /* organizations in the population whose outcome is known */
  COUNT(o.goal_id) FILTER(WHERE
    o.is_outcome_known AND o.is_completed) AS completed, /* of which completed the goal */
  COUNT(o.goal_id) FILTER(WHERE
    o.is_outcome_known AND o.is_completed AND o.converted) AS completed_converted, /* of which completed it and converted */
  COUNT(o.goal_id) FILTER(WHERE
    o.is_outcome_known AND NOT o.is_completed) AS not_completed, /* of which did not complete it */
  COUNT(o.goal_id) FILTER(WHERE
    o.is_outcome_known AND NOT o.is_completed AND o.converted) AS not_completed_converted, /* of which did not complete it but converted */
  COUNT(o.goal_id) FILTER(WHERE
    NOT o.is_outcome_known) AS pending_organizations /* organizations of the population whose outcome is not known yet: left out of the table */
FROM goals AS g
CROSS JOIN populations AS p
LEFT JOIN organizations AS o
  ON g.goal_id = o.goal_id
  AND (
    p.population = 'all' OR o.is_unconverted_at_window_end
  )
GROUP BY
  g.goal_id,
  g.goal_name,
  g.goal_order,
  p.population