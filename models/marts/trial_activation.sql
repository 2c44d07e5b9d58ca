/* Trial Activation: which trialists completed every trial goal, and when. One row per
   organization, for every organization in intermediate.trial_organizations. An organization is
   activated when it completed all goals; activated_at is when its last goal was completed.
   activation_score averages completion_pct in exact decimal arithmetic, to 6 decimals (a millionth
   of a percent): an AVG of doubles depends on the order the engine happens to sum them in, and the
   same input must give the same mart, bit for bit. Judged at as_of: activation_status is activated
   (every goal completed), not_activated (some goal missed) or in_progress (none missed, some still open
   or awaiting a threshold); trial_status and outcome_status come from intermediate.trial_organizations. */
MODEL (
  name marts.trial_activation,
  kind FULL,
  grain (
    organization_id
  ),
  audits (
    not_null(
      columns := (
        organization_id,
        trial_start,
        trial_end,
        converted,
        goals_total,
        goals_completed,
        is_activated,
        activation_score,
        activation_status,
        trial_status,
        outcome_status,
        as_of
      )
    ),
    unique_values(columns := (
      organization_id
    )),
    accepted_range("column" := activation_score, min_v := 0, max_v := 100),
    accepted_values(
      "column" := activation_status,
      is_in := ('activated', 'not_activated', 'in_progress')
    ),
    accepted_range("column" := goals_completed, min_v := 0),
    activated_iff_every_goal_completed,
    every_organization_in_marts
  )
);

WITH goal_summary AS (
  SELECT
    organization_id,
    COUNT(*) AS goals_total,
    COUNT(*) FILTER(WHERE
      is_completed) AS goals_completed,
    COUNT(*) FILTER(WHERE
      goal_status = 'missed') AS goals_missed,
    MAX(completed_at) AS last_completed_at,
    ROUND(AVG(completion_pct::DECIMAL(18, 6)), 6)::DOUBLE AS activation_score
  FROM marts.trial_goals
  GROUP BY
    organization_id
), activation AS (
  SELECT
    o.organization_id,
    o.trial_start,
    o.trial_end,
    o.converted,
    o.converted_at,
    o.conversion_timing,
    o.has_conflicting_attributes,
    COALESCE(g.goals_total, 0) AS goals_total,
    COALESCE(g.goals_completed, 0) AS goals_completed,
    COALESCE(g.goals_missed, 0) AS goals_missed,
    o.trial_status,
    o.outcome_status,
    o.is_outcome_final,
    o.as_of,
    COALESCE(g.goals_total = g.goals_completed, FALSE) AS is_activated,
    g.last_completed_at,
    COALESCE(g.activation_score, 0) AS activation_score
  FROM intermediate.trial_organizations AS o
  LEFT JOIN goal_summary AS g
    ON o.organization_id = g.organization_id
)
SELECT
  organization_id, /* the trialist organization */
  trial_start, /* start of the trial */
  trial_end, /* end of the trial */
  converted, /* whether the organization became a paying customer */
  converted_at, /* when it converted; NULL when it did not */
  conversion_timing, /* not_converted, before_trial, during_trial or after_trial */
  has_conflicting_attributes, /* the raw rows disagreed on trial or conversion columns (see intermediate.trial_organizations) */
  goals_total, /* goals evaluated for the organization (every goal in the seed) */
  goals_completed, /* goals completed */
  is_activated, /* completed every goal: trial activation */
  CASE
    WHEN is_activated
    THEN 'activated'
    WHEN goals_missed > 0
    THEN 'not_activated'
    ELSE 'in_progress'
  END AS activation_status, /* activated (every goal completed), not_activated (some goal missed) or in_progress (none missed, some open) */
  goals_missed, /* goals whose window closed without them */
  trial_status, /* in_trial while as_of < trial_end, else ended */
  outcome_status, /* converted; not_converted once conversion_window_days have passed since trial_end; else pending */
  is_outcome_final, /* the conversion window has closed (converted or not): the organizations statistics count */
  as_of, /* the moment the data describes (intermediate.as_of) */
  CASE WHEN is_activated THEN last_completed_at END AS activated_at, /* when the last goal was completed; NULL when not activated */
  CASE WHEN is_activated THEN @trial_day(trial_start, last_completed_at) END AS days_to_activation, /* whole days from trial_start to activated_at; NULL when not activated */
  activation_score /* mean completion_pct over the goals, 0-100, to 6 decimals (exact: the same input always gives the same score) */
FROM activation