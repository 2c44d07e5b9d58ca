AUDIT (
  name goal_conversion_counts_add_up
);

/* A 2x2 table that does not add up: completed + not completed must be the population, the converted
   part of a group at most the group, and the honest population at most every organization. */
SELECT
  goal_id,
  population
FROM @this_model AS c
WHERE
  completed + not_completed <> organizations
  OR completed_converted > completed
  OR not_completed_converted > not_completed
  OR organizations > (
    SELECT
      MAX(a.organizations)
    FROM @this_model AS a
    WHERE
      a.goal_id = c.goal_id AND a.population = 'all'
  )
