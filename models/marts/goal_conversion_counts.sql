/* The 2x2 table of each goal: one row per goal_id and population. Organizations that completed
   the goal or not, and how many of each converted; statistics come in marts.goal_conversion.
   goal_id 'activation' is all goals together (marts.trial_activation.is_activated). Populations:
   - all: every organization;
   - unconverted_at_window_end: organizations that had not converted when the goal's window ended
     (converted_at >= trial_start + window_end_day + 1 days, or never converted): a goal completed
     after the purchase cannot have led to it. For activation, the latest window end of the goals;
   - holdout: those of them among the latest trials (intermediate.cohort_split), each goal judged
     against the threshold derived on the earlier trials: does the goal hold on the next trials?
   Only organizations whose outcome is final count (is_outcome_final: the conversion window has closed,
   converted or not; counting early converters before their peers' non-conversions are known would
   inflate every rate); the others are counted apart in pending_organizations. */
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
    accepted_values("column" := population, is_in := ('all', 'unconverted_at_window_end', 'holdout')),
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
    is_completed,
    is_completed_on_search_threshold
  FROM intermediate.org_goal_metrics
  UNION ALL
  SELECT
    organization_id,
    'activation' AS goal_id,
    BOOL_AND(is_completed::BOOLEAN) AS is_completed, /* marts.trial_activation.is_activated */
    BOOL_AND(is_completed_on_search_threshold::BOOLEAN) AS is_completed_on_search_threshold
  FROM intermediate.org_goal_metrics
  GROUP BY
    organization_id
), organizations AS (
  SELECT
    o.goal_id,
    o.is_completed,
    o.is_completed_on_search_threshold,
    a.converted,
    a.is_outcome_final AS is_outcome_known,
    COALESCE(c.is_holdout, FALSE) AS is_holdout,
    NOT a.converted
    OR a.converted_at >= a.trial_start + (
      g.window_end_day + 1
    ) * INTERVAL '1' DAY AS is_unconverted_at_window_end
  FROM outcomes AS o
  INNER JOIN marts.trial_activation AS a
    ON o.organization_id = a.organization_id
  INNER JOIN goals AS g
    ON o.goal_id = g.goal_id
  LEFT JOIN intermediate.cohort_split AS c
    ON o.organization_id = c.organization_id
), populations AS (
  SELECT
    'all' AS population
  UNION ALL
  SELECT
    'unconverted_at_window_end' AS population
  UNION ALL
  SELECT
    'holdout' AS population
), members AS (
  /* each population's organizations, and whether each completed the goal there: on the holdout,
     against the threshold derived on the search part (the goal as it would have been set without them) */
  SELECT
    g.goal_id,
    p.population,
    o.goal_id AS member_goal_id,
    CASE
      WHEN p.population = 'holdout'
      THEN o.is_completed_on_search_threshold
      ELSE o.is_completed
    END AS is_completed,
    o.converted,
    o.is_outcome_known
  FROM goals AS g
  CROSS JOIN populations AS p
  LEFT JOIN organizations AS o
    ON g.goal_id = o.goal_id
    AND (
      p.population = 'all'
      OR (
        o.is_unconverted_at_window_end
        AND (
          p.population = 'unconverted_at_window_end' OR o.is_holdout
        )
      )
    )
)
SELECT
  g.goal_id, /* goal key from seeds/activation_goals.csv, or 'activation' for all goals */
  g.goal_name, /* goal name; 'Activation (all goals)' for activation */
  g.goal_order, /* the goal's goal_order; activation comes last */
  m.population, /* all; unconverted_at_window_end (not converted before the goal's window ended); holdout (those of the latest trials, intermediate.cohort_split, judged against the search part's thresholds) */
  COUNT(m.member_goal_id) FILTER(WHERE
    m.is_outcome_known) AS organizations, /* organizations in the population whose outcome is known */
  COUNT(m.member_goal_id) FILTER(WHERE
    m.is_outcome_known AND m.is_completed) AS completed, /* of which completed the goal */
  COUNT(m.member_goal_id) FILTER(WHERE
    m.is_outcome_known AND m.is_completed AND m.converted) AS completed_converted, /* of which completed it and converted */
  COUNT(m.member_goal_id) FILTER(WHERE
    m.is_outcome_known AND NOT m.is_completed) AS not_completed, /* of which did not complete it */
  COUNT(m.member_goal_id) FILTER(WHERE
    m.is_outcome_known AND NOT m.is_completed AND m.converted) AS not_completed_converted, /* of which did not complete it but converted */
  COUNT(m.member_goal_id) FILTER(WHERE
    NOT m.is_outcome_known) AS pending_organizations /* organizations of the population whose outcome is not known yet: left out of the table */
FROM goals AS g
INNER JOIN members AS m
  ON g.goal_id = m.goal_id
GROUP BY
  g.goal_id,
  g.goal_name,
  g.goal_order,
  m.population